/**
 * The decoder run one layer at a time over a whole token sequence, for router calibration:
 * the residual stream of every token of a text is kept as rows of one [nTokens, hidden]
 * array, so a layer's router can be fitted on the states that reach it (the post-attention
 * RMSNorm output of the MoE itself) before the next layer's inputs are computed with it.
 * Same maths as runtime/cpu/forward.ts `forwardToken` (tested against it), in run.c style:
 *
 *   x = embed[tokens]                                  embedTokens
 *   for each layer:
 *     x += wo · attention(rope(wq·norm(x)), …)         attentionBlock
 *     routerInput = norm(x)                            routerInputs
 *     x += Σ_k weight_k · expert_k(routerInput)        moeBlock (routing by routeToken)
 *   nll[t] = −log softmax(lmHead · norm(x[t]))[tokens[t+1]]    nextTokenNll
 */
import { assert } from '../errors.ts';
import { attentionWindow, type ModelSpec } from '../model/spec.ts';
import { planRouting, routeToken, sharedExpertGate } from '../runtime/routing.ts';
import type { RoutingOverrides } from '../runtime/types.ts';
import type { LayerF32, MlpF32, ModelF32, MoeF32 } from '../runtime/cpu/model-f32.ts';
import { attention, dot, rmsnorm, rmsnormHeads, rope, silu } from '../runtime/cpu/ops.ts';
import { matmulRows } from './row-matmul.ts';

// ----------------------------------------------------------------------------
// Row-wise ops (each row is what ops.ts does to one vector)

/** ops.rmsnorm on each row. out, x // [nRows, size]; out may alias x. */
export function rmsnormRows(out: Float32Array, x: Float32Array, weight: Float32Array, eps: number, size: number): void {
  const nRows = x.length / size;
  for (let t = 0; t < nRows; t++)
    rmsnorm(out.subarray(t * size, (t + 1) * size), x.subarray(t * size, (t + 1) * size), weight, eps);
}

/** out[t] = down · (silu(gate · x[t]) ⊙ (up · x[t])) for each row. out, x // [nRows, hidden] */
export function swigluMlpRows(out: Float32Array, mlp: MlpF32, x: Float32Array, nRows: number, hidden: number): void {
  const inter = mlp.intermediate;
  const gate = new Float32Array(nRows * inter); // [nRows, inter]
  const up = new Float32Array(nRows * inter); // [nRows, inter]
  matmulRows(gate, x, mlp.gate, nRows, inter, hidden);
  matmulRows(up, x, mlp.up, nRows, inter, hidden);
  for (let i = 0; i < gate.length; i++) gate[i] = silu(gate[i]) * up[i];
  matmulRows(out, gate, mlp.down, nRows, hidden, inter);
}

// ----------------------------------------------------------------------------
// The steps of one layer

/** x // [nTokens, hidden]: the embedding rows of `tokens`. */
export function embedTokens(model: ModelF32, tokens: readonly number[]): Float32Array {
  const hidden = model.spec.hidden;
  const x = new Float32Array(tokens.length * hidden);
  tokens.forEach((token, t) => {
    assert(token >= 0 && token < model.spec.vocab, `embedTokens: token ${token} outside [0, ${model.spec.vocab})`);
    x.set(model.embed.subarray(token * hidden, (token + 1) * hidden), t * hidden);
  });
  return x;
}

/**
 * x += wo · attention(norm(x)) for every position (causal, positions 0..nTokens-1; layer `l`'s
 * sliding window, if it has one, as the engine: attentionWindow). x // [nTokens, hidden]
 */
