/**
 * matmul.wgsl — tiled mat-mul (prefill) / mat-vec (decode, nTokens = 1):
 *   y[t, yOffset + n] (+)= W[n, :] · x[t, xOffset + :] (+ bias[n])
 * Bindings: 0 params (uniform), 1 w (read, [N, K] in its dtype's layout), 2 x (read,
 * [nTokens, xStride] f32), 3 y (read_write, [nTokens, yStride] f32), 4 bias (read, [N] f32).
 * Workgroup 64 (one output row per invocation, 4 tokens per invocation);
 * grid (ceil(N/64), ceil(nTokens/4), 1).
 * Bytes moved: W once per 4-token tile (N·rowBytes·ceil(nTokens/4)); x, y: 4·nTokens·(K + N).
 */
import source from './matmul.wgsl?raw';
import { groups, packParams, type KernelLaunch } from './launch.ts';
import { weightReaderSource, weightRowBytes, type GpuWeightDType } from './weight-formats.ts';

export const MATMUL_TILE_TOKENS = 4;

export function matmulSource(dtype: GpuWeightDType): string {
  return `${weightReaderSource(dtype, 'w')}\n${source}`;
}

export interface MatmulArgs {
  dtype: GpuWeightDType;
  N: number;          // output rows
  K: number;          // input length
  nTokens: number;
  xOffset?: number;   // elements
  xStride?: number;   // default K
  yOffset?: number;
  yStride?: number;   // default N
  accumulate?: boolean;
  hasBias?: boolean;
}

export function matmulLaunch(a: MatmulArgs): KernelLaunch {
  const tiles = Math.ceil(a.nTokens / MATMUL_TILE_TOKENS);
  return {
    params: packParams([a.N, a.K, a.nTokens, a.xOffset ?? 0, a.xStride ?? a.K, a.yOffset ?? 0, a.yStride ?? a.N,
      a.accumulate ? 1 : 0, a.hasBias ? 1 : 0]),
    grid: [groups(a.N), tiles, 1],
    weightBytes: a.N * weightRowBytes(a.dtype, a.K) * tiles + (a.hasBias ? 4 * a.N : 0),
  };
}
