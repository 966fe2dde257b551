/**
 * Named limits on every ModelSpec field, each with its reason (STYLE habit 4), and
 * checkSpecLimits, the one check every spec builder (parseHfConfig, the GGUF metadata →
 * ModelSpec step, the llama2.c header) runs before anything is sized by the spec: the list of
 * expected tensors, the weight builder's arrays, the RoPE permutations, the KV cache.
 *
 * A value past a limit is a corrupt or hostile file, not a model: the caps sit well above
 * the largest published model (2026) so that no real checkpoint trips them.
 */
import type { ModelSpec } from './spec.ts';

export const SPEC_LIMITS = {
  /** Llama 3.1 405B has 126 layers, DeepSeek-V3 61. */
  maxLayers: 1024,
  /** Llama 3.1 405B: 16,384; nothing published is wider. */
  maxHidden: 65_536,
  /** Llama 3.1 405B: 53,248 (4 × the hidden cap leaves room for 4× MLPs). */
  maxIntermediate: 262_144,
  /** Llama 3.1 405B: 128 query heads. */
  maxHeads: 1024,
  /** Gemma 2 / 3: 256, the widest published head. */
  maxHeadDim: 1024,
  /** Gemma 3: 262,144 tokens; 16 × that. */
  maxVocab: 4_194_304,
  /** Llama 4 Scout: 10M positions. */
  maxContext: 16_777_216,
  /** Qwen3-Next: 512 routed experts, Kimi K2 384. */
  maxExperts: 1024,
  /**
   * layers × experts bounds the expected-tensor list (3 matrices per expert): Kimi K2 has
   * 61 × 384 = 23,424, DeepSeek-V3 58 × 256 = 14,848.
   */
  maxExpertMatrices: 65_536,
  /** rms_norm_eps: published values are 1e-6 … 1e-5; at ≥ 1 the norm ignores the activations. */
  maxRmsEps: 1,
  /** rope_theta: published values are 1e4 … 1e8; below 1 the frequencies grow with the dim. */
  minRopeTheta: 1,
  maxRopeTheta: 1e12,
  /** rope_scaling.factor: Llama 3.1–3.3 use 8, Llama 3.2 32; past 1024 every low frequency is ~0. */
  maxRopeScalingFactor: 1024,
} as const;

type IntField = 'layers' | 'hidden' | 'intermediate' | 'heads' | 'kvHeads' | 'headDim' | 'vocab' | 'contextLength';

const INT_FIELD_LIMITS = {
  layers: SPEC_LIMITS.maxLayers,
  hidden: SPEC_LIMITS.maxHidden,
  intermediate: SPEC_LIMITS.maxIntermediate,
  heads: SPEC_LIMITS.maxHeads,
  kvHeads: SPEC_LIMITS.maxHeads,
  headDim: SPEC_LIMITS.maxHeadDim,
  vocab: SPEC_LIMITS.maxVocab,
  contextLength: SPEC_LIMITS.maxContext,
} as const satisfies Record<IntField, number>;

/**
 * Checks every field of `spec` against SPEC_LIMITS and the spec's own consistency rules.
 * `names` maps a spec field to the name the source file uses for it (config.json key, GGUF
 * metadata key), so the message names the field the user can see; `fail` throws the
 * caller's typed error (ConfigError for config.json, FormatError for a GGUF).
 */
