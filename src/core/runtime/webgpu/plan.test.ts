/**
 * GPU-free parts of the WebGPU backend, in Node: the weight-format table agrees with the
 * core's DTYPE_TRAITS and kernel launches state grids that cover their outputs (the routing
 * plan they consume is runtime/routing.ts's, tested in routing.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { DTYPE_TRAITS, tensorByteLength } from '../../quant/dtype-traits.ts';
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
