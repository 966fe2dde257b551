/**
 * Router-only training through the MoE's own next-token loss (the Branch-Train-MiX recipe with
 * everything but the routers frozen), plus a small label term pulling each text's tokens
 * toward its expert:
 *
 *   loss = mean_t −log p(token t+1)  +  labelWeight · mean_{layer, t} −log softmax(routerLogits)[label]
 *
 * forwardWithCache keeps what the backward needs; routerLossAndGradients runs the backward
 * step by step (calibrate/backward.ts), layer L−1 down to 0; trainRouters is Adam over windows.
 * The top-k choice is held fixed in the backward (its gradient flows through the chosen
 * experts' weights only), as in every MoE trainer.
 */
import { CancelledError, ConfigError } from '../errors.ts';
import { createYielder } from '../merge/cooperative.ts';
import { mulberry32 } from '../model/random.ts';
import { attentionWindow } from '../model/spec.ts';
import type { ModelF32 } from '../runtime/cpu/model-f32.ts';
import {
  attentionBackward,
  matmulRowsBackward,
  matmulRowsWeightGrad,
  rmsnormBackward,
  ropeBackward,
  siluGrad,
} from './backward.ts';
import { withRouters } from './evaluate.ts';
import { matmulRows, prepareRowMatmul } from './row-matmul.ts';
import { embedTokens, rmsnormRows, routeSequence, type SequenceRouting } from './sequence.ts';
import type { CalibrationSequence } from './texts.ts';
import { rope, silu } from '../runtime/cpu/ops.ts';

interface ExpertRows {
  rows: number[]; // tokens routed to this expert
  slots: number[]; // their slot in expertIds
  gate: Float32Array; // [rows, inter]  gate · x before silu
  up: Float32Array; // [rows, inter]
  out: Float32Array; // [rows, hidden]  the expert's output
}

interface LayerCache {
  xIn: Float32Array; // [T, hidden]
  q: Float32Array; // [T, qDim]   after RoPE
  k: Float32Array; // [T, kvDim]  after RoPE
  v: Float32Array; // [T, kvDim]
  probs: Float32Array[]; // [heads] × [T, T]  attention probabilities (row t: s ≤ t)
  attnOut: Float32Array; // [T, qDim]
  xMid: Float32Array; // [T, hidden]  residual after attention
  routerInput: Float32Array; // [T, hidden]
  routerLogits: Float32Array; // [T, experts]
  route: SequenceRouting;
  experts: ExpertRows[]; // [experts]
}

/** Causal attention that keeps its probabilities. out // [T, qDim] */
function attentionWithProbs(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  T: number,
  heads: number,
  kvHeads: number,
  headDim: number,
) {
  const qDim = heads * headDim;
  const kvDim = kvHeads * headDim;
  const out = new Float32Array(T * qDim);
  const probs: Float32Array[] = [];
  for (let h = 0; h < heads; h++) {
    const P = new Float32Array(T * T);
    const qBase = h * headDim;
    const kvBase = Math.floor(h / (heads / kvHeads)) * headDim;
    for (let t = 0; t < T; t++) {
      let max = -Infinity;
      for (let s = 0; s <= t; s++) {
        let sum = 0;
        for (let i = 0; i < headDim; i++) sum += q[t * qDim + qBase + i] * k[s * kvDim + kvBase + i];
        P[t * T + s] = sum / Math.sqrt(headDim);
        max = Math.max(max, P[t * T + s]);
      }
      let z = 0;
      for (let s = 0; s <= t; s++) {
        P[t * T + s] = Math.exp(P[t * T + s] - max);
        z += P[t * T + s];
      }
      for (let s = 0; s <= t; s++) P[t * T + s] /= z;
      for (let i = 0; i < headDim; i++) {
        let sum = 0;
        for (let s = 0; s <= t; s++) sum += P[t * T + s] * v[s * kvDim + kvBase + i];
        out[t * qDim + qBase + i] = sum;
      }
    }
    probs.push(P);
  }
  return { out, probs };
}

