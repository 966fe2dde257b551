/**
 * The WASM SIMD kernels against the CPU reference (cpu/ops.ts) on fresh seeded random
 * inputs, with named tolerances; and the committed binary against a fresh wabt build.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { quantize, dequantize } from '../../quant/convert.ts';
import { mulberry32, fillNormal } from '../../model/random.ts';
import { attention, matmul, roundQ8x, swiglu } from '../cpu/ops.ts';
import { assertAllclose, type Tolerance } from '../cpu/allclose.testing.ts';
import { WasmArena } from './arena.ts';
import { BANK_EXPORTS, buildKernels, expandU4Macros, kernelsModuleText } from './build-kernels.ts';
import { attnHeadsDims, instantiateKernels } from './kernels.ts';
import { packMatrix } from './layout.ts';
import { WasmMatmul } from './matmul.ts';
import { SerialRows, callRowKernel, type RowJob, type RowParallel } from './parallel.ts';

/** f32 weights: only the summation order differs (f32 lanes vs the reference's f64). */
const MATMUL_F32_TOL: Tolerance = { atol: 1e-5, rtol: 1e-5 };
/**
 * q8_0 weights: the kernel quantizes activations to q16 (15-bit, per 32-block), an error of
 * ≤ 2^-16 of each block's max; over k products that stays below 2e-4 here. q4_0 weights read
 * q8x activations (8-bit, as llama.cpp's): against the reference fed the same rounded
 * activations (roundQ8x) only the summation order differs, so the same 2e-4 holds there.
 */
const MATMUL_QUANT_TOL: Tolerance = { atol: 2e-4, rtol: 2e-4 };
const ATTENTION_TOL: Tolerance = { atol: 1e-5, rtol: 1e-5 };

const seed = (Date.now() ^ 0x5eed) >>> 0; // fresh inputs each run; printed so a failure can be replayed
console.log(`wasm kernels.test seed ${seed}`);

function randomValues(count: number, stream: number, std = 1): Float32Array {
  return fillNormal(new Float32Array(count), mulberry32((seed + stream * 7919) >>> 0), std);
}

async function freshEngine() {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
  const kernels = await instantiateKernels(memory, false);
  return { arena: new WasmArena(memory), kernels };
}

describe('committed kernels binary', () => {
  it('kernels-wasm.ts equals a fresh wabt build of kernels.wat', async () => {
    const here = new URL('.', import.meta.url);
    const wat = readFileSync(new URL('kernels.wat', here), 'utf8');
    const committed = readFileSync(new URL('kernels-wasm.ts', here), 'utf8');
    expect(committed).toBe(kernelsModuleText(await buildKernels(wat)));
  });
  it('kernels-bank-wasm.ts equals a fresh bank build, which exports only the matmuls', async () => {
    const here = new URL('.', import.meta.url);
    const wat = readFileSync(new URL('kernels.wat', here), 'utf8');
    const committed = readFileSync(new URL('kernels-bank-wasm.ts', here), 'utf8');
    const bank = await buildKernels(wat, 'bank');
    expect(committed).toBe(kernelsModuleText(bank, 'BANK_'));
    // (Node 20 cannot compile a two-memory module, so the exports are read from the expanded text)
    const text = expandU4Macros(wat, 'plain', 'bank');
    expect([...text.matchAll(/\(export "(\w+)"\)/g)].map((m) => m[1]).sort()).toEqual([...BANK_EXPORTS].sort());
    expect(text).toContain('(import "env" "weights" (memory $weights');
    expect(expandU4Macros(wat, 'plain')).not.toContain('$weights');
  });
});