export function checkSpecLimits(
  spec: ModelSpec,
  names: Partial<Record<string, string>>,
  fail: (message: string) => never,
): void {
  const name = (field: string) => names[field] ?? field;
  const int = (field: string, value: unknown, max: number) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
      fail(`${name(field)} ${String(value)} is outside [1, ${max}] (SPEC_LIMITS)`);
    }
  };
  for (const field of Object.keys(INT_FIELD_LIMITS) as IntField[]) int(field, spec[field], INT_FIELD_LIMITS[field]);
  if (spec.heads % spec.kvHeads !== 0) {
    fail(`${name('heads')} ${spec.heads} is not a multiple of ${name('kvHeads')} ${spec.kvHeads}`);
  }
  if (spec.slidingWindow !== undefined) int('slidingWindow', spec.slidingWindow, SPEC_LIMITS.maxContext);
  const firstWindowed = spec.slidingWindowFirstLayer;
  if (
    firstWindowed !== undefined &&
    !(Number.isInteger(firstWindowed) && firstWindowed >= 0 && firstWindowed < spec.layers)
  )
    fail(`${name('slidingWindowFirstLayer')} ${String(firstWindowed)} is outside [0, ${spec.layers}) (the layers)`);
  if (spec.headDim % 2 !== 0) fail(`${name('headDim')} ${spec.headDim} is odd; RoPE rotates pairs of dims`);
  const eps = spec.rmsEps;
  if (!Number.isFinite(eps) || eps <= 0 || eps >= SPEC_LIMITS.maxRmsEps) {
    fail(`${name('rmsEps')} ${eps} is outside (0, ${SPEC_LIMITS.maxRmsEps}) (SPEC_LIMITS.maxRmsEps)`);
  }
  const theta = spec.ropeTheta;
  if (!Number.isFinite(theta) || theta < SPEC_LIMITS.minRopeTheta || theta > SPEC_LIMITS.maxRopeTheta) {
    fail(
      `${name('ropeTheta')} ${theta} is outside [${SPEC_LIMITS.minRopeTheta}, ${SPEC_LIMITS.maxRopeTheta}] (SPEC_LIMITS)`,
    );
  }
  const scaling = spec.ropeScaling;
  if (scaling?.type === 'factors') {
    const max = SPEC_LIMITS.maxRopeScalingFactor;
    if (scaling.factors.length !== spec.headDim / 2)
      fail(`${name('ropeScaling')} has ${scaling.factors.length} factors, expected headDim / 2 = ${spec.headDim / 2}`);
    const bad = scaling.factors.findIndex((f) => !Number.isFinite(f) || f < 1 / max || f > max);
    if (bad >= 0)
      fail(
        `${name('ropeScaling')} factor ${bad} is ${scaling.factors[bad]}, outside [1/${max}, ${max}] (SPEC_LIMITS.maxRopeScalingFactor)`,
      );
  } else if (scaling) {
    const { factor, lowFreqFactor, highFreqFactor } = scaling;
    if (!Number.isFinite(factor) || factor < 1 || factor > SPEC_LIMITS.maxRopeScalingFactor)
      fail(
        `${name('ropeScaling')}.factor ${factor} is outside [1, ${SPEC_LIMITS.maxRopeScalingFactor}] (SPEC_LIMITS.maxRopeScalingFactor)`,
      );
    if (!(Number.isFinite(lowFreqFactor) && lowFreqFactor > 0 && Number.isFinite(highFreqFactor)))
      fail(`${name('ropeScaling')}.low_freq_factor ${lowFreqFactor} must be a positive number`);
    if (!(highFreqFactor > lowFreqFactor))
      fail(
        `${name('ropeScaling')}.high_freq_factor ${highFreqFactor} must be above low_freq_factor ${lowFreqFactor} (the blend divides by their difference)`,
      );
    int('ropeScaling.originalContext', scaling.originalContext, SPEC_LIMITS.maxContext);
  }
  if (spec.bosTokenId !== undefined && (!Number.isInteger(spec.bosTokenId) || spec.bosTokenId >= spec.vocab)) {
    fail(`${name('bosTokenId')} ${spec.bosTokenId} is not a token id below the vocabulary size ${spec.vocab}`);
  }
  const moe = spec.moe;
  if (!moe) return;
  int('experts', moe.experts, SPEC_LIMITS.maxExperts);
  int('expertsPerToken', moe.expertsPerToken, moe.experts);
  int('expertIntermediate', moe.expertIntermediate, SPEC_LIMITS.maxIntermediate);
  if (moe.sharedExpert) int('sharedIntermediate', moe.sharedExpert.intermediate, SPEC_LIMITS.maxIntermediate);
  if (spec.layers * moe.experts > SPEC_LIMITS.maxExpertMatrices) {
    fail(
      `${name('layers')} ${spec.layers} × ${name('experts')} ${moe.experts} experts exceeds ${SPEC_LIMITS.maxExpertMatrices} (SPEC_LIMITS.maxExpertMatrices)`,
    );
  }
}
