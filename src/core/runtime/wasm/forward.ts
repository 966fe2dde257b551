/**
 * The wasm forward pass over a chunk of tokens: the same steps as cpu/forward.ts, with the
 * matmuls, attention (heads split across threads) and SwiGLU in WASM SIMD and the O(hidden) steps in JS via cpu/ops.ts.
 * Prefill runs each matmul over the whole chunk (weights read once per chunk) and groups
 * the chunk's tokens by expert.
 *
 *   x = embed[tokens]                                     // [m, hidden]
 *   for each layer:
 *     x += wo · attention(rope(wq·norm(x)), cache ← rope(wk·norm(x)), wv·norm(x))
 *     x += ffn(norm(x))   ffn = SwiGLU MLP, or Σ_k weight_k · expert_k (+ shared expert)
 *   logits = lmHead · norm(x[m-1])
 */
import type { LayerRouting } from '../types.ts';
import { type LayerRoutingPlan, type RoutingPlan, routeToken, sharedExpertGate } from '../routing.ts';
import { addInPlace, rmsnorm, rmsnormHeads, ropeAngles, ropeApply } from '../cpu/ops.ts';
import { attnHeadsDims, type KernelExports } from './kernels.ts';
import { tensorRowToF32 } from './layout.ts';
import type { WasmMatmul } from './matmul.ts';
import { attentionWork, type RowParallel } from './parallel.ts';
import type { PackedLayer, PackedMlp, PackedModel, PackedMoe } from './packed-model.ts';
import { rowPtr, rowView, type WasmRunState } from './run-state.ts';
import { assert } from '../../errors.ts';
import { attentionWindow } from '../../model/spec.ts';

export interface WasmEngine {
  model: PackedModel;
  state: WasmRunState;
  kernels: KernelExports;
  matmul: WasmMatmul;
  /** The row pool (threads) for kernels beyond matmuls (attention heads). */
  rows: RowParallel;
}

export interface ChunkOptions {
  /** The request's routing (planRouting), set for MoE models. */
  routingPlan?: RoutingPlan;
  /** Receives [layers] × [hidden]: the residual input of every layer at the chunk's last token. */
  layerInputs?: Float32Array[];
  /** Compute logits of the last token (only the request's final chunk needs them). */
  wantLogits: boolean;
}

/** Runs tokens at positions start..start+m-1; returns routing [m] × [moe layers]. */
export function forwardChunk(
  engine: WasmEngine,
  tokens: number[],
  start: number,
  options: ChunkOptions,
): LayerRouting[][] {
  const { model, state } = engine;
  const { hidden } = model.spec;
  const m = tokens.length;
  const routing: LayerRouting[][] = tokens.map(() => []);
  // RoPE rotations of the chunk's positions, computed once for every layer and head.
  for (let t = 0; t < m; t++) {
    const { cos, sin } = ropeRow(state, t);
    ropeAngles(cos, sin, model.spec.headDim, start + t, model.spec.ropeTheta, model.spec.ropeScaling);
  }
  for (let t = 0; t < m; t++) tensorRowToF32(model.embed, tokens[t]!, rowView(state.x, t));
  for (let l = 0; l < model.layers.length; l++) {
    const layer = model.layers[l]!;
    if (options.layerInputs) options.layerInputs[l] = rowView(state.x, m - 1).slice();
    attentionBlock(engine, layer, l, m, start);
    for (let t = 0; t < m; t++) rmsnorm(rowView(state.xb, t), rowView(state.x, t), layer.ffnNorm, model.spec.rmsEps);
    if (layer.mlp) {
      mlpRows(engine, layer.mlp, state.xb.ptr, state.out.ptr, m);
    } else if (layer.moe) {
      assert(options.routingPlan !== undefined, 'forwardChunk: an MoE layer needs options.routingPlan (planRouting)');
      const routes = moeBlock(engine, layer.moe, m, options.routingPlan.layers[l]!);
      for (let t = 0; t < m; t++) routing[t]!.push(routes[t]!);
    }
    addInPlace(state.x.view.subarray(0, m * hidden), state.out.view.subarray(0, m * hidden));
  }
  if (options.wantLogits) {
    const last = rowView(state.xb, 0);
    rmsnorm(last, rowView(state.x, m - 1), model.finalNorm, model.spec.rmsEps);
    engine.matmul.run(model.lmHead, state.xb.ptr, state.logits.ptr, 1);
  }
  return routing;
}

/** Token t's rotation tables: views of state.ropeCos / ropeSin // [headDim / 2]. */
function ropeRow(state: WasmRunState, t: number): { cos: Float64Array; sin: Float64Array } {
  const half = state.ropeCos.length / state.chunk;
  return {
    cos: state.ropeCos.subarray(t * half, (t + 1) * half),
    sin: state.ropeSin.subarray(t * half, (t + 1) * half),
  };
}