describe.each(['f32', 'f16', 'bf16', 'q8_0', 'q4_0'] as const)('matmul %s against cpu/ops matmul', (dtype) => {
  it.each([
    [1, 37, 96],
    [5, 64, 160],
    [3, 9, 1024],
  ])('m=%i n=%i k=%i', async (m, n, k) => {
    const { arena, kernels } = await freshEngine();
    const weights = quantize('w', randomValues(n * k, 1, 1 / Math.sqrt(k)), [n, k], dtype);
    const dense = dequantize(weights); // [n, k] the values the reference sees
    const x = randomValues(m * k, 2); // [m, k]
    const packed = packMatrix(arena, weights);
    const xPtr = arena.alloc(m * k * 4, 'x');
    const yPtr = arena.alloc(m * n * 4, 'y');
    const matmuls = new WasmMatmul(kernels, new SerialRows(kernels), arena, m, k);
    arena.f32(xPtr, m * k).set(x);
    matmuls.run(packed, xPtr, yPtr, m);
    const actual = arena.f32(yPtr, m * n).slice();
    const expected = new Float32Array(m * n);
    const xOf = (t: number) =>
      dtype === 'q4_0' ? roundQ8x(x.subarray(t * k, (t + 1) * k), k) : x.subarray(t * k, (t + 1) * k);
    for (let t = 0; t < m; t++) matmul(expected.subarray(t * n, (t + 1) * n), dense, xOf(t), n, k);
    const tolerance = dtype === 'q8_0' || dtype === 'q4_0' ? MATMUL_QUANT_TOL : MATMUL_F32_TOL;
    assertAllclose(actual, expected, tolerance, `${dtype} matmul m=${m} n=${n} k=${k} seed ${seed}`);
    if (dtype === 'q4_0') {
      // and against unrounded x: within the rounding's own bound Σ_j |w_j| · scale_b(j) / 2
      for (let t = 0; t < m; t++) {
        const exact = new Float32Array(n);
        matmul(exact, dense, x.subarray(t * k, (t + 1) * k), n, k);
        for (let row = 0; row < n; row++) {
          let bound = 0;
          for (let b = 0; b < k; b += 32) {
            let amax = 0;
            for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[t * k + b + j]!));
            for (let j = 0; j < 32; j++) bound += (Math.abs(dense[row * k + b + j]!) * amax) / 127 / 2;
          }
          expect(
            Math.abs(actual[t * n + row]! - exact[row]!),
            `q4_0 row ${row} token ${t}: rounding bound`,
          ).toBeLessThanOrEqual(bound * 1.001 + 1e-5);
        }
      }
    }
  });
});

/** Runs every job's rows as the given odd slices, so rows land in and out of 4-row groups. */
class SlicedRows implements RowParallel {
  readonly threads = 1;
  constructor(
    private readonly kernels: Awaited<ReturnType<typeof instantiateKernels>>,
    private readonly cuts: number[],
  ) {}
  runBatch(jobs: readonly RowJob[]): void {
    for (const job of jobs) {
      const bounds = [0, ...this.cuts.filter((c) => c < job.n), job.n];
      for (let i = 0; i + 1 < bounds.length; i++)
        callRowKernel(this.kernels, job.kernel, job.args, bounds[i]!, bounds[i + 1]!);
    }
  }
  dispose(): void {}
}

describe.each(['q8_0', 'q4_0'] as const)('matmul %s row slicing', (dtype) => {
  it('gives bit-identical rows whether a row runs in a 4-row group or alone (any thread split)', async () => {
    const { arena, kernels } = await freshEngine();
    const [m, n, k] = [2, 23, 160];
    const packed = packMatrix(arena, quantize('w', randomValues(n * k, 5, 1 / Math.sqrt(k)), [n, k], dtype));
    const xPtr = arena.alloc(m * k * 4, 'x');
    const yPtr = arena.alloc(m * n * 4, 'y');
    arena.f32(xPtr, m * k).set(randomValues(m * k, 6));
    new WasmMatmul(kernels, new SerialRows(kernels), arena, m, k).run(packed, xPtr, yPtr, m);
    const grouped = arena.f32(yPtr, m * n).slice(); // rows 0..19 in groups of four, 20..22 alone
    arena.f32(yPtr, m * n).fill(NaN);
    new WasmMatmul(kernels, new SlicedRows(kernels, [1, 2, 7, 11, 18]), arena, m, k).run(packed, xPtr, yPtr, m);
    expect(arena.f32(yPtr, m * n).slice()).toEqual(grouped);
  });

  it('gives every token of a prefill (m tokens, weights unpacked once per block) the bits of m = 1 (decode)', async () => {
    const { arena, kernels } = await freshEngine();
    const [m, n, k] = [7, 23, 160];
    const packed = packMatrix(arena, quantize('w', randomValues(n * k, 8, 1 / Math.sqrt(k)), [n, k], dtype));
    const xPtr = arena.alloc(m * k * 4, 'x');
    const yPtr = arena.alloc(m * n * 4, 'y');
    arena.f32(xPtr, m * k).set(randomValues(m * k, 9));
    const matmuls = new WasmMatmul(kernels, new SerialRows(kernels), arena, m, k);
    arena.f32(yPtr, m * n).fill(NaN);
    matmuls.run(packed, xPtr, yPtr, m);
    const prefill = arena.f32(yPtr, m * n).slice();
    arena.f32(yPtr, m * n).fill(NaN);
    for (let t = 0; t < m; t++) matmuls.run(packed, xPtr + t * k * 4, yPtr + t * n * 4, 1);
    expect(prefill).toEqual(arena.f32(yPtr, m * n).slice());
    expect(prefill.every(Number.isFinite)).toBe(true);
  });
});

