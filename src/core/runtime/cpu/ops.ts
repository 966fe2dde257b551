/**
 * The CPU reference ops: plain f32 loops, one function per step, no speed tricks
 * (STYLE habit 1, after llama2.c's run.c). Every fast path (WGSL, WASM SIMD, quantized
 * matvec) is tested against these functions, so they favour obviousness over speed.
 *
 * Conventions
 * - Outputs come first (`out`), like run.c. Shapes are in the parameter comments.
 * - Sums accumulate in JS numbers (f64) and are stored as f32. Fast paths that
 *   accumulate in f32 agree to within their named tolerances.
 * - `out` may alias an input only where the comment says so.
 */
import { assert } from '../../errors.ts';
import type { RopeScaling } from '../../model/spec.ts';
import { ropeInverseFrequency } from '../../model/rope.ts';

// ----------------------------------------------------------------------------
// Normalization

/**
 * RMSNorm: out[i] = weight[i] * x[i] / sqrt(mean(x²) + eps).
 * out, x, weight // [size]; out may alias x.
 */
export function rmsnorm(out: Float32Array, x: Float32Array, weight: Float32Array, eps: number): void {
  const size = x.length;
  assert(
    out.length >= size && weight.length >= size,
    `rmsnorm: size ${size} mismatches out ${out.length} / weight ${weight.length}`,
  );
  let sumOfSquares = 0;
  for (let i = 0; i < size; i++) sumOfSquares += x[i] * x[i];
  const scale = 1 / Math.sqrt(sumOfSquares / size + eps);
  for (let i = 0; i < size; i++) out[i] = weight[i] * (x[i] * scale);
}

/** Qwen3's q/k norm: every head of vec // [nHeads * headDim] RMS-normalized in place with weight // [headDim]. */
export function rmsnormHeads(
  vec: Float32Array,
  nHeads: number,
  headDim: number,
  weight: Float32Array,
  eps: number,
): void {
  assert(vec.length >= nHeads * headDim, `rmsnormHeads: vec has ${vec.length} values, need ${nHeads}×${headDim}`);
  for (let head = 0; head < nHeads; head++) {
    const row = vec.subarray(head * headDim, (head + 1) * headDim);
    rmsnorm(row, row, weight, eps);
  }
}

// ----------------------------------------------------------------------------
// Linear algebra

/**
 * Weights (by their buffer) whose matmuls read x rounded as the WASM backend's (and llama.cpp's)
 * 8-bit activations for q4_0: only cpuBackendQ8x registers them, for the tests that check the
 * WASM q4_0 path tightly; the plain reference never does.
 */
const q8xWeights = new WeakSet<ArrayBufferLike>();

export function emulateQ8xActivations(W: Float32Array): void {
  q8xWeights.add(W.buffer);
}

/**
 * x rounded per 32-block to q8x as kernels.wat's quantize_q8x does it (scale = amax/127, q =
 * nearest(x · 127/amax), ties to even, in f32), and back to f32: q · scale. k % 32 = 0.
 */
export function roundQ8x(x: Float32Array, k: number): Float32Array {
  const out = new Float32Array(k);
  for (let b = 0; b < k; b += 32) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b + j]));
    const scale = Math.fround(amax / 127);
    const inv = amax > 0 ? Math.fround(127 / amax) : 0;
    for (let j = 0; j < 32; j++) {
      const v = Math.fround(inv * x[b + j]);
      const r = Math.round(v);
      const q = r - v === 0.5 && r % 2 !== 0 ? r - 1 : r; // ties to even, as f32x4.nearest
      out[b + j] = q * scale;
    }
  }
  return out;
}

/**
 * Matrix-vector product y = W·x, the only matmul the decoder needs (one token at a time).
 * out // [n]; W // [n, k] row-major (PyTorch Linear [out, in]); x // [k]. out must not alias x.
 */
export function matmul(out: Float32Array, W: Float32Array, xIn: Float32Array, n: number, k: number): void {
  assert(W.length >= n * k, `matmul: W has ${W.length} values, need ${n}×${k}`);
  assert(xIn.length >= k && out.length >= n, `matmul: x ${xIn.length} < ${k} or out ${out.length} < ${n}`);
  const x = q8xWeights.has(W.buffer) && k % 32 === 0 ? roundQ8x(xIn, k) : xIn;
  for (let row = 0; row < n; row++) {
    let sum = 0;
    const base = row * k;
    for (let col = 0; col < k; col++) sum += W[base + col] * x[col];
    out[row] = sum;
  }
}

/** out[i] += add[i]. out, add // [size] */
export function addInPlace(out: Float32Array, add: Float32Array): void {
  assert(add.length >= out.length, `addInPlace: ${add.length} < ${out.length}`);
  for (let i = 0; i < out.length; i++) out[i] += add[i];
}

/** out[i] += scale * add[i]. out, add // [size] */
export function addScaledInPlace(out: Float32Array, add: Float32Array, scale: number): void {
  assert(add.length >= out.length, `addScaledInPlace: ${add.length} < ${out.length}`);
  for (let i = 0; i < out.length; i++) out[i] += scale * add[i];
}

