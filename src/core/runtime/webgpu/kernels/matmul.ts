/**
 * matvec.wgsl (decode) and matmul.wgsl (prefill, 4-token tiles):
 *   y[t, yOffset + n] (+)= W[n, :] · x[t, xOffset + :] (+ bias[n])
 * Bindings (both): 0 params (uniform), 1 w (read, [N, K] in its dtype's layout), 2 x (read,
 * [nTokens, xStride] f32), 3 y (read_write, [nTokens, yStride] f32), 4 bias (read, [N] f32).
 * Workgroup 64, one output row per invocation.
 * matvec grid (ceil(N/64), nTokens, 1); bytes of W: N·rowBytes per token.
 * matmul grid (ceil(N/64), ceil(nTokens/4), 1); bytes of W: N·rowBytes per 4-token tile.
 * Activations: 4·nTokens·(K + N) bytes.
 */
import { WGSL_SOURCES } from './wgsl-sources.generated.ts';
import { groups, packParams, type KernelLaunch } from './launch.ts';
import { activationSource, weightDotSource, weightRowBytes, type GpuWeightDType } from './weight-formats.ts';

const tiledSource = WGSL_SOURCES['matmul.wgsl'];
const vecSource = WGSL_SOURCES['matvec.wgsl'];

export const MATMUL_TILE_TOKENS = 4;

/** Prefill (tiled) kernel source for a weight dtype. */
export function matmulSource(dtype: GpuWeightDType): string {
  return `${weightDotSource(dtype, 'w', 'x')}\n${activationSource('x')}\n${tiledSource}`;
}

/** Decode (mat-vec) kernel source for a weight dtype. */
export function matvecSource(dtype: GpuWeightDType): string {
  return `${weightDotSource(dtype, 'w', 'x')}\n${activationSource('x')}\n${vecSource}`;
}

export interface MatmulArgs {
  dtype: GpuWeightDType;
  N: number; // output rows
  K: number; // input length
  nTokens: number;
  xOffset?: number; // elements
  xStride?: number; // default K
  yOffset?: number;
  yStride?: number; // default N
  accumulate?: boolean;
  hasBias?: boolean;
}

function matmulParams(a: MatmulArgs): Uint32Array {
  return packParams([
    a.N,
    a.K,
    a.nTokens,
    a.xOffset ?? 0,
    a.xStride ?? a.K,
    a.yOffset ?? 0,
    a.yStride ?? a.N,
    a.accumulate ? 1 : 0,
    a.hasBias ? 1 : 0,
  ]);
}

/** matvec.wgsl: one invocation per row and token. */
export function matvecLaunch(a: MatmulArgs): KernelLaunch {
  return {
    params: matmulParams(a),
    grid: [groups(a.N), a.nTokens, 1],
    weightBytes: a.N * weightRowBytes(a.dtype, a.K) * a.nTokens + (a.hasBias ? 4 * a.N : 0),
  };
}

/** matmul.wgsl: one invocation per row and 4-token tile. */
export function matmulLaunch(a: MatmulArgs): KernelLaunch {
  const tiles = Math.ceil(a.nTokens / MATMUL_TILE_TOKENS);
  return {
    params: matmulParams(a),
    grid: [groups(a.N), tiles, 1],
    weightBytes: a.N * weightRowBytes(a.dtype, a.K) * tiles + (a.hasBias ? 4 * a.N : 0),
  };
}