describe('matmul_f32 with k not a multiple of 8', () => {
  it('handles the scalar tail (k=13)', async () => {
    const { arena, kernels } = await freshEngine();
    const [m, n, k] = [2, 7, 13];
    const w = randomValues(n * k, 3);
    const x = randomValues(m * k, 4);
    const packed = packMatrix(arena, quantize('w', w, [n, k], 'f32'));
    const xPtr = arena.alloc(m * k * 4, 'x');
    const yPtr = arena.alloc(m * n * 4, 'y');
    arena.f32(xPtr, m * k).set(x);
    new WasmMatmul(kernels, new SerialRows(kernels), arena, m, k).run(packed, xPtr, yPtr, m);
    const expected = new Float32Array(m * n);
    for (let t = 0; t < m; t++) matmul(expected.subarray(t * n, (t + 1) * n), w, x.subarray(t * k, (t + 1) * k), n, k);
    assertAllclose(arena.f32(yPtr, m * n), expected, MATMUL_F32_TOL, `f32 tail seed ${seed}`);
  });
});

/**
 * Random q [heads, headDim], keys/values [nPos, kvHeads * headDim] (streams first, +1, +2; std
 * `std` for q and keys), the reference attention output, and the inputs copied into wasm memory.
 */
async function attentionCase(heads: number, kvHeads: number, headDim: number, nPos: number, stream: number, std = 1) {
  const engine = await freshEngine();
  const kvDim = kvHeads * headDim;
  const q = randomValues(heads * headDim, stream, std);
  const keys = randomValues(nPos * kvDim, stream + 1, std);
  const values = randomValues(nPos * kvDim, stream + 2);
  const expected = new Float32Array(heads * headDim);
  attention(expected, q, keys, values, nPos, heads, kvHeads, headDim);
  const copy = (data: Float32Array, what: string) => {
    const ptr = engine.arena.alloc(data.byteLength, what);
    engine.arena.f32(ptr, data.length).set(data);
    return ptr;
  };
  return { ...engine, kvDim, expected, qPtr: copy(q, 'q'), kPtr: copy(keys, 'k'), vPtr: copy(values, 'v') };
}

describe('attention kernels (attn_scores → softmax → attn_mix)', () => {
  it.each([
    [6, 2, 8, 17],
    [4, 4, 6, 5],
    [9, 3, 64, 40],
  ])('heads=%i kvHeads=%i headDim=%i positions=%i', async (heads, kvHeads, headDim, nPos) => {
    const { arena, kernels, kvDim, expected, qPtr, kPtr, vPtr } = await attentionCase(heads, kvHeads, headDim, nPos, 5);
    const sPtr = arena.alloc(nPos * 4, 'scores');
    const oPtr = arena.alloc(expected.byteLength, 'out');
    const scores = arena.f32(sPtr, nPos);
    for (let h = 0; h < heads; h++) {
      const kvCol = Math.floor(h / (heads / kvHeads)) * headDim * 4;
      kernels.attn_scores(qPtr + h * headDim * 4, kPtr + kvCol, kvDim * 4, headDim, nPos, sPtr, 1 / Math.sqrt(headDim));
      let max = -Infinity;
      for (const s of scores) max = Math.max(max, s);
      let sum = 0;
      for (let t = 0; t < nPos; t++) {
        scores[t] = Math.exp(scores[t]! - max);
        sum += scores[t]!;
      }
      for (let t = 0; t < nPos; t++) scores[t]! /= sum;
      kernels.attn_mix(sPtr, vPtr + kvCol, kvDim * 4, headDim, nPos, oPtr + h * headDim * 4);
    }
    assertAllclose(arena.f32(oPtr, expected.length), expected, ATTENTION_TOL, `attention seed ${seed}`);
  });
});