/** The forward of one window with every activation the backward needs. Mixtral-style MoE layers only. */
export function forwardWithCache(model: ModelF32, tokens: readonly number[]) {
  const spec = model.spec;
  const { hidden, heads, kvHeads, headDim } = spec;
  const T = tokens.length;
  const [qDim, kvDim] = [heads * headDim, kvHeads * headDim];
  const x = embedTokens(model, tokens); // [T, hidden]
  const caches: LayerCache[] = [];
  for (const [l, layer] of model.layers.entries()) {
    const moe = layer.moe;
    if (!moe || moe.shared || layer.bq || layer.qNorm || attentionWindow(spec, l) !== undefined)
      throw new ConfigError(
        `calibrate: lm-loss training runs Mixtral-style layers with full attention; layer ${l} is not (use output-match)`,
      );
    const xIn = x.slice();
    const xb = new Float32Array(T * hidden);
    rmsnormRows(xb, x, layer.attnNorm, spec.rmsEps, hidden);
    const [q, k, v] = [new Float32Array(T * qDim), new Float32Array(T * kvDim), new Float32Array(T * kvDim)];
    matmulRows(q, xb, layer.wq, T, qDim, hidden);
    matmulRows(k, xb, layer.wk, T, kvDim, hidden);
    matmulRows(v, xb, layer.wv, T, kvDim, hidden);
    for (let t = 0; t < T; t++) {
      rope(q.subarray(t * qDim, (t + 1) * qDim), heads, headDim, t, spec.ropeTheta, spec.ropeStyle, spec.ropeScaling);
      rope(
        k.subarray(t * kvDim, (t + 1) * kvDim),
        kvHeads,
        headDim,
        t,
        spec.ropeTheta,
        spec.ropeStyle,
        spec.ropeScaling,
      );
    }
    const { out: attnOut, probs } = attentionWithProbs(q, k, v, T, heads, kvHeads, headDim);
    const projected = new Float32Array(T * hidden);
    matmulRows(projected, attnOut, layer.wo, T, hidden, qDim);
    for (let i = 0; i < x.length; i++) x[i] += projected[i];
    const xMid = x.slice();
    const routerInput = new Float32Array(T * hidden);
    rmsnormRows(routerInput, x, layer.ffnNorm, spec.rmsEps, hidden);
    const routerLogits = new Float32Array(T * moe.experts.length);
    matmulRows(routerLogits, routerInput, moe.router, T, moe.experts.length, hidden);
    const route = routeSequence(spec, l, moe.router, routerInput);
    const experts = moe.experts.map((mlp, e): ExpertRows => {
      const rows: number[] = [];
      const slots: number[] = [];
      for (const [t, ids] of route.expertIds.entries()) {
        if (!ids.includes(e)) continue;
        rows.push(t);
        slots.push(ids.indexOf(e));
      }
      const n = rows.length;
      const inter = mlp.intermediate;
      const gathered = new Float32Array(n * hidden);
      for (const [i, t] of rows.entries()) gathered.set(routerInput.subarray(t * hidden, (t + 1) * hidden), i * hidden);
      const [gate, up, h, out] = [
        new Float32Array(n * inter),
        new Float32Array(n * inter),
        new Float32Array(n * inter),
        new Float32Array(n * hidden),
      ];
      matmulRows(gate, gathered, mlp.gate, n, inter, hidden);
      matmulRows(up, gathered, mlp.up, n, inter, hidden);
      for (let i = 0; i < h.length; i++) h[i] = silu(gate[i]) * up[i];
      matmulRows(out, h, mlp.down, n, hidden, inter);
      rows.forEach((t, i) => {
        const w = route.expertWeights[t][slots[i]];
        for (let j = 0; j < hidden; j++) x[t * hidden + j] += w * out[i * hidden + j];
      });
      return { rows, slots, gate, up, out };
    });
    caches.push({ xIn, q, k, v, probs, attnOut, xMid, routerInput, routerLogits, route, experts });
  }
  return { caches, xFinal: x };
}