function addBias(buffer: Float32Array, bias: Float32Array | undefined, m: number): void {
  if (!bias) return;
  for (let t = 0; t < m; t++) addInPlace(buffer.subarray(t * bias.length, (t + 1) * bias.length), bias);
}

/** x += wo · attention(norm(x)) for m tokens at positions start.. ; fills the KV cache. */
function attentionBlock(engine: WasmEngine, layer: PackedLayer, l: number, m: number, start: number): void {
  const { model, state, matmul } = engine;
  const spec = model.spec;
  const { heads, kvHeads, headDim } = spec;
  const kvDim = kvHeads * headDim;
  for (let t = 0; t < m; t++) rmsnorm(rowView(state.xb, t), rowView(state.x, t), layer.attnNorm, spec.rmsEps);
  matmul.runBatch(
    [
      { mat: layer.wq, x: state.xb.ptr, y: state.q.ptr },
      { mat: layer.wk, x: state.xb.ptr, y: state.k.ptr },
      { mat: layer.wv, x: state.xb.ptr, y: state.v.ptr },
    ],
    m,
  );
  addBias(state.q.view, layer.bq, m);
  addBias(state.k.view, layer.bk, m);
  addBias(state.v.view, layer.bv, m);
  for (let t = 0; t < m; t++) {
    // qwen3: each head of q and k RMS-normalized before RoPE
    if (layer.qNorm) rmsnormHeads(rowView(state.q, t), heads, headDim, layer.qNorm, spec.rmsEps);
    if (layer.kNorm) rmsnormHeads(rowView(state.k, t), kvHeads, headDim, layer.kNorm, spec.rmsEps);
  }
  const keyCache = state.keyCache[l]!;
  const valueCache = state.valueCache[l]!;
  for (let t = 0; t < m; t++) {
    const { cos, sin } = ropeRow(state, t);
    ropeApply(rowView(state.q, t), heads, headDim, cos, sin, spec.ropeStyle);
    ropeApply(rowView(state.k, t), kvHeads, headDim, cos, sin, spec.ropeStyle);
    keyCache.view.set(rowView(state.k, t), (start + t) * kvDim);
    valueCache.view.set(rowView(state.v, t), (start + t) * kvDim);
  }
  // Every token's heads in one batch, claimed by any thread: each thread has its own scratch
  // rows (one per head), since two tokens' same head can run at once on two threads.
  const dims = attnHeadsDims(headDim, heads / kvHeads, kvHeads);
  const scoreStride = state.scores.cols * 4;
  const window = attentionWindow(spec, l);
  engine.rows.runBatch(
    Array.from({ length: m }, (_, t) => {
      // Causal: the token sees itself and everything before, or with a sliding window (Mistral;
      // Qwen2 from max_window_layers on) only the last `window` positions, from `first` on.
      const pos = start + t;
      const first = window === undefined ? 0 : Math.max(0, pos + 1 - window);
      const nPos = pos + 1 - first;
      return {
        kernel: 'attn_heads' as const,
        n: heads,
        work: attentionWork(heads, nPos, headDim),
        threadScratch: { arg: 4, bytes: heads * scoreStride },
        args: [
          rowPtr(state.q, t),
          keyCache.ptr + first * kvDim * 4,
          valueCache.ptr + first * kvDim * 4,
          rowPtr(state.att, t),
          state.scores.ptr,
          dims,
          nPos,
          scoreStride,
        ],
      };
    }),
  );
  matmul.run(layer.wo, state.att.ptr, state.out.ptr, m);
  addInPlace(state.x.view.subarray(0, m * spec.hidden), state.out.view.subarray(0, m * spec.hidden));
}

/** y [m, hidden] = down · (silu(gate · x) ⊙ (up · x)) for x [m, hidden] (pointers). */
function mlpRows(engine: WasmEngine, mlp: PackedMlp, x: number, y: number, m: number): void {
  const { state, matmul } = engine;
  matmul.runBatch(
    [
      { mat: mlp.gate, x, y: state.hGate.ptr },
      { mat: mlp.up, x, y: state.hUp.ptr },
    ],
    m,
  );
  engine.kernels.swiglu(state.hGate.ptr, state.hUp.ptr, state.hGate.ptr, m * mlp.intermediate); // [m, inter]
  matmul.run(mlp.down, state.hGate.ptr, y, m);
}

/** Dot product in f64 like the reference's matmul (router and shared gate are tiny). */
function dot64(w: Float32Array, wOffset: number, x: Float32Array, k: number): number {
  let sum = 0;
  for (let i = 0; i < k; i++) sum += w[wOffset + i]! * x[i]!;
  return sum;
}