export function attentionBlock(spec: ModelSpec, layer: LayerF32, x: Float32Array, l: number): void {
  const { hidden, heads, kvHeads, headDim } = spec;
  const nTokens = x.length / hidden;
  const qDim = heads * headDim;
  const kvDim = kvHeads * headDim;
  const xb = new Float32Array(x.length); // [nTokens, hidden]
  rmsnormRows(xb, x, layer.attnNorm, spec.rmsEps, hidden);
  const q = new Float32Array(nTokens * qDim); // [nTokens, qDim]
  const keys = new Float32Array(nTokens * kvDim); // [nTokens, kvDim]  the whole KV cache
  const values = new Float32Array(nTokens * kvDim); // [nTokens, kvDim]
  matmulRows(q, xb, layer.wq, nTokens, qDim, hidden);
  matmulRows(keys, xb, layer.wk, nTokens, kvDim, hidden);
  matmulRows(values, xb, layer.wv, nTokens, kvDim, hidden);
  const attnOut = new Float32Array(nTokens * qDim); // [nTokens, qDim]
  const scores = new Float32Array(nTokens);
  for (let t = 0; t < nTokens; t++) {
    const qt = q.subarray(t * qDim, (t + 1) * qDim);
    const kt = keys.subarray(t * kvDim, (t + 1) * kvDim);
    const vt = values.subarray(t * kvDim, (t + 1) * kvDim);
    if (layer.bq) for (let i = 0; i < qDim; i++) qt[i] += layer.bq[i];
    if (layer.bk) for (let i = 0; i < kvDim; i++) kt[i] += layer.bk[i];
    if (layer.bv) for (let i = 0; i < kvDim; i++) vt[i] += layer.bv[i];
    if (layer.qNorm) rmsnormHeads(qt, heads, headDim, layer.qNorm, spec.rmsEps);
    if (layer.kNorm) rmsnormHeads(kt, kvHeads, headDim, layer.kNorm, spec.rmsEps);
    rope(qt, heads, headDim, t, spec.ropeTheta, spec.ropeStyle, spec.ropeScaling);
    rope(kt, kvHeads, headDim, t, spec.ropeTheta, spec.ropeStyle, spec.ropeScaling);
  }
  const window = attentionWindow(spec, l);
  for (let t = 0; t < nTokens; t++) {
    const out = attnOut.subarray(t * qDim, (t + 1) * qDim);
    const first = window === undefined ? 0 : Math.max(0, t + 1 - window);
    const [k, v] = [keys.subarray(first * kvDim), values.subarray(first * kvDim)];
    attention(out, q.subarray(t * qDim, (t + 1) * qDim), k, v, t + 1 - first, heads, kvHeads, headDim, scores);
  }
  const projected = new Float32Array(x.length); // [nTokens, hidden]
  matmulRows(projected, attnOut, layer.wo, nTokens, hidden, qDim);
  for (let i = 0; i < x.length; i++) x[i] += projected[i];
}

/** routerInput = ffnNorm(x) for every token: the states the router multiplies. x // [nTokens, hidden] */
export function routerInputs(spec: ModelSpec, layer: LayerF32, x: Float32Array): Float32Array {
  const out = new Float32Array(x.length); // [nTokens, hidden]
  rmsnormRows(out, x, layer.ffnNorm, spec.rmsEps, spec.hidden);
  return out;
}

/** Routing of every token of one layer: expertIds / expertWeights per token, by THE routing rule. */
export interface SequenceRouting {
  expertIds: number[][]; // [nTokens][expertsPerToken]
  expertWeights: number[][]; // [nTokens][expertsPerToken]
}

/** routerLogits // [nTokens, experts] = routerInput · routerᵀ, then routeToken per token. */
export function routeSequence(
  spec: ModelSpec,
  layerIndex: number,
  router: Float32Array,
  routerInput: Float32Array,
  routing?: RoutingOverrides,
): SequenceRouting {
  const moeSpec = spec.moe;
  assert(moeSpec !== undefined, 'routeSequence: not an MoE model');
  const nTokens = routerInput.length / spec.hidden;
  const experts = moeSpec.experts;
  const routerLogits = new Float32Array(nTokens * experts); // [nTokens, experts]
  matmulRows(routerLogits, routerInput, router, nTokens, experts, spec.hidden);
  const out: SequenceRouting = { expertIds: [], expertWeights: [] };
  const layerPlan = planRouting(moeSpec, layerIndex + 1, routing).layers[layerIndex]!;
  for (let t = 0; t < nTokens; t++) {
    const route = routeToken(routerLogits.subarray(t * experts, (t + 1) * experts), moeSpec, layerPlan);
    out.expertIds.push(route.expertIds);
    out.expertWeights.push(route.expertWeights);
  }
  return out;
}

