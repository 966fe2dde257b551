/**
 * Deterministic random models for tests and benchmarks.
 *
 * randomModelWeights(spec, seed, dtype) builds a complete ModelWeights whose every tensor
 * is drawn from its own seeded stream (seed ⊕ hash(tensor name)), so the same (spec, seed)
 * always gives the same bytes, and adding a tensor never shifts the others.
 *
 * Scales keep activations sane through many layers:
 *   Linear weights  N(0, 1/sqrt(fan_in))   (so W·x keeps x's magnitude)
 *   embeddings      N(0, 1)
 *   norm weights    1 + 0.1·N(0, 1)        (≈ 1, but not exactly, so norm bugs show)
 *   biases          0.1·N(0, 1)
 *   routers         N(0, 1/sqrt(hidden))   (random routing; nothing is trained)
 *
 * Norms and biases (1-D) stay f32 whatever `dtype` is, as in GGUF files.
 * Quantized dtypes need the inner dimension to be a multiple of the block size (32).
 */
import { ConfigError } from '../errors.ts';
import type { DType, RawTensor } from '../tensor.ts';
import type { ModelSpec, MoeSpec } from './spec.ts';
import type { LayerWeights, MlpWeights, ModelWeights, MoeWeights } from './weights.ts';
import { quantize } from '../quant/convert.ts';

// ----------------------------------------------------------------------------
// Seeded PRNG (mulberry32) and normal samples (Box–Muller)