/** out [m, hidden] = MoE(xb) with the chunk's tokens grouped by expert. Returns routing [m]. */
function moeBlock(engine: WasmEngine, moe: PackedMoe, m: number, layerPlan: LayerRoutingPlan): LayerRouting[] {
  const { model, state } = engine;
  const { hidden } = model.spec;
  const moeSpec = model.spec.moe!;
  const routerLogits = new Float32Array(moeSpec.experts); // [experts]
  const routes: LayerRouting[] = [];
  const byExpert: { token: number; slot: number }[][] = moe.experts.map(() => []);
  let slots = 0; // experts per token (one k per layer; the max is only defensive)
  for (let t = 0; t < m; t++) {
    const xb = rowView(state.xb, t);
    for (let e = 0; e < moeSpec.experts; e++) routerLogits[e] = dot64(moe.router, e * hidden, xb, hidden);
    const route = routeToken(routerLogits, moeSpec, layerPlan);
    route.expertIds.forEach((e, slot) => byExpert[e]!.push({ token: t, slot }));
    slots = Math.max(slots, route.expertIds.length);
    routes.push(route);
  }
  state.out.view.fill(0, 0, m * hidden);
  if (m === 1 && routes[0]!.expertIds.length + (moe.shared ? 1 : 0) <= state.chunk) {
    decodeExperts(engine, moe, routes[0]!);
    return routes;
  }
  // Each expert runs once over its tokens; the outputs wait in expertOut // [m, slots, hidden]
  // and are summed per token in slot order, like decode and the reference, so a prompt gives
  // the same bits prefilled or token by token.
  if (state.expertOut.length < m * slots * hidden) state.expertOut = new Float32Array(state.chunk * slots * hidden);
  const expertOut = state.expertOut;
  byExpert.forEach((assigned, e) => {
    if (assigned.length === 0) return;
    assigned.forEach(({ token }, i) => rowView(state.xe, i).set(rowView(state.xb, token)));
    mlpRows(engine, moe.experts[e]!, state.xe.ptr, state.ye.ptr, assigned.length);
    assigned.forEach(({ token, slot }, i) => expertOut.set(rowView(state.ye, i), (token * slots + slot) * hidden));
  });
  routes.forEach((route, t) =>
    route.expertIds.forEach((_, slot) =>
      addScaled(
        rowView(state.out, t),
        expertOut.subarray((t * slots + slot) * hidden, (t * slots + slot + 1) * hidden),
        route.expertWeights[slot]!,
      ),
    ),
  );
  if (moe.shared) {
    mlpRows(engine, moe.shared, state.xb.ptr, state.ye.ptr, m);
    for (let t = 0; t < m; t++)
      addScaled(rowView(state.out, t), rowView(state.ye, t), sharedGate(engine, moe, t, routes[t]!));
  }
  return routes;
}

/**
 * One token's MoE: every chosen expert (and the shared expert) as two batches, gate+up of all
 * of them, then all downs: 2 pool barriers instead of 3 per expert. Slot i uses row i of
 * hGate/hUp/ye (so slots ≤ chunk rows); the last slot is the shared expert.
 * out // [hidden] = Σ weight_i · ye_i, summed in slot order like the CPU reference.
 */
function decodeExperts(engine: WasmEngine, moe: PackedMoe, route: LayerRouting): void {
  const { state, matmul } = engine;
  const mlps = route.expertIds.map((e) => moe.experts[e]!);
  if (moe.shared) mlps.push(moe.shared);
  const x = state.xb.ptr;
  matmul.runBatch(
    mlps.flatMap((mlp, i) => [
      { mat: mlp.gate, x, y: rowPtr(state.hGate, i) },
      { mat: mlp.up, x, y: rowPtr(state.hUp, i) },
    ]),
    1,
  );
  mlps.forEach((mlp, i) =>
    engine.kernels.swiglu(rowPtr(state.hGate, i), rowPtr(state.hUp, i), rowPtr(state.hGate, i), mlp.intermediate),
  );
  matmul.runBatch(
    mlps.map((mlp, i) => ({ mat: mlp.down, x: rowPtr(state.hGate, i), y: rowPtr(state.ye, i) })),
    1,
  );
  const out = rowView(state.out, 0);
  route.expertIds.forEach((_, i) => addScaled(out, rowView(state.ye, i), route.expertWeights[i]!));
  if (moe.shared) addScaled(out, rowView(state.ye, mlps.length - 1), sharedGate(engine, moe, 0, route));
}

/** Token t's shared-expert weight: sigmoid(sharedGate · xb_t) (recorded in its route), or 1 when ungated. */
function sharedGate(engine: WasmEngine, moe: PackedMoe, t: number, route: LayerRouting): number {
  if (!moe.sharedGate) return 1;
  route.sharedGate = sharedExpertGate(dot64(moe.sharedGate, 0, rowView(engine.state.xb, t), engine.model.spec.hidden));
  return route.sharedGate;
}

function addScaled(out: Float32Array, add: Float32Array, scale: number): void {
  for (let i = 0; i < out.length; i++) out[i] += scale * add[i]!;
}
