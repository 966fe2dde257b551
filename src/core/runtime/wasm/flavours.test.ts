/**
 * The q4_0 block dot's two flavours in Node: Node 20's V8 has relaxed SIMD behind
 * --experimental-wasm-relaxed-simd (the CLI launcher turns it on; on from Node 22), so this
 * file turns it on at run time as bin/moe-studio.mjs does and checks the relaxed binary gives
 * the plain one's bits (flavours.browser.test.ts does the same in Chromium).
 */
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { FLAVOUR_SHAPES, q4MatmulBits } from './flavours.testing.ts';
import { KERNELS_WASM_RELAXED_BASE64 } from './kernels-wasm.ts';

const seed = (Date.now() ^ 0x1f2b) >>> 0;
console.log(`flavours.test seed ${seed}`);

describe('q4_0 kernels: relaxed and plain SIMD in Node', () => {
  it('the relaxed binary validates once the V8 flag is on', () => {
    setFlagsFromString('--experimental-wasm-relaxed-simd');
    expect(WebAssembly.validate(Buffer.from(KERNELS_WASM_RELAXED_BASE64, 'base64'))).toBe(true);
  });

  it.each(FLAVOUR_SHAPES)('m=%i n=%i k=%i: the same bits', async (m, n, k) => {
    const [relaxed, plain] = [await q4MatmulBits('relaxed', seed, m, n, k), await q4MatmulBits('plain', seed, m, n, k)];
    expect(relaxed.some((v) => v !== 0)).toBe(true);
    expect(relaxed).toEqual(plain);
  });
});