describe('attn_scores four positions at a time', () => {
  it.each([
    [64, 23],
    [8, 9],
    [128, 4],
  ])(
    'headDim=%i positions=%i: every score has the bits of that position scored alone (the one-position dot)',
    async (headDim, nPos) => {
      const { arena, kernels, kvDim, qPtr, kPtr } = await attentionCase(2, 1, headDim, nPos, 13);
      const together = arena.alloc(nPos * 4, 'scores together');
      const alone = arena.alloc(nPos * 4, 'scores alone');
      const scale = 1 / Math.sqrt(headDim);
      kernels.attn_scores(qPtr, kPtr, kvDim * 4, headDim, nPos, together, scale);
      for (let t = 0; t < nPos; t++)
        kernels.attn_scores(qPtr, kPtr + t * kvDim * 4, kvDim * 4, headDim, 1, alone + t * 4, scale);
      expect(arena.f32(together, nPos)).toEqual(arena.f32(alone, nPos));
    },
  );
});

describe('attn_heads kernel (scores → softmax with expf → mix, heads split like the thread pool)', () => {
  /** expf (≤ 2 ulp) and f32 sums in the softmax, against the reference's f64 Math.exp. */
  const ATTN_HEADS_TOL: Tolerance = { atol: 2e-6, rtol: 2e-5 };
  it.each([
    [6, 2, 8, 17],
    [4, 4, 6, 5],
    [9, 3, 64, 150],
    [2, 1, 16, 1],
  ])('heads=%i kvHeads=%i headDim=%i positions=%i', async (heads, kvHeads, headDim, nPos) => {
    const { arena, kernels, expected, qPtr, kPtr, vPtr } = await attentionCase(heads, kvHeads, headDim, nPos, 8, 2);
    const scoreStride = (nPos + 3) * 4; // a scratch row longer than nPos, as the session's [heads, maxContext]
    const sPtr = arena.alloc(heads * scoreStride, 'scores');
    const oPtr = arena.alloc(expected.byteLength, 'out');
    const dims = attnHeadsDims(headDim, heads / kvHeads, kvHeads);
    const split = Math.floor(heads / 2); // two "threads": [0, split) and [split, heads)
    kernels.attn_heads(qPtr, kPtr, vPtr, oPtr, sPtr, dims, nPos, scoreStride, 0, split);
    kernels.attn_heads(qPtr, kPtr, vPtr, oPtr, sPtr, dims, nPos, scoreStride, split, heads);
    assertAllclose(arena.f32(oPtr, expected.length), expected, ATTN_HEADS_TOL, `attn_heads seed ${seed}`);
  });
});

describe('swiglu kernel against cpu/ops swiglu (Math.exp in f64)', () => {
  /** expf to ≤ 2 ulp and one f32 division and product: a few ulp of the result. */
  const SWIGLU_RTOL = 4e-7;
  it.each([[1], [7], [1536], [1029]])('n=%i, normal inputs plus extremes (saturation, zero, tiny)', async (n) => {
    const { arena, kernels } = await freshEngine();
    const gate = randomValues(n, 11, 4);
    const up = randomValues(n, 12);
    const extremes = [0, -0, 1e-30, -1e-30, 87, -87, 88.5, -88.5, 100, -100, 1e4, -1e4];
    extremes.forEach((v, i) => {
      if (i < n) gate[n - 1 - i] = v;
    });
    const expected = new Float32Array(n);
    swiglu(expected, gate, up);
    const gPtr = arena.alloc(n * 4, 'gate');
    arena.f32(gPtr, n).set(gate);
    const uPtr = arena.alloc(n * 4, 'up');
    arena.f32(uPtr, n).set(up);
    kernels.swiglu(gPtr, uPtr, gPtr, n); // in place, as the forward pass calls it
    const got = arena.f32(gPtr, n);
    let worst = 0;
    for (let i = 0; i < n; i++) {
      // Below 1e-30 in magnitude both are "zero" for any later sum (silu(-100) ≈ -4e-42 in f64).
      const err = Math.abs(got[i]! - expected[i]!);
      if (err > 1e-30) worst = Math.max(worst, err / Math.abs(expected[i]!));
    }
    expect(worst, `worst relative error, seed ${seed}`).toBeLessThanOrEqual(SWIGLU_RTOL);
  });
});