/** loss (above) of one window and its gradient with respect to every router // [layers] × [experts, hidden]. */
export function routerLossAndGradients(model: ModelF32, window: CalibrationSequence, labelWeight: number) {
  const spec = model.spec;
  const { hidden, vocab } = spec;
  const T = window.tokens.length;
  const { caches, xFinal } = forwardWithCache(model, window.tokens);
  // ---- next-token loss and d loss / d final residual
  const xf = new Float32Array(T * hidden);
  rmsnormRows(xf, xFinal, model.finalNorm, spec.rmsEps, hidden);
  const dLogits = new Float32Array((T - 1) * vocab); // [T−1, vocab]
  matmulRows(dLogits, xf, model.lmHead, T - 1, vocab, hidden);
  let lmLoss = 0;
  for (let t = 0; t + 1 < T; t++) {
    const row = dLogits.subarray(t * vocab, (t + 1) * vocab);
    let max = -Infinity;
    for (let i = 0; i < vocab; i++) max = Math.max(max, row[i]);
    let z = 0;
    for (let i = 0; i < vocab; i++) z += Math.exp(row[i] - max);
    lmLoss += (max + Math.log(z) - row[window.tokens[t + 1]]) / (T - 1);
    for (let i = 0; i < vocab; i++) row[i] = Math.exp(row[i] - max) / z / (T - 1);
    row[window.tokens[t + 1]] -= 1 / (T - 1);
  }
  const dxf = new Float32Array(T * hidden);
  matmulRowsBackward(dxf, dLogits, model.lmHead, T - 1, vocab, hidden);
  let dx: Float32Array = new Float32Array(T * hidden);
  rowsBackward(dx, xFinal, model.finalNorm, dxf, spec.rmsEps, hidden);
  // ---- layers, last to first
  const grads = model.layers.map((l) => new Float64Array(l.moe!.router.length));
  let labelLoss = 0;
  for (let l = spec.layers - 1; l >= 0; l--) {
    const step = layerBackward(model, l, caches[l], dx, window.expert, labelWeight / (spec.layers * T), grads[l]);
    dx = step.dxIn;
    labelLoss += step.labelLoss;
  }
  return { loss: lmLoss + labelWeight * labelLoss, lmLoss, grads };
}

/** rmsnormBackward on each row. */
function rowsBackward(
  dx: Float32Array,
  x: Float32Array,
  weight: Float32Array,
  dy: Float32Array,
  eps: number,
  size: number,
): void {
  for (let t = 0; t < x.length / size; t++) {
    const row = (a: Float32Array) => a.subarray(t * size, (t + 1) * size);
    rmsnormBackward(row(dx), row(x), weight, row(dy), eps);
  }
}

/** One layer's backward: dx (d loss / d layer output) → d loss / d layer input; adds the router gradient into dRouter. */
function layerBackward(
  model: ModelF32,
  l: number,
  c: LayerCache,
  dx: Float32Array,
  label: number,
  labelScale: number,
  dRouter: Float64Array,
) {
  const layer = model.layers[l];
  const { dRouterInput, dWeight } = expertsBackward(model, l, c, dx);
  const labelLoss = routingBackward(model, l, c, dWeight, dRouterInput, label, labelScale, dRouter);
  const dxMid = dx.slice();
  rowsBackward(dxMid, c.xMid, layer.ffnNorm, dRouterInput, model.spec.rmsEps, model.spec.hidden);
  return { dxIn: attentionBlockBackward(model, l, c, dxMid), labelLoss };
}

