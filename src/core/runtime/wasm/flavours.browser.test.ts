/**
 * The q4_0 block dot in its two flavours (build-kernels.ts): Chromium runs the relaxed-SIMD
 * one (pmaddubsw on x64), Node 20 the plain-SIMD one; both sum the same exact integers, so a
 * matmul gives the same bits in each, for decode (4-row groups and tail rows) and prefill
 * (the tile), on fresh random weights and activations.
 */
import { describe, expect, it } from 'vitest';
import { fillNormal, mulberry32 } from '../../model/random.ts';
import { quantize } from '../../quant/convert.ts';
import { WasmArena } from './arena.ts';
import { instantiateKernels, preferredU4Flavour, type U4Flavour } from './kernels.ts';
import { packMatrix } from './layout.ts';
import { WasmMatmul } from './matmul.ts';
import { SerialRows } from './parallel.ts';

const seed = (Date.now() ^ 0x0f1a) >>> 0;
console.log(`flavours.browser.test seed ${seed}`);

async function run(flavour: U4Flavour, m: number, n: number, k: number): Promise<Uint32Array> {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
  const kernels = await instantiateKernels(memory, false, flavour);
  const arena = new WasmArena(memory);
  const values = fillNormal(new Float32Array(n * k), mulberry32(seed), 1 / Math.sqrt(k));
  const x = fillNormal(new Float32Array(m * k), mulberry32(seed + 1), 1);
  const packed = packMatrix(arena, quantize('w', values, [n, k], 'q4_0'));
  const xPtr = arena.alloc(m * k * 4, 'x');
  const yPtr = arena.alloc(m * n * 4, 'y');
  arena.f32(xPtr, m * k).set(x);
  new WasmMatmul(kernels, new SerialRows(kernels), arena, m, k).run(packed, xPtr, yPtr, m);
  return new Uint32Array(arena.f32(yPtr, m * n).slice().buffer);
}

describe('q4_0 kernels: relaxed and plain SIMD', () => {
  it('Chromium validates the relaxed-SIMD binary, so the tab runs it', () => {
    expect(preferredU4Flavour()).toBe('relaxed');
  });

  it.each([
    [1, 39, 256],
    [6, 45, 160],
    [17, 64, 2048],
  ])('m=%i n=%i k=%i: the same bits', async (m, n, k) => {
    const [relaxed, plain] = [await run('relaxed', m, n, k), await run('plain', m, n, k)];
    expect(relaxed.some((v) => v !== 0)).toBe(true);
    expect(relaxed).toEqual(plain);
  });
});
