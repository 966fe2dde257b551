/**
 * Causal GQA attention over a layer's KV cache, three barrier-free passes, each query over the
 * `window` positions up to itself (Mistral's sliding_window; maxContext: all of them):
 * attention_scores.wgsl — scores[t, h, j] = q[t,h]·k[j,kvh]/sqrt(headDim), position+t−window < j ≤ position+t.
 *   Bindings: 0 params, 1 q (read, [nTokens, qHeads*headDim]), 2 keyCache (read,
 *   [maxContext, kvHeads*headDim]), 3 scores (read_write, [nTokens, qHeads, maxContext]).
 *   Grid (ceil((position+nTokens)/64), qHeads, nTokens).
 * attention_softmax.wgsl — scores[t, h, :] = softmax(scores[t, h, :]) in place over the window's j.
 *   Bindings: 0 params, 1 scores (read_write). Grid (ceil(qHeads/64), nTokens, 1).
 * attention_values.wgsl — out[t, h, :] = Σ_j probs[t, h, j] · v[j, kvh, :].
 *   Bindings: 0 params, 1 probs (read, the softmaxed scores), 2 valueCache (read), 3 out
 *   (read_write, [nTokens, qHeads*headDim]). Grid (ceil(headDim/64), qHeads, nTokens).
 * Bytes moved per token: 4·min(position+1, window)·kvHeads·headDim each for K and V (cache, not weights).
 */
import { WGSL_SOURCES } from './wgsl-sources.generated.ts';
import { groups, packParams, type KernelLaunch } from './launch.ts';

export const attentionScoresSource = WGSL_SOURCES['attention_scores.wgsl'];
export const attentionSoftmaxSource = WGSL_SOURCES['attention_softmax.wgsl'];
export const attentionValuesSource = WGSL_SOURCES['attention_values.wgsl'];

export interface AttentionArgs {
  nTokens: number;
  position: number; // absolute position of token 0 (cache already holds 0..position+nTokens-1)
  headDim: number;
  qHeads: number;
  kvHeads: number;
  maxContext: number;
  /** Positions each query sees, itself included: the model's sliding_window, else maxContext (all). */
  window: number;
}

export function attentionScoresLaunch(a: AttentionArgs): KernelLaunch {
  return {
    params: packParams([
      a.nTokens,
      a.position,
      a.headDim,
      a.qHeads,
      a.kvHeads,
      a.maxContext,
      { f32: 1 / Math.sqrt(a.headDim) },
      a.window,
    ]),
    grid: [groups(a.position + a.nTokens), a.qHeads, a.nTokens],
    weightBytes: 0,
  };
}

export function attentionSoftmaxLaunch(a: AttentionArgs): KernelLaunch {
  return {
    params: packParams([a.nTokens, a.position, a.qHeads, a.maxContext, a.window]),
    grid: [groups(a.qHeads), a.nTokens, 1],
    weightBytes: 0,
  };
}

export function attentionValuesLaunch(a: AttentionArgs): KernelLaunch {
  return {
    params: packParams([a.nTokens, a.position, a.headDim, a.qHeads, a.kvHeads, a.maxContext, a.window]),
    grid: [groups(a.headDim), a.qHeads, a.nTokens],
    weightBytes: 0,
  };
}