/** The chosen experts' input gradients // [T, hidden] and d loss / d routing weight of each (token, slot) // [T][topK]. */
function expertsBackward(model: ModelF32, l: number, c: LayerCache, dx: Float32Array) {
  const hidden = model.spec.hidden;
  const moe = model.layers[l].moe!;
  const T = dx.length / hidden;
  const dRouterInput = new Float32Array(T * hidden);
  const dWeight = c.route.expertIds.map((ids) => new Float64Array(ids.length)); // [T][expertsPerToken]
  for (const [e, rowsOf] of c.experts.entries()) {
    const n = rowsOf.rows.length;
    if (n === 0) continue;
    const mlp = moe.experts[e];
    const inter = mlp.intermediate;
    const dOut = new Float32Array(n * hidden);
    rowsOf.rows.forEach((t, i) => {
      const w = c.route.expertWeights[t][rowsOf.slots[i]];
      let dw = 0;
      for (let j = 0; j < hidden; j++) {
        dw += dx[t * hidden + j] * rowsOf.out[i * hidden + j];
        dOut[i * hidden + j] = w * dx[t * hidden + j];
      }
      dWeight[t][rowsOf.slots[i]] = dw;
    });
    const dh = new Float32Array(n * inter);
    matmulRowsBackward(dh, dOut, mlp.down, n, hidden, inter);
    const [dGate, dUp] = [new Float32Array(n * inter), new Float32Array(n * inter)];
    for (let i = 0; i < dh.length; i++) {
      dGate[i] = dh[i] * rowsOf.up[i] * siluGrad(rowsOf.gate[i]);
      dUp[i] = dh[i] * silu(rowsOf.gate[i]);
    }
    const dGathered = new Float32Array(n * hidden);
    matmulRowsBackward(dGathered, dGate, mlp.gate, n, inter, hidden);
    matmulRowsBackward(dGathered, dUp, mlp.up, n, inter, hidden);
    rowsOf.rows.forEach((t, i) => {
      for (let j = 0; j < hidden; j++) dRouterInput[t * hidden + j] += dGathered[i * hidden + j];
    });
  }
  return { dRouterInput, dWeight };
}

/**
 * Routing weights → router logits (normTopK: softmax over the chosen; else the full softmax), plus
 * the label term; adds into dRouter and dRouterInput. Returns the label loss (before labelWeight).
 */
function routingBackward(
  model: ModelF32,
  l: number,
  c: LayerCache,
  dWeight: Float64Array[],
  dRouterInput: Float32Array,
  label: number,
  labelScale: number,
  dRouter: Float64Array,
): number {
  const spec = model.spec;
  const hidden = spec.hidden;
  const moe = model.layers[l].moe!;
  const experts = moe.experts.length;
  const T = dRouterInput.length / hidden;
  const dLogits = new Float32Array(T * experts);
  let labelLoss = 0;
  for (let t = 0; t < T; t++) {
    const logits = c.routerLogits.subarray(t * experts, (t + 1) * experts);
    const max = Math.max(...logits);
    const p = Array.from(logits, (z) => Math.exp(z - max));
    const z = p.reduce((a, b) => a + b, 0);
    for (let e = 0; e < experts; e++) p[e] /= z;
    const ids = c.route.expertIds[t];
    const w = c.route.expertWeights[t];
    if (spec.moe!.normTopK) {
      const mean = ids.reduce((s, _, i) => s + w[i] * dWeight[t][i], 0);
      ids.forEach((e, i) => {
        dLogits[t * experts + e] += w[i] * (dWeight[t][i] - mean);
      });
    } else {
      const mean = ids.reduce((s, e, i) => s + p[e] * dWeight[t][i], 0);
      ids.forEach((e, i) => {
        dLogits[t * experts + e] += p[e] * dWeight[t][i];
      });
      for (let e = 0; e < experts; e++) dLogits[t * experts + e] -= p[e] * mean;
    }
    labelLoss += -Math.log(p[label]) / (spec.layers * T);
    for (let e = 0; e < experts; e++) dLogits[t * experts + e] += labelScale * (p[e] - (e === label ? 1 : 0));
  }
  matmulRowsWeightGrad(dRouter, dLogits, c.routerInput, T, experts, hidden);
  matmulRowsBackward(dRouterInput, dLogits, moe.router, T, experts, hidden);
  return labelLoss;
}

