/**
 * GPU-free parts of the WebGPU backend, in Node: the weight-format table agrees with the
 * core's DTYPE_TRAITS, the routing plan applies overrides exactly as routeToken does (same
 * k, same errors), and kernel launches state grids that cover their outputs.
 */
import { describe, expect, it } from 'vitest';
import { DTYPE_TRAITS, tensorByteLength } from '../../quant/dtype-traits.ts';
import type { MoeSpec } from '../../model/spec.ts';
import { routeToken } from '../routing.ts';
import type { RoutingOverrides } from '../types.ts';
import { planRouting } from './routing-plan.ts';
import { WEIGHT_FORMATS, weightRowBytes, type GpuWeightDType } from './kernels/weight-formats.ts';
import { matmulLaunch } from './kernels/matmul.ts';
import { moeGateUpLaunch } from './kernels/moe.ts';
import { swigluLaunch } from './kernels/swiglu.ts';

describe('weight formats', () => {
  it.each(Object.keys(WEIGHT_FORMATS) as GpuWeightDType[])('%s matches DTYPE_TRAITS and tensorByteLength', (dtype) => {
    expect(WEIGHT_FORMATS[dtype].blockSize).toBe(DTYPE_TRAITS[dtype].blockSize);
    expect(WEIGHT_FORMATS[dtype].bytesPerBlock).toBe(DTYPE_TRAITS[dtype].bytesPerBlock);
    expect(7 * weightRowBytes(dtype, 96)).toBe(tensorByteLength(dtype, [7, 96]));
  });
  it('rejects rows that are not whole blocks', () => {
    expect(() => weightRowBytes('q4_0', 48)).toThrow(/block size 32/);
  });
});

describe('routing plan follows routeToken', () => {
  const moe: MoeSpec = { experts: 6, topK: 2, normTopK: true, expertIntermediate: 8 };
  const logits = [0.3, -1, 2, 0.5, 0.1, -0.2];
  it.each([
    undefined,
    { topK: 4 },
    { ban: { experts: [0, 1, 2, 3, 4] } },
    { ban: { experts: [1], layers: [2] }, force: { experts: [5] } },
    { topK: 3, force: { experts: [0, 4], layers: [0, 2] } },
  ] as (RoutingOverrides | undefined)[])('%j: same k and forced set per layer', (overrides) => {
    const plan = planRouting(moe, 3, overrides);
    for (let layer = 0; layer < 3; layer++) {
      const reference = routeToken(logits, moe, layer, overrides);
      expect(plan.layers[layer].k).toBe(reference.expertIds.length);
      for (const id of plan.layers[layer].forced) expect(reference.expertIds).toContain(id);
      for (const id of plan.layers[layer].banned) expect(reference.expertIds).not.toContain(id);
    }
  });
  it.each([
    { topK: 7 },
    { ban: { experts: [9] } },
    { force: { experts: [0, 1, 2] } },
    { ban: { experts: [1] }, force: { experts: [1] } },
    { ban: { experts: [0, 1, 2, 3, 4, 5] } },
  ] as RoutingOverrides[])('%j: rejected like routeToken', (overrides) => {
    let referenceError = '';
    try {
      routeToken(logits, moe, 0, overrides);
    } catch (e) {
      referenceError = (e as Error).name;
    }
    expect(referenceError).toBe('ConfigError');
    expect(() => planRouting(moe, 1, overrides)).toThrow(expect.objectContaining({ name: 'ConfigError' }));
  });
});

describe('launch grids cover their outputs', () => {
  it('matmul: rows × 4-token tiles', () => {
    const l = matmulLaunch({ dtype: 'q8_0', N: 130, K: 64, nTokens: 9 });
    expect(l.grid).toEqual([3, 3, 1]);
    expect(l.weightBytes).toBe(130 * 68 * 3);
  });
  it('moe gate/up: rows × slots × tokens; bytes only of the chosen experts', () => {
    const l = moeGateUpLaunch({ dtype: 'q4_0', N: 64, K: 32, nTokens: 1, slots: 2, routeBase: 0, routeStride: 10 });
    expect(l.grid).toEqual([1, 2, 1]);
    expect(l.weightBytes).toBe(2 * 2 * 64 * 18);
  });
  it('swiglu: splits grids wider than 65535 workgroups', () => {
    const l = swigluLaunch(65535 * 64 + 1);
    expect(l.grid).toEqual([65535, 2, 1]);
  });
});