/** 32-bit FNV-1a hash of a string. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: a small, fast, well-mixed 32-bit PRNG. Returns uniforms in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fills `out` with N(mean, std) samples from `uniform`. */
export function fillNormal(out: Float32Array, uniform: () => number, std: number, mean = 0): Float32Array {
  for (let i = 0; i < out.length; i += 2) {
    const u1 = Math.max(uniform(), 1e-12);
    const u2 = uniform();
    const radius = Math.sqrt(-2 * Math.log(u1));
    out[i] = mean + std * radius * Math.cos(2 * Math.PI * u2);
    if (i + 1 < out.length) out[i + 1] = mean + std * radius * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/** N(mean, std) values of `size`, from the stream of (seed, name). */
export function seededNormal(seed: number, name: string, size: number, std: number, mean = 0): Float32Array {
  return fillNormal(new Float32Array(size), mulberry32((seed ^ hashString(name)) >>> 0), std, mean);
}

// ----------------------------------------------------------------------------
// Tensors

export function f32Tensor(name: string, shape: number[], values: Float32Array): RawTensor {
  return { name, dtype: 'f32', shape, data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
}

function storeAs(name: string, shape: number[], values: Float32Array, dtype: DType): RawTensor {
  if (dtype === 'f32') return f32Tensor(name, shape, values);
  const inner = shape[shape.length - 1];
  if ((dtype === 'q8_0' || dtype === 'q4_0') && inner % 32 !== 0) {
    throw new ConfigError(`random model: tensor '${name}' inner dim ${inner} is not a multiple of 32 for ${dtype}`);
  }
  return quantize(name, values, shape, dtype);
}

interface Draw {
  seed: number;
  dtype: DType;
}

function linear(draw: Draw, name: string, out: number, inp: number): RawTensor {
  return storeAs(name, [out, inp], seededNormal(draw.seed, name, out * inp, 1 / Math.sqrt(inp)), draw.dtype);
}

function normWeight(draw: Draw, name: string, size: number): RawTensor {
  return f32Tensor(name, [size], seededNormal(draw.seed, name, size, 0.1, 1));
}

function bias(draw: Draw, name: string, size: number): RawTensor {
  return f32Tensor(name, [size], seededNormal(draw.seed, name, size, 0.1));
}

function mlp(draw: Draw, prefix: string, hidden: number, intermediate: number): MlpWeights {
  return {
    gate: linear(draw, `${prefix}.gate_proj.weight`, intermediate, hidden),
    up: linear(draw, `${prefix}.up_proj.weight`, intermediate, hidden),
    down: linear(draw, `${prefix}.down_proj.weight`, hidden, intermediate),
  };
}

function moeBlock(draw: Draw, prefix: string, hidden: number, moe: MoeSpec): MoeWeights {
  const experts: MlpWeights[] = [];
  for (let e = 0; e < moe.experts; e++)
    experts.push(mlp(draw, `${prefix}.experts.${e}`, hidden, moe.expertIntermediate));
  const block: MoeWeights = { router: linear(draw, `${prefix}.gate.weight`, moe.experts, hidden), experts };
  if (moe.sharedExpert) {
    block.shared = mlp(draw, `${prefix}.shared_expert`, hidden, moe.sharedExpert.intermediate);
    if (moe.sharedExpert.gated) {
      const name = `${prefix}.shared_expert_gate.weight`;
      block.sharedGate = f32Tensor(name, [1, hidden], seededNormal(draw.seed, name, hidden, 1 / Math.sqrt(hidden)));
    }
  }
  return block;
}

function layer(draw: Draw, spec: ModelSpec, index: number): LayerWeights {
  const p = `model.layers.${index}`;
  const qDim = spec.heads * spec.headDim;
  const kvDim = spec.kvHeads * spec.headDim;
  const weights: LayerWeights = {
    attnNorm: normWeight(draw, `${p}.input_layernorm.weight`, spec.hidden),
    wq: linear(draw, `${p}.self_attn.q_proj.weight`, qDim, spec.hidden),
    wk: linear(draw, `${p}.self_attn.k_proj.weight`, kvDim, spec.hidden),
    wv: linear(draw, `${p}.self_attn.v_proj.weight`, kvDim, spec.hidden),
    wo: linear(draw, `${p}.self_attn.o_proj.weight`, spec.hidden, qDim),
    ffnNorm: normWeight(draw, `${p}.post_attention_layernorm.weight`, spec.hidden),
  };
  if (spec.qkvBias) {
    weights.bq = bias(draw, `${p}.self_attn.q_proj.bias`, qDim);
    weights.bk = bias(draw, `${p}.self_attn.k_proj.bias`, kvDim);
    weights.bv = bias(draw, `${p}.self_attn.v_proj.bias`, kvDim);
  }
  if (spec.qkNorm) {
    weights.qNorm = normWeight(draw, `${p}.self_attn.q_norm.weight`, spec.headDim);
    weights.kNorm = normWeight(draw, `${p}.self_attn.k_norm.weight`, spec.headDim);
  }
  if (spec.moe) weights.moe = moeBlock(draw, `${p}.mlp`, spec.hidden, spec.moe);
  else weights.mlp = mlp(draw, `${p}.mlp`, spec.hidden, spec.intermediate);
  return weights;
}

/** A deterministic random model for `spec`. Matrices are stored as `dtype` (default f32). */
export function randomModelWeights(spec: ModelSpec, seed: number, dtype: DType = 'f32'): ModelWeights {
  const draw: Draw = { seed: seed >>> 0, dtype };
  const embedName = 'model.embed_tokens.weight';
  const weights: ModelWeights = {
    spec,
    embed: storeAs(
      embedName,
      [spec.vocab, spec.hidden],
      seededNormal(draw.seed, embedName, spec.vocab * spec.hidden, 1),
      dtype,
    ),
    layers: Array.from({ length: spec.layers }, (_, i) => layer(draw, spec, i)),
    finalNorm: normWeight(draw, 'model.norm.weight', spec.hidden),
  };
  if (!spec.tieEmbeddings) weights.lmHead = linear(draw, 'lm_head.weight', spec.vocab, spec.hidden);
  return weights;
}

// ----------------------------------------------------------------------------
// Tiny specs for tests (odd sizes on purpose: nothing is a power of two)

/** A tiny dense llama: hidden 48, 6 heads of 8 (2 kv heads), intermediate 80, vocab 101. */
export function tinyDenseSpec(overrides: Partial<ModelSpec> = {}): ModelSpec {
  return {
    arch: 'llama',
    hidden: 48,
    intermediate: 80,
    layers: 2,
    heads: 6,
    kvHeads: 2,
    headDim: 8,
    vocab: 101,
    contextLength: 64,
    ropeTheta: 10000,
    rmsEps: 1e-5,
    tieEmbeddings: false,
    qkvBias: false,
    ropeStyle: 'half',
    bosTokenId: 1,
    eosTokenIds: [2],
    ...overrides,
  };
}

/** A tiny Mixtral: the dense spec's attention, 4 experts of width 40, top-2, renormalized. */
export function tinyMoeSpec(overrides: Partial<ModelSpec> = {}): ModelSpec {
  return tinyDenseSpec({
    arch: 'mixtral',
    moe: { experts: 4, expertsPerToken: 2, normTopK: true, expertIntermediate: 40 },
    ...overrides,
  });
}

/** A tiny Qwen2-MoE: q/k/v bias, 5 experts top-2 without renormalization, gated shared expert. */
export function tinyQwenMoeSpec(overrides: Partial<ModelSpec> = {}): ModelSpec {
  return tinyDenseSpec({
    arch: 'qwen2_moe',
    qkvBias: true,
    tieEmbeddings: true,
    moe: {
      experts: 5,
      expertsPerToken: 2,
      normTopK: false,
      expertIntermediate: 24,
      sharedExpert: { intermediate: 56, gated: true },
    },
    ...overrides,
  });
}
