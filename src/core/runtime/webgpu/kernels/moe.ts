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
 */
import { WGSL_SOURCES } from './wgsl-sources.generated.ts';
import { groups, packParams, type KernelLaunch } from './launch.ts';
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
}

export function moeGateUpLaunch(a: MoeGateUpArgs): KernelLaunch {
  return {
    params: packParams([a.N, a.K, a.nTokens, a.slots, a.xOffset ?? 0, a.xStride ?? a.K, a.routeBase, a.routeStride]),
    grid: [groups(a.N), a.slots, a.nTokens],
    weightBytes: a.nTokens * a.slots * 2 * a.N * weightRowBytes(a.dtype, a.K),
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
    ]),
    grid: [groups(a.N), a.nTokens, 1],
    weightBytes: a.nTokens * a.slots * a.N * weightRowBytes(a.dtype, a.K),
  };
}
