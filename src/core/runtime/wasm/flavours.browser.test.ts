/**
 * The q4_0 block dot in its two flavours (build-kernels.ts): Chromium runs the relaxed-SIMD
 * one (pmaddubsw on x64); both sum the same exact integers, so a matmul gives the same bits
 * in each, for decode (4-row groups and tail rows) and prefill (the tile), on fresh random
 * weights and activations. flavours.test.ts checks the same in Node.
 */
import { describe, expect, it } from 'vitest';
import { preferredU4Flavour } from './kernels.ts';
import { FLAVOUR_SHAPES, q4MatmulBits } from './flavours.testing.ts';

const seed = (Date.now() ^ 0x0f1a) >>> 0;
console.log(`flavours.browser.test seed ${seed}`);

describe('q4_0 kernels: relaxed and plain SIMD in Chromium', () => {
  it('Chromium validates the relaxed-SIMD binary, so the tab runs it', () => {
    expect(preferredU4Flavour()).toBe('relaxed');
  });

  it.each(FLAVOUR_SHAPES)('m=%i n=%i k=%i: the same bits', async (m, n, k) => {
    const [relaxed, plain] = [await q4MatmulBits('relaxed', seed, m, n, k), await q4MatmulBits('plain', seed, m, n, k)];
    expect(relaxed.some((v) => v !== 0)).toBe(true);
    expect(relaxed).toEqual(plain);
  });
});
