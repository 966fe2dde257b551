/**
 * HF `config.json` → ModelSpec, for llama, mistral, qwen2, qwen3 (dense) and mixtral, qwen2_moe,
 * qwen3_moe (MoE). qwen3 and qwen3_moe add a per-head q/k RMSNorm and no q/k/v bias; qwen3_moe
 * has routed experts only (`num_experts`, `moe_intermediate_size`, `num_experts_per_tok` 8,
 * `norm_topk_prob` false by default).
 *
 * Defaults follow transformers' config classes (4.x `configuration_<arch>.py`), so a config
 * that transformers accepts means the same thing here:
 *
 * | key                      | llama  | mistral | qwen2  | mixtral | qwen2_moe |
 * |--------------------------|--------|---------|--------|---------|-----------|
 * | rope_theta               | 1e4    | 1e4     | 1e4    | 1e6     | 1e4       |
 * | rms_norm_eps             | 1e-6   | 1e-6    | 1e-6   | 1e-5    | 1e-6      |
 * | max_position_embeddings  | 2048   | 131072  | 32768  | 131072  | 32768     |
 * | q/k/v bias               | no     | no      | yes    | no      | yes       |
 * | tie_word_embeddings      | false everywhere (transformers' PretrainedConfig default)   |
 * | num_key_value_heads      | = num_attention_heads when absent or null                   |
 * | head_dim                 | hidden_size / num_attention_heads when absent or null       |
 *
 * MoE keys: mixtral `num_local_experts` (required), `num_experts_per_tok` (2); qwen2_moe
 * `num_experts`, `moe_intermediate_size`, `shared_expert_intermediate_size` (required),
 * `num_experts_per_tok` (4), `norm_topk_prob` (false), `decoder_sparse_step` must be 1 and
 * `mlp_only_layers` empty (mixed dense/MoE stacks are not supported).
 *
 * Errors are ConfigErrors naming the file and the key: "config.json: missing required key
 * 'hidden_size'". Features that would silently change the maths (rope_scaling, o_proj or MLP
 * biases, a non-SiLU activation) are refused rather than ignored.
 */
import { ConfigError } from '../errors.ts';
import type { ArchName, ModelSpec, MoeSpec, RopeScaling } from './spec.ts';
import { checkSpecLimits } from './spec-limits.ts';

export const HF_ARCHS = [
  'llama',
  'mistral',
  'qwen2',
  'qwen3',
  'mixtral',
  'qwen2_moe',
  'qwen3_moe',
] as const satisfies readonly ArchName[];

/** Per-architecture defaults and facts (STYLE habit 7: a table, not branches). */
interface ArchDefaults {
  ropeTheta: number;
  rmsEps: number;
  contextLength: number;
  /** q/k/v projections always carry a bias (qwen2 family). */
  qkvBias: boolean;
  /** Sliding-window attention is on whenever `sliding_window` is a number (mistral family). */
  slidingWindowAlwaysOn: boolean;
  /** `sliding_window` when the key is absent (MistralConfig: 4096; others: none). */
  slidingWindow: number | null;
  /** Per-head q/k RMSNorm (qwen3 family). */
  qkNorm?: boolean;
}

/** Qwen3Config and Qwen3MoeConfig: no q/k/v bias (attention_bias false), q/k norm on every head. */
const QWEN3_DEFAULTS = {
  ropeTheta: 10_000,
  rmsEps: 1e-6,
  contextLength: 32_768,
  qkvBias: false,
  slidingWindowAlwaysOn: false,
  slidingWindow: null,
  qkNorm: true,
} as const satisfies ArchDefaults;

const ARCH_DEFAULTS = {
  llama: {
    ropeTheta: 10_000,
    rmsEps: 1e-6,
    contextLength: 2048,
    qkvBias: false,
    slidingWindowAlwaysOn: false,
    slidingWindow: null,
  },
  mistral: {
    ropeTheta: 10_000,
    rmsEps: 1e-6,
    contextLength: 4096 * 32,
    qkvBias: false,
    slidingWindowAlwaysOn: true,
    slidingWindow: 4096,
  },
  qwen2: {
    ropeTheta: 10_000,
    rmsEps: 1e-6,
    contextLength: 32_768,
    qkvBias: true,
    slidingWindowAlwaysOn: false,
    slidingWindow: null,
  },
  mixtral: {
    ropeTheta: 1e6,
    rmsEps: 1e-5,
    contextLength: 4096 * 32,
    qkvBias: false,
    slidingWindowAlwaysOn: true,
    slidingWindow: null,
  },
  qwen2_moe: {
    ropeTheta: 10_000,
    rmsEps: 1e-6,
    contextLength: 32_768,
    qkvBias: true,
    slidingWindowAlwaysOn: false,
    slidingWindow: null,
  },
  qwen3: QWEN3_DEFAULTS,
  qwen3_moe: QWEN3_DEFAULTS,
} as const satisfies Record<ArchName, ArchDefaults>;

