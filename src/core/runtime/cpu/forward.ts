/**
 * The CPU reference forward pass: one token at one position through the whole decoder,
 * written to read top to bottom like llama2.c's run.c `forward()`. Dense llama / mistral /
 * qwen2 (q/k/v bias) and MoE (Mixtral; Qwen2-MoE with a sigmoid-gated shared expert).
 *
 *   x = embed[token]
 *   for each layer:
 *     x += wo · attention(rope(wq·norm(x)), kvCache ← rope(wk·norm(x)), wv·norm(x))
 *     x += ffn(norm(x))      ffn = SwiGLU MLP, or Σ_k weight_k · expert_k  (+ shared expert)
 *   logits = lmHead · norm(x)
 */
import { assert } from '../../errors.ts';
import { attentionWindow } from '../../model/spec.ts';
import type { LayerRouting } from '../types.ts';
import { type RoutingPlan, routeToken, sharedExpertGate } from '../routing.ts';
import type { MlpF32, ModelF32 } from './model-f32.ts';
import { addInPlace, addScaledInPlace, attention, dot, matmul, rmsnorm, rmsnormHeads, rope, swiglu } from './ops.ts';

// ----------------------------------------------------------------------------
// Run state: activation buffers and the KV cache (like run.c's RunState)

export interface RunState {
  x: Float32Array; // [hidden]   the residual stream
  xb: Float32Array; // [hidden]   normed x
  ffnOut: Float32Array; // [hidden]   attention / ffn output before the residual add
  expertOut: Float32Array; // [hidden]   one expert's output
  q: Float32Array; // [heads*headDim]
  k: Float32Array; // [kvHeads*headDim]
  v: Float32Array; // [kvHeads*headDim]
  attnOut: Float32Array; // [heads*headDim]
  hb: Float32Array; // [maxIntermediate]  gate(x), then silu(gate)·up
  hb2: Float32Array; // [maxIntermediate]  up(x)
  scores: Float32Array; // [maxContext]  attention scores of one head
  routerLogits: Float32Array; // [experts]
  logits: Float32Array; // [vocab]
  keyCache: Float32Array[]; // [layers] × [maxContext, kvHeads*headDim]
  valueCache: Float32Array[]; // [layers] × [maxContext, kvHeads*headDim]
  maxContext: number;
}

export function createRunState(model: ModelF32, maxContext: number): RunState {
  const s = model.spec;
  const kvDim = s.kvHeads * s.headDim;
  const widths = [s.moe ? 0 : s.intermediate, s.moe?.expertIntermediate ?? 0, s.moe?.sharedExpert?.intermediate ?? 0];
  const maxIntermediate = Math.max(...widths);
  return {
    x: new Float32Array(s.hidden),
    xb: new Float32Array(s.hidden),
    ffnOut: new Float32Array(s.hidden),
    expertOut: new Float32Array(s.hidden),
    q: new Float32Array(s.heads * s.headDim),
    k: new Float32Array(kvDim),
    v: new Float32Array(kvDim),
    attnOut: new Float32Array(s.heads * s.headDim),
    hb: new Float32Array(maxIntermediate),
    hb2: new Float32Array(maxIntermediate),
    scores: new Float32Array(maxContext),
    routerLogits: new Float32Array(s.moe?.experts ?? 0),
    logits: new Float32Array(s.vocab),
    keyCache: Array.from({ length: s.layers }, () => new Float32Array(maxContext * kvDim)),
    valueCache: Array.from({ length: s.layers }, () => new Float32Array(maxContext * kvDim)),
    maxContext,
  };
}

// ----------------------------------------------------------------------------
// Feed-forward: one SwiGLU MLP

/** out = down · (silu(gate · x) ⊙ (up · x)).  out, x // [hidden] */
export function swigluMlp(out: Float32Array, mlp: MlpF32, x: Float32Array, state: RunState): void {
  const hidden = x.length;
  const inter = mlp.intermediate;
  const gate = state.hb.subarray(0, inter); // [inter]
  const up = state.hb2.subarray(0, inter); // [inter]
  matmul(gate, mlp.gate, x, inter, hidden);
  matmul(up, mlp.up, x, inter, hidden);
  swiglu(gate, gate, up);
  matmul(out, mlp.down, gate, hidden, inter);
}

// ----------------------------------------------------------------------------
// The forward pass of one token

export interface TokenForwardOptions {
  /** The request's routing (planRouting), set for MoE models. */
  routingPlan?: RoutingPlan;
  /** Receives the residual-stream input of every layer (layer 0's is the embedding). */
  layerInputs?: Float32Array[]; // [layers] × [hidden], filled when given
}

/**
 * Runs `token` at position `pos` (the KV cache must hold positions 0..pos-1) and writes
 * state.logits. Returns the routing of every MoE layer ([] for dense models).
 */