/** Dot product of two [size] vectors, accumulated in f64. */
export function dot(a: Float32Array, b: Float32Array): number {
  assert(a.length === b.length, `dot: lengths ${a.length} and ${b.length} differ`);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

// ----------------------------------------------------------------------------
// Rotary position embedding

export type RopeStyle = 'half' | 'interleaved';

/**
 * RoPE in place on a vector of `nHeads` heads of `headDim` dims at position `pos`.
 * Pair j (0 ≤ j < headDim/2) rotates by angle pos · theta^(−2j/headDim):
 * - 'interleaved' (llama2.c, GGUF llama): pair j is dims (2j, 2j+1).
 * - 'half' (HF rotate_half): pair j is dims (j, j + headDim/2).
 * vec // [nHeads * headDim]
 */
export function rope(
  vec: Float32Array,
  nHeads: number,
  headDim: number,
  pos: number,
  theta: number,
  style: RopeStyle,
  scaling?: RopeScaling,
): void {
  const halfDim = headDim / 2;
  const cos = new Float64Array(halfDim);
  const sin = new Float64Array(halfDim);
  ropeAngles(cos, sin, headDim, pos, theta, scaling);
  ropeApply(vec, nHeads, headDim, cos, sin, style);
}

/** cos, sin // [headDim / 2]: the rotation of each pair at position `pos` (shared by every head and layer). */
export function ropeAngles(
  cos: Float64Array,
  sin: Float64Array,
  headDim: number,
  pos: number,
  theta: number,
  scaling?: RopeScaling,
): void {
  assert(headDim % 2 === 0, `rope: headDim ${headDim} must be even`);
  for (let pair = 0; pair < headDim / 2; pair++) {
    const angle = pos * ropeInverseFrequency(pair, headDim, theta, scaling);
    cos[pair] = Math.cos(angle);
    sin[pair] = Math.sin(angle);
  }
}

/** Rotates every head of vec // [nHeads * headDim] by the tables of ropeAngles. */
export function ropeApply(
  vec: Float32Array,
  nHeads: number,
  headDim: number,
  cos: Float64Array,
  sin: Float64Array,
  style: RopeStyle,
): void {
  assert(vec.length >= nHeads * headDim, `rope: vec has ${vec.length} values, need ${nHeads}×${headDim}`);
  const halfDim = headDim / 2;
  for (let head = 0; head < nHeads; head++) {
    const base = head * headDim;
    for (let pair = 0; pair < halfDim; pair++) {
      const i0 = style === 'interleaved' ? base + 2 * pair : base + pair;
      const i1 = style === 'interleaved' ? i0 + 1 : i0 + halfDim;
      const v0 = vec[i0];
      const v1 = vec[i1];
      vec[i0] = v0 * cos[pair] - v1 * sin[pair];
      vec[i1] = v0 * sin[pair] + v1 * cos[pair];
    }
  }
}

// ----------------------------------------------------------------------------
// Attention

/**
 * Causal grouped-query attention of one query token over the first `nPositions` entries
 * of a layer's KV cache (the query's own position is the last of them, so causality is
 * the cache length). Query head h reads kv head floor(h / (nHeads / nKvHeads)).
 *
 * out       // [nHeads * headDim]
 * q         // [nHeads * headDim]      already rotated
 * keyCache  // [≥nPositions, nKvHeads * headDim]  rows already rotated
 * valueCache// [≥nPositions, nKvHeads * headDim]
 * scores    // scratch [≥nPositions]
 */
export function attention(
  out: Float32Array,
  q: Float32Array,
  keyCache: Float32Array,
  valueCache: Float32Array,
  nPositions: number,
  nHeads: number,
  nKvHeads: number,
  headDim: number,
  scores?: Float32Array,
): void {
  assert(nHeads % nKvHeads === 0, `attention: heads ${nHeads} not a multiple of kvHeads ${nKvHeads}`);
  const kvDim = nKvHeads * headDim;
  assert(
    keyCache.length >= nPositions * kvDim && valueCache.length >= nPositions * kvDim,
    `attention: kv cache smaller than ${nPositions}×${kvDim}`,
  );
  const headsPerKv = nHeads / nKvHeads;
  const scale = 1 / Math.sqrt(headDim);
  const att = scores && scores.length >= nPositions ? scores : new Float32Array(nPositions);
  for (let head = 0; head < nHeads; head++) {
    const qBase = head * headDim;
    const kvBase = Math.floor(head / headsPerKv) * headDim;
    // scores[t] = q_h · k_t / sqrt(headDim)
    for (let t = 0; t < nPositions; t++) {
      let sum = 0;
      const kBase = t * kvDim + kvBase;
      for (let i = 0; i < headDim; i++) sum += q[qBase + i] * keyCache[kBase + i];
      att[t] = sum * scale;
    }
    softmax(att, nPositions);
    // out_h = Σ_t scores[t] · v_t
    for (let i = 0; i < headDim; i++) {
      let sum = 0;
      for (let t = 0; t < nPositions; t++) sum += att[t] * valueCache[t * kvDim + kvBase + i];
      out[qBase + i] = sum;
    }
  }
}

// ----------------------------------------------------------------------------
// Activations

/** Softmax in place over x[0..size). −Infinity entries get probability 0. x // [≥size] */
export function softmax(x: Float32Array, size: number = x.length): void {
  let max = -Infinity;
  for (let i = 0; i < size; i++) if (x[i] > max) max = x[i];
  assert(max !== -Infinity, 'softmax: every entry is -Infinity');
  let sum = 0;
  for (let i = 0; i < size; i++) {
    const e = Math.exp(x[i] - max);
    x[i] = e;
    sum += e;
  }
  for (let i = 0; i < size; i++) x[i] /= sum;
}

/** SiLU (swish): x · sigmoid(x). */
export function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

/** Logistic sigmoid. */
export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** SwiGLU gate: out[i] = silu(gate[i]) · up[i]. out, gate, up // [size]; out may alias gate. */
export function swiglu(out: Float32Array, gate: Float32Array, up: Float32Array): void {
  assert(gate.length >= out.length && up.length >= out.length, 'swiglu: inputs shorter than out');
  for (let i = 0; i < out.length; i++) out[i] = silu(gate[i]) * up[i];
}

/** Index of the largest value; ties go to the lower index. x // [size] */
export function argmax(x: Float32Array | readonly number[]): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}