/** A config value for a message: JSON, cut at 120 characters (a hostile value may be megabytes). */
function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}

/** Reads typed keys out of one JSON object, with errors that name the file and the key. */
class ConfigReader {
  constructor(
    private readonly obj: Record<string, unknown>,
    private readonly file: string,
  ) {}

  fail(message: string): never {
    throw new ConfigError(`${this.file}: ${message}`);
  }

  has(key: string): boolean {
    return this.obj[key] !== undefined && this.obj[key] !== null;
  }

  raw(key: string): unknown {
    return this.obj[key];
  }

  positiveInt(key: string, fallback?: number): number {
    const value = this.obj[key];
    if (value === undefined || value === null) {
      if (fallback === undefined) this.fail(`missing required key '${key}'`);
      return fallback;
    }
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
      this.fail(`key '${key}' must be a positive integer, got ${show(value)}`);
    }
    return value;
  }

  nonNegativeInt(key: string, fallback: number): number {
    const value = this.obj[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      this.fail(`key '${key}' must be a non-negative integer, got ${show(value)}`);
    }
    return value;
  }

  positiveNumber(key: string, fallback: number): number {
    const value = this.obj[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      this.fail(`key '${key}' must be a positive number, got ${show(value)}`);
    }
    return value;
  }

  bool(key: string, fallback: boolean): boolean {
    const value = this.obj[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'boolean') this.fail(`key '${key}' must be true or false, got ${show(value)}`);
    return value;
  }

  tokenIds(key: string): number[] | undefined {
    const value = this.obj[key];
    if (value === undefined || value === null) return undefined;
    const list = Array.isArray(value) ? value : [value];
    for (const id of list) {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
        this.fail(`key '${key}' must be a token id or a list of token ids, got ${show(value)}`);
      }
    }
    return list as number[];
  }
}

/** Parses an HF config.json object into a ModelSpec; throws ConfigError naming `file` and the key. */
export function parseHfConfig(json: unknown, file = 'config.json'): ModelSpec {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ConfigError(`${file}: expected a JSON object, got ${Array.isArray(json) ? 'an array' : typeof json}`);
  }
  const cfg = new ConfigReader(json as Record<string, unknown>, file);
  const arch = readArch(cfg);
  const defaults: ArchDefaults = ARCH_DEFAULTS[arch];
  rejectUnsupportedFeatures(cfg, arch);

  const hidden = cfg.positiveInt('hidden_size');
  const heads = cfg.positiveInt('num_attention_heads');
  const kvHeads = cfg.positiveInt('num_key_value_heads', heads);
  if (heads % kvHeads !== 0) {
    cfg.fail(`num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`);
  }
  const headDim = readHeadDim(cfg, hidden, heads);

  const contextLength = readContextLength(cfg, defaults);
  const spec: ModelSpec = {
    arch,
    hidden,
    intermediate: cfg.positiveInt('intermediate_size'),
    layers: cfg.positiveInt('num_hidden_layers'),
    heads,
    kvHeads,
    headDim,
    vocab: cfg.positiveInt('vocab_size'),
    contextLength,
    ...readSlidingWindow(cfg, defaults, cfg.positiveInt('num_hidden_layers'), contextLength),
    ropeTheta: readRopeTheta(cfg, defaults.ropeTheta),
    ...readRopeScaling(cfg),
    rmsEps: cfg.positiveNumber('rms_norm_eps', defaults.rmsEps),
    tieEmbeddings: cfg.bool('tie_word_embeddings', false),
    qkvBias: defaults.qkvBias,
    ...(defaults.qkNorm ? { qkNorm: true } : {}),
    ropeStyle: 'half',
  };
  const moe = readMoe(cfg, arch, spec.intermediate);
  if (moe) spec.moe = moe;
  const bos = cfg.tokenIds('bos_token_id');
  if (bos !== undefined && bos.length > 0) spec.bosTokenId = bos[0];
  const eos = cfg.tokenIds('eos_token_id');
  if (eos !== undefined) spec.eosTokenIds = eos;
  checkSpecLimits(spec, hfConfigKeys(arch), (message) => cfg.fail(message));
  return spec;
}

/** The config.json key behind each ModelSpec field, for checkSpecLimits' messages. */
function hfConfigKeys(arch: ArchName): Record<string, string> {
  return {
    layers: 'num_hidden_layers',
    hidden: 'hidden_size',
    intermediate: 'intermediate_size',
    heads: 'num_attention_heads',
    kvHeads: 'num_key_value_heads',
    headDim: 'head_dim',
    vocab: 'vocab_size',
    contextLength: 'max_position_embeddings',
    rmsEps: 'rms_norm_eps',
    ropeTheta: 'rope_theta',
    ropeScaling: 'rope_scaling',
    bosTokenId: 'bos_token_id',
    experts: arch === 'mixtral' ? 'num_local_experts' : 'num_experts',
    expertsPerToken: 'num_experts_per_tok',
    expertIntermediate: arch === 'mixtral' ? 'intermediate_size' : 'moe_intermediate_size',
    sharedIntermediate: 'shared_expert_intermediate_size',
  };
}

