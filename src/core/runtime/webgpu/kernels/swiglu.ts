/**
 * swiglu.wgsl — gate[i] = silu(gate[i]) · up[i] in place over nTokens·N values.
 * Bindings: 0 params, 1 gate (read_write, [nTokens, N]), 2 up (read, [nTokens, N]).
 * Workgroup 64; grid (min(ceil(count/64), 65535), ceil(ceil(count/64)/65535), 1).
 * Bytes moved: 12·count.
 */
import { WGSL_SOURCES } from './wgsl-sources.generated.ts';
import { groups, MAX_GRID_DIM, packParams, type KernelLaunch } from './launch.ts';

export const swigluSource = WGSL_SOURCES['swiglu.wgsl'];

export function swigluLaunch(count: number): KernelLaunch {
  const total = groups(count);
  return {
    params: packParams([count]),
    grid: [Math.min(total, MAX_GRID_DIM), Math.ceil(total / MAX_GRID_DIM), 1],
    weightBytes: 0,
  };
}
