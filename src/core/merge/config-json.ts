/**
 * Output config.json per architecture (specs/mergekit-moe.md §6.2-6.5), and the
 * compatibility checks mergekit lacks (an extension, §3 "What is not validated").
 */
import type { ConfigIssue, MoeMergeConfig } from '../formats/mergekit-yaml.ts';
import type { OutputArchName } from './architecture.ts';

export type HfConfig = Record<string, unknown>;

/** Mixtral keys transformers 4.x' MixtralConfig has by default (written by save_pretrained). */
const MIXTRAL_DEFAULTS = { output_router_logits: false, router_aux_loss_coef: 0.001, router_jitter_noise: 0.0 };

const DEEPSEEK_AUTO_MAP = {
  AutoConfig: 'deepseek-ai/deepseek-moe-16b-base--configuration_deepseek.DeepseekConfig',
  AutoModel: 'deepseek-ai/deepseek-moe-16b-base--modeling_deepseek.DeepseekModel',
  AutoModelForCausalLM: 'deepseek-ai/deepseek-moe-16b-base--modeling_deepseek.DeepseekForCausalLM',
};

/**
 * Keys transformers' config classes always write (`to_dict()` includes defaults), so an
 * output config never falls back to the *output* class's different default (Mixtral's
 * rope_theta is 1e6, Llama's 1e4). Per base model_type.
 */
const BASE_CONFIG_DEFAULTS: Record<string, HfConfig> = {
  llama: {
    hidden_act: 'silu',
    max_position_embeddings: 2048,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    tie_word_embeddings: false,
    initializer_range: 0.02,
  },
  mistral: {
    hidden_act: 'silu',
    max_position_embeddings: 4096 * 32,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    tie_word_embeddings: false,
    initializer_range: 0.02,
  },
  qwen2: {
    hidden_act: 'silu',
    max_position_embeddings: 32768,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    tie_word_embeddings: false,
    initializer_range: 0.02,
  },
  qwen3: {
    hidden_act: 'silu',
    max_position_embeddings: 32768,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    tie_word_embeddings: false,
    initializer_range: 0.02,
  },
};

function withDefaults(base: HfConfig): HfConfig {
  const modelType = String(base.model_type); // from the base's config.json: "constructor" is no model type
  const defaults = Object.hasOwn(BASE_CONFIG_DEFAULTS, modelType) ? BASE_CONFIG_DEFAULTS[modelType]! : {};
  const out: HfConfig = { ...defaults, ...base };
  if (out.num_key_value_heads === undefined) out.num_key_value_heads = out.num_attention_heads;
  return out;
}

/**
 * The output config.json. `torchDtype` is the selected output dtype name (e.g. "bfloat16"),
 * or null when neither the YAML nor the base says.
 */
export function outputConfigJson(
  arch: OutputArchName,
  baseConfig: HfConfig,
  config: MoeMergeConfig,
  torchDtype: string | null,
): HfConfig {
  const base = withDefaults(baseConfig);
  const experts = config.experts.length;
  const k = config.expertsPerToken;
  const shared = config.sharedExperts ?? [];
  const dtype = torchDtype === null ? {} : { torch_dtype: torchDtype };
  switch (arch) {
    case 'Mixtral': {
      // llama → MistralConfig(**base) (sliding_window None) → MixtralConfig(**that): every key carried.
      return {
        ...MIXTRAL_DEFAULTS,
        ...base,
        architectures: ['MixtralForCausalLM'],
        model_type: 'mixtral',
        num_local_experts: experts,
        num_experts_per_tok: k,
        sliding_window: null,
        torch_dtype: torchDtype,
      };
    }
    case 'DeepSeek MoE':
      return {
        ...base,
        ...dtype,
        architectures: ['DeepseekForCausalLM'],
        model_type: 'deepseek',
        n_routed_experts: experts,
        n_shared_experts: shared.length > 0 ? 1 : null,
        num_experts_per_tok: k,
        first_k_dense_replace: 0,
        moe_layer_freq: 1,
        scoring_func: 'softmax',
        norm_topk_prob: true,
        moe_intermediate_size: base.intermediate_size,
        auto_map: DEEPSEEK_AUTO_MAP,
      };
    case 'Qwen MoE':
      return {
        ...base,
        ...dtype,
        architectures: ['Qwen2MoeForCausalLM'],
        model_type: 'qwen2_moe',
        num_experts: experts,
        num_experts_per_tok: k,
        decoder_sparse_step: 1,
        norm_topk_prob: true,
        sliding_window: null,
        use_sliding_window: false,
        shared_expert_intermediate_size: base.intermediate_size,
        moe_intermediate_size: base.intermediate_size,
      };
    case 'Qwen3 MoE':
      return {
        ...base,
        ...dtype,
        architectures: ['Qwen3MoeForCausalLM'],
        model_type: 'qwen3_moe',
        num_experts: experts,
        num_experts_per_tok: k,
        decoder_sparse_step: 1,
        norm_topk_prob: true,
        moe_intermediate_size: base.intermediate_size,
      };
  }
}

/** Fields that must agree between the base and every expert for the output to load. */
export const COMPAT_FIELDS = [
  'hidden_size',
  'intermediate_size',
  'num_hidden_layers',
  'num_attention_heads',
  'num_key_value_heads',
  'head_dim',
  'vocab_size',
  'rope_theta',
  'rope_scaling',
] as const;

/** HF defaults for fields a config.json may omit (transformers' LlamaConfig). */
function fieldValue(cfg: HfConfig, field: (typeof COMPAT_FIELDS)[number]): unknown {
  const v = cfg[field];
  if (v !== undefined) return v;
  if (field === 'num_key_value_heads') return cfg.num_attention_heads;
  if (field === 'head_dim')
    return typeof cfg.hidden_size === 'number' && typeof cfg.num_attention_heads === 'number'
      ? cfg.hidden_size / cfg.num_attention_heads
      : undefined;
  if (field === 'rope_theta') return 10000;
  if (field === 'rope_scaling') return null;
  return undefined;
}

/**
 * Extension (not in mergekit): every model must match the base in the fields above; the
 * message names the model and the field. Runs before any tensor is read.
 */
export function compatibilityIssues(
  base: { label: string; config: HfConfig },
  others: { role: string; label: string; config: HfConfig }[],
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const field of COMPAT_FIELDS) {
    const want = JSON.stringify(fieldValue(base.config, field));
    for (const other of others) {
      const got = JSON.stringify(fieldValue(other.config, field));
      if (got !== want) {
        issues.push({
          field: other.role,
          message: `merge: ${other.role} '${other.label}' has ${field} = ${got}, but the base '${base.label}' has ${want} (compatibility check; an extension over mergekit, which does not check this)`,
          severity: 'error',
        });
      }
    }
  }
  return issues;
}