/**
 * x += Σ_slot weight · expert(routerInput) (+ the shared expert), tokens grouped by expert so
 * each expert runs once over its rows. x, routerInput // [nTokens, hidden]
 */
export function moeBlock(
  spec: ModelSpec,
  moe: MoeF32,
  x: Float32Array,
  routerInput: Float32Array,
  route: SequenceRouting,
): void {
  const hidden = spec.hidden;
  const nTokens = routerInput.length / hidden;
  for (let e = 0; e < moe.experts.length; e++) {
    const rows: number[] = [];
    const weights: number[] = [];
    for (let t = 0; t < nTokens; t++) {
      const slot = route.expertIds[t].indexOf(e);
      if (slot >= 0) {
        rows.push(t);
        weights.push(route.expertWeights[t][slot]);
      }
    }
    if (rows.length === 0) continue;
    const gathered = new Float32Array(rows.length * hidden); // [rows, hidden]
    for (const [i, t] of rows.entries()) gathered.set(routerInput.subarray(t * hidden, (t + 1) * hidden), i * hidden);
    const expertOut = new Float32Array(rows.length * hidden); // [rows, hidden]
    swigluMlpRows(expertOut, moe.experts[e], gathered, rows.length, hidden);
    rows.forEach((t, i) => {
      for (let j = 0; j < hidden; j++) x[t * hidden + j] += weights[i] * expertOut[i * hidden + j];
    });
  }
  if (moe.shared) {
    const sharedOut = new Float32Array(x.length); // [nTokens, hidden]
    swigluMlpRows(sharedOut, moe.shared, routerInput, nTokens, hidden);
    for (let t = 0; t < nTokens; t++) {
      const row = routerInput.subarray(t * hidden, (t + 1) * hidden);
      const gate = moe.sharedGate ? sharedExpertGate(dot(moe.sharedGate, row)) : 1;
      for (let j = 0; j < hidden; j++) x[t * hidden + j] += gate * sharedOut[t * hidden + j];
    }
  }
}

/** x += mlp(norm(x)) for a dense layer. x // [nTokens, hidden] */
export function denseMlpBlock(spec: ModelSpec, layer: LayerF32, x: Float32Array): void {
  assert(layer.mlp !== undefined, 'denseMlpBlock: layer has no MLP');
  const xb = routerInputs(spec, layer, x);
  const out = new Float32Array(x.length);
  swigluMlpRows(out, layer.mlp, xb, x.length / spec.hidden, spec.hidden);
  for (let i = 0; i < x.length; i++) x[i] += out[i];
}

/**
 * nll // [nTokens − 1]: −log p(tokens[t+1] | ≤ t) from the final residual stream x // [nTokens, hidden].
 * x is normed in place.
 */
export function nextTokenNll(model: ModelF32, x: Float32Array, tokens: readonly number[]): Float64Array {
  const { hidden, vocab } = model.spec;
  const nTokens = tokens.length;
  rmsnormRows(x, x, model.finalNorm, model.spec.rmsEps, hidden);
  const logits = new Float32Array((nTokens - 1) * vocab); // [nTokens − 1, vocab]
  matmulRows(logits, x, model.lmHead, nTokens - 1, vocab, hidden);
  const nll = new Float64Array(Math.max(0, nTokens - 1));
  for (let t = 0; t + 1 < nTokens; t++) {
    const row = logits.subarray(t * vocab, (t + 1) * vocab);
    let max = -Infinity;
    for (let v = 0; v < vocab; v++) if (row[v] > max) max = row[v];
    let sum = 0;
    for (let v = 0; v < vocab; v++) sum += Math.exp(row[v] - max);
    nll[t] = max + Math.log(sum) - row[tokens[t + 1]];
  }
  return nll;
}
