/**
 * rmsnorm.wgsl — y[t, :] = weight ⊙ x[t, :] / sqrt(mean(x[t, :]²) + eps).
 * Bindings: 0 params, 1 x (read, [nTokens, xStride]), 2 weight (read, [N] f32),
 * 3 y (read_write, [nTokens, yStride]). Workgroup 64 = one token (tree reduction);
 * grid (nTokens, 1, 1). Bytes moved: 4·N weights + 8·N·nTokens activations.
 */
import { WGSL_SOURCES } from './wgsl-sources.generated.ts';
import { packParams, type KernelLaunch } from './launch.ts';

export const rmsnormSource = WGSL_SOURCES['rmsnorm.wgsl'];

export interface RmsnormArgs {
  N: number;
  nTokens: number;
  eps: number;
  xOffset?: number;
  xStride?: number;
  yOffset?: number;
  yStride?: number;
}

export function rmsnormLaunch(a: RmsnormArgs): KernelLaunch {
  return {
    params: packParams([
      a.N,
      a.nTokens,
      a.xOffset ?? 0,
      a.xStride ?? a.N,
      a.yOffset ?? 0,
      a.yStride ?? a.N,
      { f32: a.eps },
    ]),
    grid: [a.nTokens, 1, 1],
    weightBytes: 4 * a.N,
  };
}
