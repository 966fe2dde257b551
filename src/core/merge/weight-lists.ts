/**
 * mergekit's architecture weight lists (`_data/architectures/{mistral,llama,qwen2,qwen3}.json`)
 * as tables with a `{layer}` placeholder (STYLE habit 7), in their JSON order. Only what the
 * MoE writers read: the non-MLP weights they copy from the base, and the MLP names they
 * replace with experts.
 */
import type { OutputArchName } from './architecture.ts';

export interface WeightListEntry {
  /** Name pattern with `{layer}`. */
  name: string;
  /** lm_head is optional (absent with tied embeddings): skipped when the base lacks it. */
  optional?: boolean;
  /** Qwen MoE writes a zero bias when the base has none (llama/mistral bases). */
  zeroBias?: 'q' | 'k' | 'v';
}

export const PRE_LAYER_WEIGHTS: readonly WeightListEntry[] = [{ name: 'model.embed_tokens.weight' }];

/** llama.json / mistral.json layer weights before the MLP. */
const LLAMA_ATTENTION: readonly WeightListEntry[] = [
  { name: 'model.layers.{layer}.input_layernorm.weight' },
  { name: 'model.layers.{layer}.self_attn.q_proj.weight' },
  { name: 'model.layers.{layer}.self_attn.k_proj.weight' },
  { name: 'model.layers.{layer}.self_attn.v_proj.weight' },
  { name: 'model.layers.{layer}.self_attn.o_proj.weight' },
  { name: 'model.layers.{layer}.post_attention_layernorm.weight' },
];

/** qwen2.json: q/k/v carry biases. */
const QWEN2_ATTENTION: readonly WeightListEntry[] = [
  { name: 'model.layers.{layer}.input_layernorm.weight' },
  { name: 'model.layers.{layer}.self_attn.q_proj.weight' },
  { name: 'model.layers.{layer}.self_attn.q_proj.bias', zeroBias: 'q' },
  { name: 'model.layers.{layer}.self_attn.k_proj.weight' },
  { name: 'model.layers.{layer}.self_attn.k_proj.bias', zeroBias: 'k' },
  { name: 'model.layers.{layer}.self_attn.v_proj.weight' },
  { name: 'model.layers.{layer}.self_attn.v_proj.bias', zeroBias: 'v' },
  { name: 'model.layers.{layer}.self_attn.o_proj.weight' },
  { name: 'model.layers.{layer}.post_attention_layernorm.weight' },
];

/** qwen3.json: per-head q/k RMSNorm, no biases. */
const QWEN3_ATTENTION: readonly WeightListEntry[] = [
  { name: 'model.layers.{layer}.input_layernorm.weight' },
  { name: 'model.layers.{layer}.self_attn.q_proj.weight' },
  { name: 'model.layers.{layer}.self_attn.q_norm.weight' },
  { name: 'model.layers.{layer}.self_attn.k_proj.weight' },
  { name: 'model.layers.{layer}.self_attn.k_norm.weight' },
  { name: 'model.layers.{layer}.self_attn.v_proj.weight' },
  { name: 'model.layers.{layer}.self_attn.o_proj.weight' },
  { name: 'model.layers.{layer}.post_attention_layernorm.weight' },
];

export const POST_LAYER_WEIGHTS: readonly WeightListEntry[] = [
  { name: 'model.norm.weight' },
  { name: 'lm_head.weight', optional: true },
];

export type MlpProjection = 'gate_proj' | 'up_proj' | 'down_proj';
/** The JSON lists' MLP order: up, gate, down. */
export const MLP_ORDER: readonly MlpProjection[] = ['up_proj', 'gate_proj', 'down_proj'];

export function sourceMlpName(layer: number, proj: MlpProjection): string {
  return `model.layers.${layer}.mlp.${proj}.weight`;
}

/** Mixtral's legacy names: w1 = gate_proj, w2 = down_proj, w3 = up_proj. */
export const MIXTRAL_EXPERT_NAME = { gate_proj: 'w1', down_proj: 'w2', up_proj: 'w3' } as const satisfies Record<
  MlpProjection,
  string
>;

export function attentionWeightsFor(arch: OutputArchName): readonly WeightListEntry[] {
  switch (arch) {
    case 'Mixtral':
      return LLAMA_ATTENTION; // mistral.json, even for llama bases
    case 'DeepSeek MoE':
      return LLAMA_ATTENTION; // the base's own arch (llama.json / mistral.json)
    case 'Qwen MoE':
      return QWEN2_ATTENTION; // always qwen2.json, even for llama bases
    case 'Qwen3 MoE':
      return QWEN3_ATTENTION;
  }
}

export function expandLayer(pattern: string, layer: number): string {
  return pattern.replaceAll('{layer}', String(layer));
}