/** Attention block backward: dxMid (d loss / d residual after attention) → d loss / d layer input. */
function attentionBlockBackward(model: ModelF32, l: number, c: LayerCache, dxMid: Float32Array) {
  const spec = model.spec;
  const { hidden, heads, kvHeads, headDim } = spec;
  const layer = model.layers[l];
  const T = dxMid.length / hidden;
  const [qDim, kvDim] = [heads * headDim, kvHeads * headDim];
  const dAttnOut = new Float32Array(T * qDim);
  matmulRowsBackward(dAttnOut, dxMid, layer.wo, T, hidden, qDim);
  const [dq, dk, dv] = [new Float32Array(T * qDim), new Float32Array(T * kvDim), new Float32Array(T * kvDim)];
  attentionBackward(dq, dk, dv, dAttnOut, c.q, c.k, c.v, c.probs, T, heads, kvHeads, headDim);
  for (let t = 0; t < T; t++) {
    ropeBackward(
      dq.subarray(t * qDim, (t + 1) * qDim),
      heads,
      headDim,
      t,
      spec.ropeTheta,
      spec.ropeStyle,
      spec.ropeScaling,
    );
    ropeBackward(
      dk.subarray(t * kvDim, (t + 1) * kvDim),
      kvHeads,
      headDim,
      t,
      spec.ropeTheta,
      spec.ropeStyle,
      spec.ropeScaling,
    );
  }
  const dNormed = new Float32Array(T * hidden);
  matmulRowsBackward(dNormed, dq, layer.wq, T, qDim, hidden);
  matmulRowsBackward(dNormed, dk, layer.wk, T, kvDim, hidden);
  matmulRowsBackward(dNormed, dv, layer.wv, T, kvDim, hidden);
  const dxIn = dxMid.slice();
  rowsBackward(dxIn, c.xIn, layer.attnNorm, dNormed, spec.rmsEps, hidden);
  return dxIn;
}

export interface TrainOptions {
  steps: number;
  learningRate?: number; // Adam, default 3e-3
  labelWeight?: number; // default 0.3
  seed?: number;
  onStep?: (done: number, total: number, loss: number) => void;
  signal?: AbortSignal;
}

/** Adam on the routers, one window a step (windows in a seeded shuffled order, cycled). Returns the trained routers. */
export async function trainRouters(
  model: ModelF32,
  sequences: CalibrationSequence[],
  initial: Float32Array[],
  options: TrainOptions,
): Promise<Float32Array[]> {
  await prepareRowMatmul(); // the kernel path, when this thread has WebAssembly SIMD
  const lr = options.learningRate ?? 3e-3;
  const labelWeight = options.labelWeight ?? 0.3;
  const routers = initial.map((r) => Float32Array.from(r));
  const m = routers.map((r) => new Float64Array(r.length));
  const v = routers.map((r) => new Float64Array(r.length));
  const [beta1, beta2, eps] = [0.9, 0.999, 1e-8];
  const uniform = mulberry32(options.seed ?? 0);
  const order = sequences.map((_, i) => i);
  const yieldTurn = createYielder();
  for (let step = 0; step < options.steps; step++) {
    if (step % order.length === 0)
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(uniform() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
    const window = sequences[order[step % order.length]];
    const { loss, grads } = routerLossAndGradients(withRouters(model, routers), window, labelWeight);
    for (let l = 0; l < routers.length; l++)
      for (let i = 0; i < routers[l].length; i++) {
        m[l][i] = beta1 * m[l][i] + (1 - beta1) * grads[l][i];
        v[l][i] = beta2 * v[l][i] + (1 - beta2) * grads[l][i] ** 2;
        const mHat = m[l][i] / (1 - beta1 ** (step + 1));
        const vHat = v[l][i] / (1 - beta2 ** (step + 1));
        routers[l][i] -= (lr * mHat) / (Math.sqrt(vHat) + eps);
      }
    options.onStep?.(step + 1, options.steps, loss);
    await yieldTurn();
    if (options.signal?.aborted) throw new CancelledError('calibrate: cancelled');
  }
  return routers;
}
