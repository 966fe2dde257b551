/**
 * The Python type each config.json field is declared with, per model_type the studio writes.
 * transformers 5 checks config fields against these declarations (huggingface_hub's strict
 * dataclasses: `StrictDataclassFieldValidationError: Field 'router_jitter_noise' expected float,
 * got int`), and JSON cannot tell `0` from `0.0`, so the writer needs the table to put each
 * number in the right shape (stringifyHfConfig).
 *
 * Follows the config classes of transformers 5.x (configuration_llama.py, _mistral, _qwen2,
 * _mixtral, _qwen2_moe, _qwen3_moe; the signatures as of v5.0–5.18). `deepseek` is not a
 * transformers class: it is deepseek-ai/deepseek-moe-16b-base's remote-code DeepseekConfig
 * (auto_map), which transformers does not validate strictly; its table follows that file so the
 * written types are right anyway. Fields absent from a table are written as plain JSON.
 */

/** A declared field type: `int?` is `int | None` (null kept), `int[]` a list of ints, `int|int[]` eos_token_id's union. */
export type HfFieldType = 'float' | 'int' | 'int?' | 'int[]' | 'int|int[]?' | 'bool';

export type HfWrittenModelType = 'llama' | 'mistral' | 'qwen2' | 'mixtral' | 'qwen2_moe' | 'qwen3_moe' | 'deepseek';

type FieldTypes = Readonly<Record<string, HfFieldType>>;

/** PretrainedConfig's own fields (every class inherits them). */
const PRETRAINED: FieldTypes = {
  pad_token_id: 'int?',
  bos_token_id: 'int?',
  eos_token_id: 'int|int[]?',
  tie_word_embeddings: 'bool',
  output_hidden_states: 'bool',
  output_attentions: 'bool',
  return_dict: 'bool',
  is_encoder_decoder: 'bool',
};

/** The decoder-only fields LlamaConfig and its descendants share. */
const DECODER: FieldTypes = {
  ...PRETRAINED,
  vocab_size: 'int',
  hidden_size: 'int',
  intermediate_size: 'int',
  num_hidden_layers: 'int',
  num_attention_heads: 'int',
  num_key_value_heads: 'int?',
  head_dim: 'int?',
  max_position_embeddings: 'int',
  initializer_range: 'float',
  rms_norm_eps: 'float',
  use_cache: 'bool',
  // v5 moves rope_theta into rope_parameters but still reads a top-level one (a float).
  rope_theta: 'float',
  attention_dropout: 'float',
};

const SLIDING: FieldTypes = { sliding_window: 'int?' };
const QWEN_SLIDING: FieldTypes = { use_sliding_window: 'bool', sliding_window: 'int?', max_window_layers: 'int' };
const ROUTER: FieldTypes = {
  num_experts_per_tok: 'int',
  output_router_logits: 'bool',
  router_aux_loss_coef: 'float',
};
const QWEN_MOE: FieldTypes = {
  ...ROUTER,
  num_experts: 'int',
  decoder_sparse_step: 'int',
  moe_intermediate_size: 'int',
  norm_topk_prob: 'bool',
  mlp_only_layers: 'int[]',
};

export const HF_CONFIG_FIELD_TYPES: Readonly<Record<HfWrittenModelType, FieldTypes>> = {
  llama: { ...DECODER, pretraining_tp: 'int', attention_bias: 'bool', mlp_bias: 'bool' },
  mistral: { ...DECODER, ...SLIDING },
  qwen2: { ...DECODER, ...QWEN_SLIDING },
  mixtral: { ...DECODER, ...SLIDING, ...ROUTER, num_local_experts: 'int', router_jitter_noise: 'float' },
  qwen2_moe: { ...DECODER, ...QWEN_SLIDING, ...QWEN_MOE, shared_expert_intermediate_size: 'int', qkv_bias: 'bool' },
  qwen3_moe: { ...DECODER, ...QWEN_SLIDING, ...QWEN_MOE, attention_bias: 'bool' },
  deepseek: {
    ...DECODER,
    pretraining_tp: 'int',
    attention_bias: 'bool',
    num_experts_per_tok: 'int?',
    n_routed_experts: 'int?',
    n_shared_experts: 'int?',
    moe_intermediate_size: 'int',
    moe_layer_freq: 'int',
    first_k_dense_replace: 'int',
    norm_topk_prob: 'bool',
    aux_loss_alpha: 'float',
    seq_aux: 'bool',
  },
};

/** Float keys inside `rope_scaling` / `rope_parameters` (transformers' RopeParameters), for every model_type. */
export const HF_ROPE_FLOAT_FIELDS: readonly string[] = [
  'rope_theta',
  'factor',
  'low_freq_factor',
  'high_freq_factor',
  'beta_fast',
  'beta_slow',
  'mscale',
  'mscale_all_dim',
  'attention_factor',
  'partial_rotary_factor',
];

export function isHfWrittenModelType(modelType: unknown): modelType is HfWrittenModelType {
  return typeof modelType === 'string' && Object.hasOwn(HF_CONFIG_FIELD_TYPES, modelType);
}

/** The transformers release the table follows, written as `transformers_version` in generation_config.json. */
export const HF_CONFIG_TABLE_TRANSFORMERS_VERSION = '5.0.0';
