/**
 * ModelSpec → HF config.json object: the inverse of parseHfConfig (hf-config.ts), so
 * parseHfConfig(hfConfigFromSpec(spec)) gives back `spec` (with ropeStyle 'half').
 *
 * Keys follow transformers' config classes and what mergekit-moe writes
 * (specs/mergekit-moe.md §6.2/§6.4): Mixtral gets `num_local_experts`, `num_experts_per_tok`,
 * `sliding_window` (null unless the spec attends within a window) and intermediate_size = the expert width (so a spec whose unused
 * dense width differs comes back with intermediate = expertIntermediate); Qwen2-MoE gets
 * `num_experts`, `moe_intermediate_size`, `shared_expert_intermediate_size`,
 * `norm_topk_prob`, `decoder_sparse_step: 1`.
 */
import { ConfigError } from '../errors.ts';
import type { DType } from '../tensor.ts';
import type { ArchName, ModelSpec } from './spec.ts';

/** `architectures[0]` per model_type, as transformers names the CausalLM classes. */
export const HF_ARCHITECTURE_CLASS = {
  llama: 'LlamaForCausalLM',
  mistral: 'MistralForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
  mixtral: 'MixtralForCausalLM',
  qwen2_moe: 'Qwen2MoeForCausalLM',
  qwen3_moe: 'Qwen3MoeForCausalLM',
} as const satisfies Record<ArchName, string>;

/** config.json `torch_dtype` names of the dtypes safetensors checkpoints hold. */
export const HF_TORCH_DTYPE: Partial<Record<DType, string>> = { f32: 'float32', f16: 'float16', bf16: 'bfloat16' };

function moeKeys(spec: ModelSpec): Record<string, unknown> {
  const moe = spec.moe;
  if (spec.arch === 'mixtral') {
    if (!moe) throw new ConfigError(`config.json: mixtral spec has no experts`);
    if (!moe.normTopK)
      throw new ConfigError(`config.json: mixtral always renormalizes the top-k weights; the spec has normTopK false`);
    if (moe.sharedExpert) throw new ConfigError(`config.json: mixtral has no shared expert`);
    // Mixtral's intermediate_size IS the expert width; the spec's dense width is unused there.
    return {
      intermediate_size: moe.expertIntermediate,
      num_local_experts: moe.experts,
      num_experts_per_tok: moe.expertsPerToken,
      sliding_window: spec.slidingWindow ?? null,
    };
  }
  if (spec.arch === 'qwen2_moe') {
    if (!moe?.sharedExpert?.gated) throw new ConfigError(`config.json: qwen2_moe needs a gated shared expert`);
    return {
      num_experts: moe.experts,
      num_experts_per_tok: moe.expertsPerToken,
      moe_intermediate_size: moe.expertIntermediate,
      shared_expert_intermediate_size: moe.sharedExpert.intermediate,
      norm_topk_prob: moe.normTopK,
      decoder_sparse_step: 1,
      mlp_only_layers: [],
      ...qwenWindowKeys(spec),
    };
  }
  if (spec.arch === 'qwen3_moe') {
    if (!moe || moe.sharedExpert)
      throw new ConfigError(`config.json: qwen3_moe has routed experts and no shared expert`);
    return {
      num_experts: moe.experts,
      num_experts_per_tok: moe.expertsPerToken,
      moe_intermediate_size: moe.expertIntermediate,
      norm_topk_prob: moe.normTopK,
      decoder_sparse_step: 1,
      mlp_only_layers: [],
      ...qwenWindowKeys(spec),
    };
  }
  if (moe) throw new ConfigError(`config.json: architecture '${spec.arch}' is dense but the spec has experts`);
  if (spec.arch === 'mistral') return { sliding_window: spec.slidingWindow ?? null };
  if (spec.arch === 'qwen2' || spec.arch === 'qwen3') return qwenWindowKeys(spec);
  return {};
}

/** Qwen's window keys (hf-config.ts readSlidingWindow reads them back): off, or on from max_window_layers. */
function qwenWindowKeys(spec: ModelSpec): Record<string, unknown> {
  if (spec.slidingWindow === undefined) return { use_sliding_window: false };
  return {
    use_sliding_window: true,
    sliding_window: spec.slidingWindow,
    max_window_layers: spec.slidingWindowFirstLayer ?? 0,
  };
}

/**
 * The config.json object for `spec`. `base` (e.g. the source model's config) supplies keys we
 * do not model; every key we do model is overwritten. `dtype` sets torch_dtype.
 */
export function hfConfigFromSpec(
  spec: ModelSpec,
  options: { base?: Record<string, unknown>; dtype?: DType } = {},
): Record<string, unknown> {
  const qkvBiasArch = spec.arch === 'qwen2' || spec.arch === 'qwen2_moe';
  const qkNormArch = spec.arch === 'qwen3' || spec.arch === 'qwen3_moe';
  if (!!spec.qkNorm !== qkNormArch)
    throw new ConfigError(
      `config.json: ${spec.arch} ${qkNormArch ? 'always has' : 'cannot have'} q/k norms (spec.qkNorm ${!!spec.qkNorm})`,
    );
  if (spec.qkvBias !== qkvBiasArch) {
    throw new ConfigError(
      `config.json: ${spec.arch} ${qkvBiasArch ? 'always has' : 'cannot have'} q/k/v biases (spec.qkvBias ${spec.qkvBias})`,
    );
  }
  const config: Record<string, unknown> = {
    ...(options.base ?? {}),
    architectures: [HF_ARCHITECTURE_CLASS[spec.arch]],
    model_type: spec.arch,
    hidden_size: spec.hidden,
    intermediate_size: spec.intermediate,
    num_hidden_layers: spec.layers,
    num_attention_heads: spec.heads,
    num_key_value_heads: spec.kvHeads,
    vocab_size: spec.vocab,
    max_position_embeddings: spec.contextLength,
    rope_theta: spec.ropeTheta,
    rms_norm_eps: spec.rmsEps,
    tie_word_embeddings: spec.tieEmbeddings,
    hidden_act: 'silu',
  };
  Object.assign(config, moeKeys(spec));
  delete config.rope_scaling;
  delete config.rope_parameters;
  const scaling = spec.ropeScaling;
  if (scaling?.type === 'llama3')
    config.rope_scaling = {
      rope_type: 'llama3',
      factor: scaling.factor,
      low_freq_factor: scaling.lowFreqFactor,
      high_freq_factor: scaling.highFreqFactor,
      original_max_position_embeddings: scaling.originalContext,
    };
  else if (scaling)
    throw new ConfigError(
      "config.json: this model's RoPE scaling came from a GGUF's rope_freqs.weight (one factor per pair), which config.json's rope_scaling cannot state; export it as GGUF instead",
    );
  if (spec.headDim * spec.heads !== spec.hidden) config.head_dim = spec.headDim;
  else delete config.head_dim;
  if (spec.bosTokenId !== undefined) config.bos_token_id = spec.bosTokenId;
  if (spec.eosTokenIds !== undefined && spec.eosTokenIds.length > 0) {
    config.eos_token_id = spec.eosTokenIds.length === 1 ? spec.eosTokenIds[0] : [...spec.eosTokenIds];
  }
  const torchDtype = options.dtype ? HF_TORCH_DTYPE[options.dtype] : undefined;
  if (torchDtype) config.torch_dtype = torchDtype;
  return config;
}
