/**
 * config.json text as transformers reads it. JSON has one number type, but transformers 5
 * validates config fields against their declared Python types (`StrictDataclassFieldValidation
 * Error: Field 'router_jitter_noise' expected float, got int (value: 0)`), and JSON.stringify
 * writes 0.0 as `0` and 10000.0 as `10000`. So each field declared in HF_CONFIG_FIELD_TYPES
 * for the config's model_type is written in its declared shape: floats with a decimal point,
 * integers without one (a donor's `4.0` parses to 4 and is written `4`; a 4.5 is refused), and
 * booleans as booleans; null is kept. Everything else is plain JSON.
 */
import { ConfigError } from '../errors.ts';
import {
  HF_CONFIG_FIELD_TYPES,
  HF_ROPE_FLOAT_FIELDS,
  type HfFieldType,
  isHfWrittenModelType,
} from './hf-config-types.ts';

/** Every field some written model_type declares float, plus the rope keys: the rule for other model_types. */
export const HF_FLOAT_FIELDS: ReadonlySet<string> = new Set([
  ...Object.values(HF_CONFIG_FIELD_TYPES).flatMap((fields) =>
    Object.entries(fields)
      .filter(([, type]) => type === 'float')
      .map(([key]) => key),
  ),
  ...HF_ROPE_FLOAT_FIELDS,
  'layer_norm_eps',
  'hidden_dropout',
  'embd_pdrop',
  'resid_pdrop',
  'routed_scaling_factor',
]);

/** Marks an integral float so the stringified text can get its ".0" back. */
const FLOAT_MARK = '\u0001float:';

const isInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v);

/** An integral float as a mark, unless JSON writes it in exponent form (1e+21), which Python already reads as a float. */
const floatMark = (value: number): string | number => (/e/.test(String(value)) ? value : `${FLOAT_MARK}${value}`);

function fits(type: Exclude<HfFieldType, 'float'>, value: unknown): boolean {
  switch (type) {
    case 'int':
    case 'int?':
      return isInt(value);
    case 'bool':
      return typeof value === 'boolean';
    case 'int[]':
      return Array.isArray(value) && value.every(isInt);
    case 'int|int[]?':
      return isInt(value) || (Array.isArray(value) && value.every(isInt));
  }
}

/** `value` in its declared shape (integral floats marked), or a ConfigError naming the field. */
function typedValue(key: string, value: unknown, type: HfFieldType, modelType: string): unknown {
  if (value === null) return null;
  const refuse = () =>
    new ConfigError(
      `config.json: field '${key}' is declared ${type} by transformers' ${modelType} config, got ${JSON.stringify(value)}`,
    );
  if (type === 'float') {
    if (typeof value !== 'number' || !Number.isFinite(value)) throw refuse();
    return Number.isInteger(value) ? floatMark(value) : value;
  }
  if (!fits(type, value)) throw refuse();
  return value;
}

/** Integral floats of a rope_scaling / rope_parameters object (or of any nested object under a float key). */
function markFloats(value: unknown, key: string | undefined): unknown {
  if (typeof value === 'number' && key !== undefined && HF_FLOAT_FIELDS.has(key) && Number.isInteger(value))
    return floatMark(value);
  if (Array.isArray(value)) return value.map((v) => markFloats(v, undefined));
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, markFloats(v, k)]));
  return value;
}

function typedConfig(config: unknown): unknown {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) return markFloats(config, undefined);
  const modelType = (config as { model_type?: unknown }).model_type;
  if (!isHfWrittenModelType(modelType)) return markFloats(config, undefined);
  const declared = HF_CONFIG_FIELD_TYPES[modelType];
  return Object.fromEntries(
    Object.entries(config).map(([key, value]) => {
      const type = Object.hasOwn(declared, key) ? declared[key] : undefined;
      return [key, type ? typedValue(key, value, type, modelType) : markFloats(value, key)];
    }),
  );
}

/**
 * `JSON.stringify(config, null, 2)` + newline, each declared field in its declared type
 * (floats as `0.0`, `10000.0`); throws ConfigError naming a field whose value cannot have it.
 */
export function stringifyHfConfig(config: unknown): string {
  const text = JSON.stringify(typedConfig(config), null, 2);
  return `${text.replace(/"\\u0001float:(-?\d+)"/g, '$1.0')}\n`;
}
