/**
 * Expert dispatch driven by routing records on the GPU (no CPU round-trip per layer).
 * Expert weights of a layer are stacked per role into one buffer [experts*N, K] (expert e
 * starts at row e*N), so a kernel offsets by the expert id it reads from the record.
 *
 * moe_gate_up.wgsl — h[t, slot, :] = silu(gate_e · x[t]) ⊙ (up_e · x[t]), e = expertIds[t, slot].
 *   Bindings: 0 params, 1 wGate (read), 2 wUp (read), 3 x (read, [nTokens, xStride]),
 *   4 route (read), 5 h (read_write, [nTokens, slots, N]). Grid (ceil(N/64), slots, nTokens).
 * moe_down.wgsl — y[t, :] += Σ_slot expertWeights[t, slot] · down_e · h[t, slot].
 *   Bindings: 0 params, 1 wDown (read), 2 h (read), 3 route (read), 4 y (read_write,
 *   residual [nTokens, yStride]). Grid (ceil(N/64), nTokens, 1).
 * Bytes of weights read: slots·nTokens·(2·N·rowBytes(K)) and slots·nTokens·N·rowBytes(K):
 * only the chosen experts' rows (per token; tokens sharing an expert re-read its rows). Under
 * top-p routing `slots` is the most a token may use, so these are upper bounds: both kernels
 * skip slots whose id is NO_EXPERT (router.ts).
 * A stack split past the binding limit (upload.ts) runs both kernels once per part
 * (`part`: its experts and rows); each skips the slots routed outside its experts, and
 * reports its share of the bytes (rowCount/N · expertCount/experts of the whole).
 */
import { WGSL_SOURCES } from './wgsl-sources.generated.ts';
import { groups, packParams, wholePart, type KernelLaunch, type WeightPart } from './launch.ts';
import { activationSource, weightDotSource, weightRowBytes, type GpuWeightDType } from './weight-formats.ts';

const gateUpWgsl = WGSL_SOURCES['moe_gate_up.wgsl'];
const downWgsl = WGSL_SOURCES['moe_down.wgsl'];

export function moeGateUpSource(dtype: GpuWeightDType): string {
  return [
    weightDotSource(dtype, 'wGate', 'x'),
    weightDotSource(dtype, 'wUp', 'x'),
    activationSource('x'),
    gateUpWgsl,
  ].join('\n');
}

export function moeDownSource(dtype: GpuWeightDType): string {
  return [weightDotSource(dtype, 'wDown', 'h'), activationSource('h'), downWgsl].join('\n');
}

export interface MoeGateUpArgs {
  dtype: GpuWeightDType;
  N: number; // expert intermediate
  K: number; // hidden
  nTokens: number;
  slots: number;
  xOffset?: number;
  xStride?: number;
  routeBase: number;
  routeStride: number;
  /** The part of a split stack this dispatch reads, and the stack's experts (default: the whole). */
  part?: { part: WeightPart; experts: number };
}

/** expert0, expertEnd, row0, partRows: the whole stack when no part is given. */
function partWords(a: { N: number; part?: { part: WeightPart } }): number[] {
  const part = a.part?.part ?? { ...wholePart(0, a.N), expertCount: 0xffffffff };
  return [part.expert0, Math.min(part.expert0 + part.expertCount, 0xffffffff), part.row0, part.rowCount];
}

/** The share of a whole stack's bytes a part's dispatch reads. */
function partShare(a: { N: number; part?: { part: WeightPart; experts: number } }): number {
  return a.part ? (a.part.part.rowCount / a.N) * (a.part.part.expertCount / a.part.experts) : 1;
}

export function moeGateUpLaunch(a: MoeGateUpArgs): KernelLaunch {
  return {
    params: packParams([
      a.N,
      a.K,
      a.nTokens,
      a.slots,
      a.xOffset ?? 0,
      a.xStride ?? a.K,
      a.routeBase,
      a.routeStride,
      ...partWords(a),
    ]),
    grid: [groups(a.part?.part.rowCount ?? a.N), a.slots, a.nTokens],
    weightBytes: a.nTokens * a.slots * 2 * a.N * weightRowBytes(a.dtype, a.K) * partShare(a),
  };
}

export interface MoeDownArgs {
  dtype: GpuWeightDType;
  N: number; // hidden
  K: number; // expert intermediate
  nTokens: number;
  slots: number;
  routeBase: number;
  routeStride: number;
  weightOffset: number;
  yOffset?: number;
  yStride?: number;
  part?: { part: WeightPart; experts: number };
}

export function moeDownLaunch(a: MoeDownArgs): KernelLaunch {
  return {
    params: packParams([
      a.N,
      a.K,
      a.nTokens,
      a.slots,
      a.routeBase,
      a.routeStride,
      a.weightOffset,
      a.yOffset ?? 0,
      a.yStride ?? a.N,
      ...partWords(a),
    ]),
    grid: [groups(a.part?.part.rowCount ?? a.N), a.nTokens, 1],
    weightBytes: a.nTokens * a.slots * a.N * weightRowBytes(a.dtype, a.K) * partShare(a),
  };
}