export function forwardToken(
  model: ModelF32,
  state: RunState,
  token: number,
  pos: number,
  options: TokenForwardOptions = {},
): LayerRouting[] {
  const spec = model.spec;
  const { hidden, heads, kvHeads, headDim } = spec;
  const kvDim = kvHeads * headDim;
  const qDim = heads * headDim;
  assert(pos >= 0 && pos < state.maxContext, `forwardToken: pos ${pos} outside [0, ${state.maxContext})`);
  assert(token >= 0 && token < spec.vocab, `forwardToken: token ${token} outside [0, ${spec.vocab})`);
  const { x, xb, q, k, v } = state;
  const routing: LayerRouting[] = [];

  // token embedding → residual stream
  x.set(model.embed.subarray(token * hidden, (token + 1) * hidden));

  for (let l = 0; l < spec.layers; l++) {
    const layer = model.layers[l];
    if (options.layerInputs) options.layerInputs[l] = x.slice();

    // ---- attention: qkv projections (+ qwen2 bias)
    rmsnorm(xb, x, layer.attnNorm, spec.rmsEps);
    matmul(q, layer.wq, xb, qDim, hidden);
    matmul(k, layer.wk, xb, kvDim, hidden);
    matmul(v, layer.wv, xb, kvDim, hidden);
    if (layer.bq) addInPlace(q, layer.bq);
    if (layer.bk) addInPlace(k, layer.bk);
    if (layer.bv) addInPlace(v, layer.bv);
    // ---- qwen3: each head of q and k RMS-normalized before RoPE
    if (layer.qNorm) rmsnormHeads(q, heads, headDim, layer.qNorm, spec.rmsEps);
    if (layer.kNorm) rmsnormHeads(k, kvHeads, headDim, layer.kNorm, spec.rmsEps);

    // ---- RoPE on q and k, then k, v into this layer's cache row `pos`
    rope(q, heads, headDim, pos, spec.ropeTheta, spec.ropeStyle, spec.ropeScaling);
    rope(k, kvHeads, headDim, pos, spec.ropeTheta, spec.ropeStyle, spec.ropeScaling);
    state.keyCache[l].set(k, pos * kvDim);
    state.valueCache[l].set(v, pos * kvDim);

    // ---- causal GQA attention over positions first..pos (first = 0, or the sliding window's
    //      start: Mistral, and Qwen2's layers from max_window_layers on, see only the last
    //      slidingWindow positions), output projection, residual
    const window = attentionWindow(spec, l);
    const first = window === undefined ? 0 : Math.max(0, pos + 1 - window);
    attention(
      state.attnOut,
      q,
      state.keyCache[l].subarray(first * kvDim),
      state.valueCache[l].subarray(first * kvDim),
      pos + 1 - first,
      heads,
      kvHeads,
      headDim,
      state.scores,
    );
    matmul(state.ffnOut, layer.wo, state.attnOut, hidden, qDim);
    addInPlace(x, state.ffnOut);

    // ---- feed-forward on the normed residual
    rmsnorm(xb, x, layer.ffnNorm, spec.rmsEps);
    const ffnOut = state.ffnOut;
    if (layer.mlp) {
      swigluMlp(ffnOut, layer.mlp, xb, state);
    } else {
      const moe = layer.moe;
      const moeSpec = spec.moe;
      assert(moe !== undefined && moeSpec !== undefined, `forwardToken: layer ${l} has neither mlp nor moe`);
      assert(options.routingPlan !== undefined, 'forwardToken: an MoE layer needs options.routingPlan (planRouting)');
      // router → THE routing rule → weighted sum of the chosen experts
      matmul(state.routerLogits, moe.router, xb, moeSpec.experts, hidden);
      const route = routeToken(state.routerLogits, moeSpec, options.routingPlan.layers[l]!);
      ffnOut.fill(0);
      for (let slot = 0; slot < route.expertIds.length; slot++) {
        swigluMlp(state.expertOut, moe.experts[route.expertIds[slot]], xb, state);
        addScaledInPlace(ffnOut, state.expertOut, route.expertWeights[slot]);
      }
      // Qwen2-MoE shared expert, always on, scaled by sigmoid(sharedGate · x) when gated
      if (moe.shared) {
        const gate = moe.sharedGate ? sharedExpertGate(dot(moe.sharedGate, xb)) : 1;
        if (moe.sharedGate) route.sharedGate = gate;
        swigluMlp(state.expertOut, moe.shared, xb, state);
        addScaledInPlace(ffnOut, state.expertOut, gate);
      }
      routing.push(route);
    }
    addInPlace(x, ffnOut);
  }

  // final norm and classifier
  rmsnorm(x, x, model.finalNorm, spec.rmsEps);
  matmul(state.logits, model.lmHead, x, spec.vocab, hidden);
  return routing;
}
