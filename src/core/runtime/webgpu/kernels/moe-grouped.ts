/**
 * Prefill expert dispatch grouped by expert (decode uses moe.ts's per-token kernels).
 *
 * moe_group.wgsl — per expert, the list of assignments a = t*slots + slot routed to it.
 *   Bindings: 0 params, 1 route (read), 2 groups (read_write, [experts] counts then
 *   [experts, listStride] lists). Grid (ceil(experts/64), 1, 1).
 * moe_gate_up_grouped.wgsl — h[a] = silu(gate_e·x[t]) ⊙ (up_e·x[t]) for a in e's list.
 *   Bindings: 0 params, 1 wGate, 2 wUp (read, stacked [experts*N, K]), 3 x (read),
 *   4 groups (read), 5 h (read_write, [nTokens*slots, N]). Grid (ceil(N/64), experts, ceil(nTokens/4)).
 * moe_down_grouped.wgsl — yExpert[a] = expertWeights[a] · down_e·h[a].
 *   Bindings: 0 params, 1 wDown (read), 2 h (read), 3 groups (read), 4 route (read),
 *   5 yExpert (read_write, [nTokens*slots, hidden]). Grid (ceil(hidden/64), experts, ceil(nTokens/4)).
 * moe_combine.wgsl — y[t] += Σ_slot yExpert[t, slot], skipping slots a top-p token left unused.
 *   Bindings: 0 params, 1 yExpert (read), 2 route (read), 3 y (read_write).
 *   Grid (ceil(hidden/64), nTokens, 1).
 * Bytes of weights read: each used expert's rows once per 4 of its assignments. The counts
 * live on the GPU, so `weightBytes` reports the upper bound min(E·⌈n/4⌉, ⌈n·k/4⌉ + E) tiles.
 * A stack split past the binding limit (upload.ts) runs gate_up and down once per part
 * (`part`), over the part's experts and rows only, each reporting its share of the bound.
 */
import { WGSL_SOURCES } from './wgsl-sources.generated.ts';
import { groups, packParams, wholePart, type KernelLaunch, type WeightPart } from './launch.ts';
import { activationSource, weightDotSource, weightRowBytes, type GpuWeightDType } from './weight-formats.ts';

const groupSource = WGSL_SOURCES['moe_group.wgsl'];
const gateUpGroupedWgsl = WGSL_SOURCES['moe_gate_up_grouped.wgsl'];
const downGroupedWgsl = WGSL_SOURCES['moe_down_grouped.wgsl'];
const combineSource = WGSL_SOURCES['moe_combine.wgsl'];

export { groupSource as moeGroupSource, combineSource as moeCombineSource };
export const GROUP_TILE = 4; // assignments per invocation (rowdot's dot4)

export function moeGateUpGroupedSource(dtype: GpuWeightDType): string {
  return [
    weightDotSource(dtype, 'wGate', 'x'),
    weightDotSource(dtype, 'wUp', 'x'),
    activationSource('x'),
    gateUpGroupedWgsl,
  ].join('\n');
}

export function moeDownGroupedSource(dtype: GpuWeightDType): string {
  return [weightDotSource(dtype, 'wDown', 'h'), activationSource('h'), downGroupedWgsl].join('\n');
}

/** Words of the groups buffer for `experts` lists of `listStride`. */
export function moeGroupsWords(experts: number, listStride: number): number {
  return experts + experts * listStride;
}

function tileBound(experts: number, nTokens: number, slots: number): number {
  return Math.min(experts * Math.ceil(nTokens / GROUP_TILE), Math.ceil((nTokens * slots) / GROUP_TILE) + experts);
}

export interface MoeGroupArgs {
  nTokens: number;
  slots: number;
  experts: number;
  routeBase: number;
  routeStride: number;
  listStride: number;
}

export function moeGroupLaunch(a: MoeGroupArgs): KernelLaunch {
  return {
    params: packParams([a.nTokens, a.slots, a.experts, a.routeBase, a.routeStride, a.listStride]),
    grid: [groups(a.experts), 1, 1],
    weightBytes: 0,
  };
}

export interface MoeGroupedArgs {
  dtype: GpuWeightDType;
  N: number;
  K: number;
  nTokens: number;
  slots: number;
  experts: number;
  listStride: number;
  /** The part of the stack this dispatch reads (default the whole). */
  part?: WeightPart;
}

function partOf(a: MoeGroupedArgs): WeightPart {
  return a.part ?? wholePart(a.experts, a.N);
}

function partShare(a: MoeGroupedArgs): number {
  const part = partOf(a);
  return (part.rowCount / a.N) * (part.expertCount / a.experts);
}

function partWords(a: MoeGroupedArgs): number[] {
  const part = partOf(a);
  return [part.expert0, part.expertCount, part.row0, part.rowCount];
}

export function moeGateUpGroupedLaunch(a: MoeGroupedArgs & { xOffset?: number; xStride?: number }): KernelLaunch {
  return {
    params: packParams([a.N, a.K, a.slots, a.experts, a.xOffset ?? 0, a.xStride ?? a.K, a.listStride, ...partWords(a)]),
    grid: [groups(partOf(a).rowCount), partOf(a).expertCount, Math.ceil(a.nTokens / GROUP_TILE)],
    weightBytes: tileBound(a.experts, a.nTokens, a.slots) * 2 * a.N * weightRowBytes(a.dtype, a.K) * partShare(a),
  };
}

export function moeDownGroupedLaunch(
  a: MoeGroupedArgs & { routeBase: number; routeStride: number; weightOffset: number },
): KernelLaunch {
  return {
    params: packParams([
      a.N,
      a.K,
      a.slots,
      a.experts,
      a.listStride,
      a.routeBase,
      a.routeStride,
      a.weightOffset,
      ...partWords(a),
    ]),
    grid: [groups(partOf(a).rowCount), partOf(a).expertCount, Math.ceil(a.nTokens / GROUP_TILE)],
    weightBytes: tileBound(a.experts, a.nTokens, a.slots) * a.N * weightRowBytes(a.dtype, a.K) * partShare(a),
  };
}

export function moeCombineLaunch(a: {
  N: number;
  nTokens: number;
  slots: number;
  yOffset?: number;
  yStride?: number;
  routeBase: number;
  routeStride: number;
}): KernelLaunch {
  return {
    params: packParams([a.N, a.nTokens, a.slots, a.yOffset ?? 0, a.yStride ?? a.N, a.routeBase, a.routeStride]),
    grid: [groups(a.N), a.nTokens, 1],
    weightBytes: 0,
  };
}