function readArch(cfg: ConfigReader): ArchName {
  if (!cfg.has('model_type')) cfg.fail(`missing required key 'model_type'`);
  const modelType = cfg.raw('model_type');
  if (typeof modelType !== 'string' || !(HF_ARCHS as readonly string[]).includes(modelType)) {
    cfg.fail(`model_type ${show(modelType)} is not supported (supported: ${HF_ARCHS.join(', ')})`);
  }
  return modelType as ArchName;
}

/** Config features whose maths we do not implement: refuse them instead of running wrong. */
function rejectUnsupportedFeatures(cfg: ConfigReader, arch: ArchName): void {
  const act = cfg.raw('hidden_act');
  if (act !== undefined && act !== null && act !== 'silu') {
    cfg.fail(`hidden_act ${show(act)} is not supported (only 'silu')`);
  }
  for (const key of ['rope_scaling', 'rope_parameters']) {
    const value = cfg.raw(key);
    if (value === undefined || value === null) continue;
    if (typeof value !== 'object') cfg.fail(`key '${key}' must be an object, got ${show(value)}`);
    const { rope_type: ropeType, type } = value as { rope_type?: unknown; type?: unknown };
    const kind = ropeType ?? type;
    if (kind !== undefined && kind !== 'default' && kind !== 'llama3') {
      cfg.fail(`${key} type ${show(kind)} is not supported (only unscaled RoPE and Llama 3's 'llama3')`);
    }
  }
  if (cfg.bool('mlp_bias', false)) cfg.fail(`mlp_bias true is not supported`);
  // llama's attention_bias also adds an o_proj bias, which ModelWeights has no slot for.
  if ((arch === 'llama' || arch === 'qwen3' || arch === 'qwen3_moe') && cfg.bool('attention_bias', false)) {
    cfg.fail(`attention_bias true is not supported (it adds an o_proj bias)`);
  }
}

function readHeadDim(cfg: ConfigReader, hidden: number, heads: number): number {
  if (cfg.has('head_dim')) return cfg.positiveInt('head_dim');
  if (hidden % heads !== 0) {
    cfg.fail(`hidden_size ${hidden} is not a multiple of num_attention_heads ${heads} and 'head_dim' is not given`);
  }
  return hidden / heads;
}

/**
 * Llama 3.1+ `rope_scaling` (transformers ≤4.x) or `rope_parameters` (v5) with rope_type
 * 'llama3': factor, low/high_freq_factor and original_max_position_embeddings, all required
 * (transformers' own validation requires them too); checked by checkSpecLimits.
 */
function readRopeScaling(cfg: ConfigReader): { ropeScaling?: RopeScaling } {
  for (const key of ['rope_scaling', 'rope_parameters']) {
    const value = cfg.raw(key) as Record<string, unknown> | null | undefined;
    if (!value || (value.rope_type ?? value.type) !== 'llama3') continue;
    const number = (field: string, integer = false) => {
      const x = value[field];
      if (typeof x !== 'number' || !Number.isFinite(x) || x <= 0 || (integer && !Number.isInteger(x)))
        cfg.fail(
          `key '${key}.${field}' must be a positive ${integer ? 'integer' : 'number'} for rope_type 'llama3', got ${show(x)}`,
        );
      return x;
    };
    return {
      ropeScaling: {
        type: 'llama3',
        factor: number('factor'),
        lowFreqFactor: number('low_freq_factor'),
        highFreqFactor: number('high_freq_factor'),
        originalContext: number('original_max_position_embeddings', true),
      },
    };
  }
  return {};
}

/** transformers ≤4.x: top-level rope_theta; v5: rope_parameters.rope_theta. */
function readRopeTheta(cfg: ConfigReader, fallback: number): number {
  if (cfg.has('rope_theta')) return cfg.positiveNumber('rope_theta', fallback);
  const params = cfg.raw('rope_parameters') as { rope_theta?: unknown } | null | undefined;
  if (params?.rope_theta === undefined) return fallback;
  const theta = params.rope_theta;
  if (typeof theta !== 'number' || !Number.isFinite(theta) || theta <= 0) {
    cfg.fail(`key 'rope_parameters.rope_theta' must be a positive number, got ${show(theta)}`);
  }
  return theta;
}

/**
 * The sliding window when one is active: mistral/mixtral whenever `sliding_window` is a number
 * (absent: MistralConfig's 4096; null: none); qwen2 only with use_sliding_window.
 */
