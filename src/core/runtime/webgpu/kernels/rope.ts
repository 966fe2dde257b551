/**
 * rope.wgsl — RoPE in place on q [nTokens, qHeads*headDim] and on key-cache rows
 * position..position+nTokens-1 ([maxContext, kvHeads*headDim]).
 * Bindings: 0 params, 1 q (read_write), 2 keyCache (read_write), 3 cosSin (read,
 * [maxContext, headDim/2] vec2 f32 built by `ropeTable`). Workgroup 64 (one rotated pair
 * per invocation); grid (ceil((qHeads+kvHeads)·headDim/2 / 64), nTokens, 1).
 * Bytes moved: 16·(qHeads+kvHeads)·headDim/2·nTokens.
 */
import { WGSL_SOURCES } from './wgsl-sources.generated.ts';
import { groups, packParams, type KernelLaunch } from './launch.ts';
import type { RopeScaling } from '../../../model/spec.ts';
import { ropeInverseFrequency } from '../../../model/rope.ts';

export const ropeSource = WGSL_SOURCES['rope.wgsl'];

export type RopeStyle = 'half' | 'interleaved';
const ROPE_STYLE_CODE = { half: 0, interleaved: 1 } as const satisfies Record<RopeStyle, number>;

export interface RopeArgs {
  nTokens: number;
  position: number;
  headDim: number;
  qHeads: number;
  kvHeads: number;
  style: RopeStyle;
}

export function ropeLaunch(a: RopeArgs): KernelLaunch {
  const pairs = (a.qHeads + a.kvHeads) * (a.headDim / 2);
  return {
    params: packParams([a.nTokens, a.position, a.headDim, a.qHeads, a.kvHeads, ROPE_STYLE_CODE[a.style]]),
    grid: [groups(pairs), a.nTokens, 1],
    weightBytes: 0,
  };
}

/** cos/sin of pos·theta^(−2j/headDim) (with Llama 3's scaling when given) in f64, stored f32: [maxContext, headDim/2, 2]. */
export function ropeTable(maxContext: number, headDim: number, theta: number, scaling?: RopeScaling): Float32Array {
  const half = headDim / 2;
  const table = new Float32Array(maxContext * half * 2);
  const frequencies = Float64Array.from({ length: half }, (_, j) => ropeInverseFrequency(j, headDim, theta, scaling));
  for (let pos = 0; pos < maxContext; pos++) {
    for (let j = 0; j < half; j++) {
      const angle = pos * frequencies[j]!;
      table[(pos * half + j) * 2] = Math.cos(angle);
      table[(pos * half + j) * 2 + 1] = Math.sin(angle);
    }
  }
  return table;
}
