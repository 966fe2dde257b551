/**
 * qk_norm.wgsl — Qwen3's per-head RMSNorm of q and of the new k rows, in place, before RoPE.
 * Bindings: 0 params, 1 q (read_write, [nTokens, qHeads·headDim]), 2 keyCache (read_write,
 * [maxContext, kvHeads·headDim]), 3 qNorm (read, [headDim]), 4 kNorm (read, [headDim]).
 * Workgroup 64 = one head of one token (tree reduction); grid (qHeads + kvHeads, nTokens, 1).
 * Bytes moved: 8·headDim weights + 8·(qHeads + kvHeads)·headDim·nTokens activations.
 */
import { WGSL_SOURCES } from './wgsl-sources.generated.ts';
import { packParams, type KernelLaunch } from './launch.ts';

export const qkNormSource = WGSL_SOURCES['qk_norm.wgsl'];

export interface QkNormArgs {
  nTokens: number;
  position: number;
  headDim: number;
  qHeads: number;
  kvHeads: number;
  eps: number;
}

export function qkNormLaunch(a: QkNormArgs): KernelLaunch {
  return {
    params: packParams([a.nTokens, a.position, a.headDim, a.qHeads, a.kvHeads, { f32: a.eps }]),
    grid: [a.qHeads + a.kvHeads, a.nTokens, 1],
    weightBytes: 8 * a.headDim,
  };
}
