import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../model/random.ts';
import { matmulRows, prepareRowMatmul, rowMatmulOnWasm } from './row-matmul.ts';

/** f32 sums (kernel) against f64 sums (JS): relative error of a k-term dot product stays ≲ k · 2⁻²⁴. */
const KERNEL_VS_JS_RTOL = 1e-5;

function random(length: number, next: () => number): Float32Array {
  return Float32Array.from({ length }, () => next() * 2 - 1);
}

describe('matmulRows', () => {
  it('runs on the WASM SIMD kernel in Node', async () => {
    expect(await prepareRowMatmul()).toBe(true);
    expect(rowMatmulOnWasm()).toBe(true);
  });

  // shapes: tiny, odd k (kernel tail), more W rows than one 8 MiB block, more x rows than one 2 MiB chunk
  it.each([
    [1, 1, 1],
    [5, 7, 13],
    [64, 512, 256],
    [3, 9000, 257],
    [2100, 300, 260],
  ])('matches the JS loop for %s rows × %s outputs × %s inputs', async (nRows, n, k) => {
    await prepareRowMatmul();
    const next = mulberry32(nRows * 7919 + n * 31 + k);
    const x = random(nRows * k, next);
    const W = random(n * k, next);
    const viaKernel = new Float32Array(nRows * n).fill(Number.NaN);
    const viaJs = new Float32Array(nRows * n);
    matmulRows(viaKernel, x, W, nRows, n, k);
    matmulRows(viaJs, x, W, nRows, n, k, true);
    let worst = 0;
    for (let i = 0; i < viaJs.length; i++) {
      // scale by the sum of |terms| so cancellation does not inflate the relative error
      let magnitude = 0;
      const t = Math.floor(i / n);
      const r = i % n;
      for (let c = 0; c < k; c++) magnitude += Math.abs(x[t * k + c] * W[r * k + c]);
      worst = Math.max(worst, Math.abs(viaKernel[i] - viaJs[i]) / Math.max(magnitude, 1e-30));
    }
    expect(worst).toBeLessThan(KERNEL_VS_JS_RTOL);
  });
});
