/**
 * Backward steps of the decoder ops, for router training through the MoE's own next-token loss
 * (calibrate/train.ts). Each function is the input-gradient of one forward step of
 * calibrate/sequence.ts; only the routers get weight gradients. Shapes as in the forward.
 * Every function ADDS into its gradient outputs (`d…` arrays start at zero).
 */
import type { RopeScaling } from '../model/spec.ts';
import { ropeInverseFrequency } from '../model/rope.ts';
import { silu } from '../runtime/cpu/ops.ts';

/** dx[t, c] += Σ_r dy[t, r] · W[r, c]: the input gradient of matmulRows. dx // [nRows, k]; dy // [nRows, n]; W // [n, k] */
export function matmulRowsBackward(
  dx: Float32Array,
  dy: Float32Array,
  W: Float32Array,
  nRows: number,
  n: number,
  k: number,
): void {
  let t = 0;
  for (; t + 2 <= nRows; t += 2) {
    // two rows per pass over W, as matmulRows does four
    const [d0, d1] = [t * k, (t + 1) * k];
    for (let r = 0; r < n; r++) {
      const [g0, g1] = [dy[t * n + r], dy[(t + 1) * n + r]];
      const w0 = r * k;
      for (let c = 0; c < k; c++) {
        const w = W[w0 + c];
        dx[d0 + c] += g0 * w;
        dx[d1 + c] += g1 * w;
      }
    }
  }
  for (; t < nRows; t++) {
    for (let r = 0; r < n; r++) {
      const g = dy[t * n + r];
      if (g === 0) continue;
      for (let c = 0; c < k; c++) dx[t * k + c] += g * W[r * k + c];
    }
  }
}

/** dW[r, c] += Σ_t dy[t, r] · x[t, c]: the weight gradient of matmulRows. dW // [n, k] */
export function matmulRowsWeightGrad(
  dW: Float64Array,
  dy: Float32Array,
  x: Float32Array,
  nRows: number,
  n: number,
  k: number,
): void {
  for (let t = 0; t < nRows; t++)
    for (let r = 0; r < n; r++) {
      const g = dy[t * n + r];
      if (g === 0) continue;
      for (let c = 0; c < k; c++) dW[r * k + c] += g * x[t * k + c];
    }
}

/**
 * RMSNorm backward for one row: y = w ⊙ x · s, s = (mean(x²) + eps)^(−1/2), so
 * dx = s · (w ⊙ dy) − s³ / size · x · Σ_i (w ⊙ dy ⊙ x)_i. dx, x, dy // [size]
 */
export function rmsnormBackward(
  dx: Float32Array,
  x: Float32Array,
  weight: Float32Array,
  dy: Float32Array,
  eps: number,
): void {
  const size = x.length;
  let sumOfSquares = 0;
  for (let i = 0; i < size; i++) sumOfSquares += x[i] * x[i];
  const s = 1 / Math.sqrt(sumOfSquares / size + eps);
  let projection = 0;
  for (let i = 0; i < size; i++) projection += weight[i] * dy[i] * x[i];
  const c = (s * s * s * projection) / size;
  for (let i = 0; i < size; i++) dx[i] += s * weight[i] * dy[i] - c * x[i];
}

/** RoPE backward in place: the rotation's transpose is the rotation by −angle. vec // [nHeads * headDim] */
export function ropeBackward(
  vec: Float32Array,
  nHeads: number,
  headDim: number,
  pos: number,
  theta: number,
  style: 'half' | 'interleaved',
  scaling?: RopeScaling,
): void {
  const halfDim = headDim / 2;
  for (let head = 0; head < nHeads; head++) {
    const base = head * headDim;
    for (let pair = 0; pair < halfDim; pair++) {
      const angle = pos * ropeInverseFrequency(pair, headDim, theta, scaling);
      const [cos, sin] = [Math.cos(angle), Math.sin(angle)];
      const i0 = style === 'interleaved' ? base + 2 * pair : base + pair;
      const i1 = style === 'interleaved' ? i0 + 1 : i0 + halfDim;
      const [g0, g1] = [vec[i0], vec[i1]];
      vec[i0] = g0 * cos + g1 * sin;
      vec[i1] = -g0 * sin + g1 * cos;
    }
  }
}

/** d silu(x) / dx = σ(x) · (1 + x · (1 − σ(x))). */
export function siluGrad(x: number): number {
  const sigma = 1 / (1 + Math.exp(-x));
  return sigma * (1 + x * (1 - sigma));
}

/**
 * SwiGLU MLP backward for one row: out = down · (silu(g) ⊙ u), g = gate · x, u = up · x.
 * dx // [hidden] += gateᵀ dg + upᵀ du; g, u // [inter] from the forward; dOut // [hidden].
 */
export function swigluMlpBackward(
  dx: Float32Array,
  mlp: { gate: Float32Array; up: Float32Array; down: Float32Array; intermediate: number },
  g: Float32Array,
  u: Float32Array,
  dOut: Float32Array,
): void {
  const inter = mlp.intermediate;
  const hidden = dOut.length;
  const dh = new Float32Array(inter); // [inter]  = downᵀ dOut
  matmulRowsBackward(dh, dOut, mlp.down, 1, hidden, inter);
  const dg = new Float32Array(inter);
  const du = new Float32Array(inter);
  for (let i = 0; i < inter; i++) {
    dg[i] = dh[i] * u[i] * siluGrad(g[i]);
    du[i] = dh[i] * silu(g[i]);
  }
  matmulRowsBackward(dx, dg, mlp.gate, 1, inter, hidden);
  matmulRowsBackward(dx, du, mlp.up, 1, inter, hidden);
}

/**
 * Causal GQA attention backward. Forward: out_t = Σ_{s≤t} P[h][t, s] · v_s (per head h, kv head
 * h / (heads / kvHeads)), P = softmax_s(q_t · k_s / √headDim). dq // [T, qDim], dk, dv // [T, kvDim]
 * accumulate; probs // [heads][T * T] (row t holds s ≤ t).
 */
export function attentionBackward(
  dq: Float32Array,
  dk: Float32Array,
  dv: Float32Array,
  dOut: Float32Array,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  probs: Float32Array[],
  nTokens: number,
  heads: number,
  kvHeads: number,
  headDim: number,
): void {
  const qDim = heads * headDim;
  const kvDim = kvHeads * headDim;
  const scale = 1 / Math.sqrt(headDim);
  const dP = new Float64Array(nTokens);
  for (let h = 0; h < heads; h++) {
    const qBase = h * headDim;
    const kvBase = Math.floor(h / (heads / kvHeads)) * headDim;
    const P = probs[h];
    for (let t = 0; t < nTokens; t++) {
      let dot = 0;
      for (let s = 0; s <= t; s++) {
        let sum = 0;
        for (let i = 0; i < headDim; i++) sum += dOut[t * qDim + qBase + i] * v[s * kvDim + kvBase + i];
        dP[s] = sum;
        dot += P[t * nTokens + s] * sum;
        for (let i = 0; i < headDim; i++) dv[s * kvDim + kvBase + i] += P[t * nTokens + s] * dOut[t * qDim + qBase + i];
      }
      for (let s = 0; s <= t; s++) {
        const dScore = P[t * nTokens + s] * (dP[s] - dot) * scale;
        if (dScore === 0) continue;
        for (let i = 0; i < headDim; i++) {
          dq[t * qDim + qBase + i] += dScore * k[s * kvDim + kvBase + i];
          dk[s * kvDim + kvBase + i] += dScore * q[t * qDim + qBase + i];
        }
      }
    }
  }
}