function activeWindow(cfg: ConfigReader, defaults: ArchDefaults): number | null {
  const windowOn = defaults.slidingWindowAlwaysOn || cfg.bool('use_sliding_window', false);
  const window =
    cfg.raw('sliding_window') === undefined
      ? defaults.slidingWindow
      : cfg.has('sliding_window')
        ? cfg.positiveInt('sliding_window')
        : null;
  return windowOn ? window : null;
}

/** Context length = max_position_embeddings (a sliding window is attended within, never a cap). */
function readContextLength(cfg: ConfigReader, defaults: ArchDefaults): number {
  return cfg.positiveInt('max_position_embeddings', defaults.contextLength);
}

/**
 * The window and the layers that attend within it, when it is shorter than the context: every
 * layer for Mistral / Mixtral; for Qwen (use_sliding_window) the layers from `max_window_layers`
 * on (transformers: "the first max_window_layers layers use full attention"; default 28). A
 * transformers v5 `layer_types` list must say the same, or the config is refused.
 */
function readSlidingWindow(
  cfg: ConfigReader,
  defaults: ArchDefaults,
  layers: number,
  contextLength: number,
): { slidingWindow?: number; slidingWindowFirstLayer?: number } {
  const window = activeWindow(cfg, defaults);
  const first = window === null || defaults.slidingWindowAlwaysOn ? 0 : cfg.nonNegativeInt('max_window_layers', 28);
  checkLayerTypes(cfg, layers, window === null ? layers : Math.min(first, layers));
  if (window === null || window >= contextLength) return {};
  if (first >= layers) return {}; // every layer attends to everything
  return first > 0 ? { slidingWindow: window, slidingWindowFirstLayer: first } : { slidingWindow: window };
}

/** transformers v5 `layer_types`, when present: layers [0, firstWindowed) 'full_attention', the rest 'sliding_attention'. */
function checkLayerTypes(cfg: ConfigReader, layers: number, firstWindowed: number): void {
  const types = cfg.raw('layer_types');
  if (types === undefined || types === null) return;
  const expected = Array.from({ length: layers }, (_, l) =>
    l < firstWindowed ? 'full_attention' : 'sliding_attention',
  );
  if (!Array.isArray(types) || types.length !== layers || types.some((t, l) => t !== expected[l]))
    cfg.fail(
      `key 'layer_types' must be ${firstWindowed === layers ? `'full_attention' for all ${layers} layers` : `'full_attention' for layers 0..${firstWindowed - 1} and 'sliding_attention' after`} (what use_sliding_window, sliding_window and max_window_layers say); other patterns are not supported`,
    );
}

function readMoe(cfg: ConfigReader, arch: ArchName, intermediate: number): MoeSpec | undefined {
  if (arch === 'mixtral') {
    const experts = cfg.positiveInt('num_local_experts');
    const expertsPerToken = readExpertsPerToken(cfg, experts, 2);
    return { experts, expertsPerToken, normTopK: true, expertIntermediate: intermediate };
  }
  if (arch === 'qwen2_moe' || arch === 'qwen3_moe') {
    if (cfg.positiveInt('decoder_sparse_step', 1) !== 1) {
      cfg.fail(
        `decoder_sparse_step ${show(cfg.raw('decoder_sparse_step'))} is not supported (only 1: every layer MoE)`,
      );
    }
    const denseLayers = cfg.raw('mlp_only_layers');
    if (Array.isArray(denseLayers) && denseLayers.length > 0) {
      cfg.fail(`mlp_only_layers ${show(denseLayers)} is not supported (only every layer MoE)`);
    }
    const experts = cfg.positiveInt('num_experts');
    if (arch === 'qwen3_moe')
      // Qwen3MoeConfig: 128 experts, top-8, norm_topk_prob false by default; no shared expert.
      return {
        experts,
        expertsPerToken: readExpertsPerToken(cfg, experts, 8),
        normTopK: cfg.bool('norm_topk_prob', false),
        expertIntermediate: cfg.positiveInt('moe_intermediate_size'),
      };
    return {
      experts,
      expertsPerToken: readExpertsPerToken(cfg, experts, 4),
      normTopK: cfg.bool('norm_topk_prob', false),
      expertIntermediate: cfg.positiveInt('moe_intermediate_size'),
      sharedExpert: { intermediate: cfg.positiveInt('shared_expert_intermediate_size'), gated: true },
    };
  }
  return undefined;
}

function readExpertsPerToken(cfg: ConfigReader, experts: number, fallback: number): number {
  const expertsPerToken = cfg.positiveInt('num_experts_per_tok', fallback);
  if (expertsPerToken > experts)
    cfg.fail(`num_experts_per_tok ${expertsPerToken} exceeds the number of experts ${experts}`);
  return expertsPerToken;
}
