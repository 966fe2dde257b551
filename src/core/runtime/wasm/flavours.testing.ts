/**
 * Test support: one q4_0 matmul on fresh random weights and activations with a given flavour
 * of the block dot (kernels.ts U4Flavour), its output as raw f32 bits, so two flavours can be
 * compared bit for bit (flavours.test.ts in Node, flavours.browser.test.ts in Chromium).
 */
import { fillNormal, mulberry32 } from '../../model/random.ts';
import { quantize } from '../../quant/convert.ts';
import { WasmArena } from './arena.ts';
import { instantiateKernels, type U4Flavour } from './kernels.ts';
import { packMatrix } from './layout.ts';
import { WasmMatmul } from './matmul.ts';
import { SerialRows } from './parallel.ts';

/** Decode (m = 1: 4-row groups and tail rows) and prefill (the tile) shapes, n not a multiple of 4. */
export const FLAVOUR_SHAPES: [number, number, number][] = [
  [1, 39, 256],
  [6, 45, 160],
  [17, 64, 2048],
];

export async function q4MatmulBits(flavour: U4Flavour, seed: number, m: number, n: number, k: number) {
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
