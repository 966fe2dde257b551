/**
 * config.json text as transformers reads it. JSON has one number type, but transformers 5
 * validates config fields against their declared Python types (`StrictDataclassFieldValidation
 * Error: Field 'router_jitter_noise' expected float, got int (value: 0)`), and JSON.stringify
 * writes 0.0 as `0` and 10000.0 as `10000`. So the fields transformers declares as float are
 * written with a decimal point; integers stay integers, everything else is plain JSON.
 */

/**
 * Fields declared `float` by the config classes of the model_types the studio writes
 * (LlamaConfig, MistralConfig, Qwen2Config, MixtralConfig, Qwen2MoeConfig, Qwen3MoeConfig,
 * DeepseekV3Config), and the float keys of `rope_scaling` / `rope_parameters`.
 */
export const HF_FLOAT_FIELDS: ReadonlySet<string> = new Set([
  'rms_norm_eps',
  'layer_norm_eps',
  'rope_theta',
  'initializer_range',
  'attention_dropout',
  'hidden_dropout',
  'embd_pdrop',
  'resid_pdrop',
  'router_jitter_noise',
  'router_aux_loss_coef',
  'aux_loss_alpha',
  'routed_scaling_factor',
  'partial_rotary_factor',
  // rope_scaling / rope_parameters
  'factor',
  'low_freq_factor',
  'high_freq_factor',
  'beta_fast',
  'beta_slow',
  'mscale',
  'mscale_all_dim',
  'attention_factor',
]);

/** Marks an integral float so the stringified text can get its ".0" back. */
const FLOAT_MARK = '\u0001float:';

function markFloats(value: unknown, key: string | undefined): unknown {
  if (typeof value === 'number' && key !== undefined && HF_FLOAT_FIELDS.has(key) && Number.isInteger(value))
    return `${FLOAT_MARK}${value}`;
  if (Array.isArray(value)) return value.map((v) => markFloats(v, undefined));
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, markFloats(v, k)]));
  return value;
}

/** `JSON.stringify(config, null, 2)` + newline, with HF_FLOAT_FIELDS written as floats (`0.0`, `10000.0`). */
export function stringifyHfConfig(config: unknown): string {
  const text = JSON.stringify(markFloats(config, undefined), null, 2);
  return `${text.replace(/"\\u0001float:(-?\d+)"/g, '$1.0')}\n`;
}
