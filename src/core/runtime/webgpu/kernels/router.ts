/**
 * router_topk.wgsl — the fused router: routerLogits → ban → softmax → top-k (+force) →
 * renormalize → ordered ids/weights, written into routing records on the GPU.
 * Bindings: 0 params, 1 routerLogits (read, [nTokens, logitsStride]), 2 route (read_write,
 * records of `routeRecordWords(k, experts)` u32 words, layout in the .wgsl header).
 * Workgroup 64 (one token per invocation); grid (ceil(nTokens/64), 1, 1). Experts ≤ 64.
 *
 * shared_gate.wgsl — the Qwen2-MoE shared expert's slot of the record: id 0 and
 * sigmoid(sharedGate · x) (or 1 when ungated). Bindings: 0 params, 1 gateW (read, [1, hidden]),
 * 2 x (read, [nTokens, xStride]), 3 route (read_write). Grid (ceil(nTokens/64), 1, 1).
 */
import { WGSL_SOURCES } from './wgsl-sources.generated.ts';
import { groups, packParams, type KernelLaunch } from './launch.ts';
import { activationSource, weightDotSource, weightRowBytes, type GpuWeightDType } from './weight-formats.ts';

const routerSource = WGSL_SOURCES['router_topk.wgsl'];
const sharedGateWgsl = WGSL_SOURCES['shared_gate.wgsl'];

export { routerSource };
/** Upper bound on experts per layer: the kernel keeps probabilities in a private array. */
export const ROUTER_MAX_EXPERTS = 64;
/** Expert id of a slot a top-p token leaves unused (router_topk.wgsl NO_EXPERT); its weight is 0. */
export const NO_EXPERT = 0xffffffff;

/** Words of one routing record: ids[R], weights[R], probs[E], shared id, shared gate. */
export function routeRecordWords(recordK: number, experts: number): number {
  return 2 * recordK + experts + 2;
}

/** Word offsets inside a record (see router_topk.wgsl). */
export function routeRecordLayout(recordK: number, experts: number) {
  return {
    ids: 0,
    weights: recordK,
    probs: 2 * recordK,
    sharedId: 2 * recordK + experts,
    sharedGate: 2 * recordK + experts + 1,
  };
}

export interface RouterArgs {
  nTokens: number;
  experts: number;
  k: number; // WGSL Params.k: this layer's experts per token (LayerRoutingPlan.expertsPerToken), already clamped
  recordK: number; // WGSL Params.recordK: slots per record (RoutingPlan.expertsPerToken, the request's)
  normTopK: boolean;
  logitsOffset?: number;
  logitsStride?: number; // default experts
  routeBase: number; // word index of token 0's record
  routeStride: number; // words between tokens' records
  banned: readonly number[];
  forced: readonly number[];
  /** LayerRoutingPlan.topP: WGSL Params.topP / minK; absent = a fixed k. */
  topP?: { p: number; minExperts: number };
}

function mask(ids: readonly number[]): [number, number] {
  const words: [number, number] = [0, 0];
  for (const e of ids) words[e >> 5] = (words[e >> 5] | (1 << (e & 31))) >>> 0;
  return words;
}

export function routerLaunch(a: RouterArgs): KernelLaunch {
  return {
    params: packParams([
      a.nTokens,
      a.experts,
      a.k,
      a.recordK,
      a.normTopK ? 1 : 0,
      a.logitsOffset ?? 0,
      a.logitsStride ?? a.experts,
      a.routeBase,
      a.routeStride,
      a.topP?.minExperts ?? 0,
      ...mask(a.banned),
      ...mask(a.forced),
      { f32: a.topP?.p ?? 0 },
      0,
    ]),
    grid: [groups(a.nTokens), 1, 1],
    weightBytes: 0,
  };
}

export function sharedGateSource(dtype: GpuWeightDType): string {
  return [weightDotSource(dtype, 'gateW', 'x'), activationSource('x'), sharedGateWgsl].join('\n');
}

export interface SharedGateArgs {
  dtype: GpuWeightDType;
  hidden: number;
  nTokens: number;
  gated: boolean;
  xOffset?: number;
  xStride?: number;
  sharedBase: number; // word index of token 0's shared slot
  routeStride: number;
}

export function sharedGateLaunch(a: SharedGateArgs): KernelLaunch {
  return {
    params: packParams([
      a.hidden,
      a.nTokens,
      a.gated ? 1 : 0,
      a.xOffset ?? 0,
      a.xStride ?? a.hidden,
      a.sharedBase,
      a.routeStride,
    ]),
    grid: [groups(a.nTokens), 1, 1],
    weightBytes: a.gated ? a.nTokens * weightRowBytes(a.dtype, a.hidden) : 0,
  };
}
