/**
 * Each WGSL kernel against the CPU reference (runtime/cpu/ops.ts) on fresh seeded random
 * inputs, with a named tolerance per op and the worst mismatch printed (STYLE habit 12).
 * Sizes are odd on purpose (not multiples of the workgroup or of the 4-token tile).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allclose, type Tolerance } from '../cpu/allclose.testing.ts';
import { attention, matmul, rmsnorm, rope, swiglu } from '../cpu/ops.ts';
import { dequantize, quantize } from '../../quant/convert.ts';
import { createGpuContext, type GpuContext } from './gpu-context.ts';
import { KernelHarness, seededUniform, freshTestSeed } from './kernel-harness.testing.ts';
import { matmulLaunch, matmulSource, matvecLaunch, matvecSource } from './kernels/matmul.ts';
import { rmsnormLaunch, rmsnormSource } from './kernels/rmsnorm.ts';
import { ropeLaunch, ropeSource, ropeTable } from './kernels/rope.ts';
import {
  attentionScoresLaunch,
  attentionScoresSource,
  attentionSoftmaxLaunch,
  attentionSoftmaxSource,
  attentionValuesLaunch,
  attentionValuesSource,
} from './kernels/attention.ts';
import { swigluLaunch, swigluSource } from './kernels/swiglu.ts';
import { embedLaunch, embedSource } from './kernels/embed.ts';
import type { GpuWeightDType } from './kernels/weight-formats.ts';

/** Named per-op tolerances: f32 accumulation order differs from the reference's f64 sums. */
const TOLERANCE = {
  matmul: { atol: 2e-5, rtol: 2e-5 },
  matmulQuant: { atol: 1e-4, rtol: 1e-4 }, // same dequantized values; longer f32 sums
  rmsnorm: { atol: 1e-5, rtol: 1e-5 },
  rope: { atol: 1e-5, rtol: 1e-5 },
  attention: { atol: 2e-5, rtol: 2e-5 },
  swiglu: { atol: 1e-6, rtol: 1e-5 },
  embed: { atol: 0, rtol: 0 }, // a gather of dequantized values: exact
} satisfies Record<string, Tolerance>;

/**
 * Fresh random inputs each run: a base seed from the clock, offset per case. It is logged
 * and named in failure messages; replay a failing run with VITE_TEST_SEED=<seed>.
 */
const BASE_SEED = freshTestSeed('kernels.browser.test');

let context: GpuContext;
let harness: KernelHarness;

beforeAll(async () => {
  context = await createGpuContext({ onLog: (m) => console.log(m) });
  harness = new KernelHarness(context);
});
afterAll(() => context?.destroy());

function check(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: Tolerance, label: string): void {
  const report = allclose(actual, expected, tolerance, label);
  console.log(report.message);
  expect(report.ok, `${report.message} (seed ${BASE_SEED})`).toBe(true);
}

const MATMUL_CASES: { dtype: GpuWeightDType; N: number; K: number; nTokens: number }[] = [
  { dtype: 'f32', N: 67, K: 45, nTokens: 1 },
  { dtype: 'f32', N: 130, K: 64, nTokens: 7 },
  { dtype: 'f16', N: 67, K: 45, nTokens: 5 },
  { dtype: 'bf16', N: 33, K: 31, nTokens: 2 },
  { dtype: 'q8_0', N: 67, K: 96, nTokens: 1 },
  { dtype: 'q8_0', N: 65, K: 64, nTokens: 9 },
  { dtype: 'q4_0', N: 67, K: 96, nTokens: 1 },
  { dtype: 'q4_0', N: 129, K: 32, nTokens: 6 },
];

describe('matmul (tiled) and matvec kernels vs cpu matmul', () => {
  it.each(MATMUL_CASES)('$dtype [$N, $K] × $nTokens tokens', async ({ dtype, N, K, nTokens }) => {
    const seed = BASE_SEED + 1000 + N * 7 + K * 13 + nTokens;
    const weight = quantize('w', seededUniform(seed, N * K), [N, K], dtype);
    const wF32 = dequantize(weight); // what the kernel must see
    const x = seededUniform(seed + 1, nTokens * K);
    const bias = seededUniform(seed + 2, N, 0.1);
    const yStart = seededUniform(seed + 3, nTokens * N); // accumulate into this
    const expected = new Float32Array(nTokens * N);
    for (let t = 0; t < nTokens; t++) {
      const row = new Float32Array(N);
      matmul(row, wF32, x.subarray(t * K, (t + 1) * K), N, K);
      for (let n = 0; n < N; n++) expected[t * N + n] = yStart[t * N + n] + row[n] + bias[n];
    }
    const args = { dtype, N, K, nTokens, accumulate: true, hasBias: true };
    const tolerance = dtype.startsWith('q') ? TOLERANCE.matmulQuant : TOLERANCE.matmul;
    const tiled = await harness.runF32(
      `matmul_${dtype}`,
      matmulSource(dtype),
      [weight.data, x, yStart, bias],
      matmulLaunch(args),
      3,
    );
    check(tiled, expected, tolerance, `matmul (tiled) ${dtype} [${N},${K}]×${nTokens}`);
    const vec = await harness.runF32(
      `matvec_${dtype}`,
      matvecSource(dtype),
      [weight.data, x, yStart, bias],
      matvecLaunch(args),
      3,
    );
    check(vec, expected, tolerance, `matvec ${dtype} [${N},${K}]×${nTokens}`);
  });
});

describe('embed kernel gathers dequantized rows', () => {
  it.each(['f32', 'f16', 'q8_0', 'q4_0'] as const)('%s', async (dtype) => {
    const vocab = 11;
    const hidden = dtype.startsWith('q') ? 64 : 45;
    const table = quantize('embed', seededUniform(BASE_SEED + 77, vocab * hidden), [vocab, hidden], dtype);
    const tableF32 = dequantize(table);
    const ids = Uint32Array.from([3, 0, 10, 3, 7]);
    const expected = new Float32Array(ids.length * hidden);
    ids.forEach((id, t) => expected.set(tableF32.subarray(id * hidden, (id + 1) * hidden), t * hidden));
    const x = await harness.runF32(
      'embed',
      embedSource(dtype),
      [table.data, ids, { zeros: expected.byteLength }],
      embedLaunch(dtype, hidden, ids.length, { row0: 0, count: vocab, vocab }),
      3,
    );
    check(x, expected, TOLERANCE.embed, `embed ${dtype}`);
  });

  it.each(['f32', 'q4_0'] as const)('%s: a part of a split table writes only the tokens in its rows', async (dtype) => {
    const vocab = 11;
    const hidden = 64;
    const [row0, count] = [3, 5]; // the part holds rows 3..7
    const table = quantize('embed', seededUniform(BASE_SEED + 78, vocab * hidden), [vocab, hidden], dtype);
    const tableF32 = dequantize(table);
    const rowBytes = table.data.byteLength / vocab;
    const part = table.data.subarray(row0 * rowBytes, (row0 + count) * rowBytes);
    const ids = Uint32Array.from([3, 0, 10, 7, 8, 5]);
    const expected = new Float32Array(ids.length * hidden); // tokens outside the part stay 0
    ids.forEach((id, t) => {
      if (id >= row0 && id < row0 + count) expected.set(tableF32.subarray(id * hidden, (id + 1) * hidden), t * hidden);
    });
    const x = await harness.runF32(
      'embed_part',
      embedSource(dtype),
      [part, ids, { zeros: expected.byteLength }],
      embedLaunch(dtype, hidden, ids.length, { row0, count, vocab }),
      3,
    );
    check(x, expected, TOLERANCE.embed, `embed part ${dtype}`);
  });
});

describe('rmsnorm kernel vs cpu rmsnorm', () => {
  it.each([
    { N: 48, nTokens: 1 },
    { N: 131, nTokens: 5 },
  ])('N=$N × $nTokens tokens', async ({ N, nTokens }) => {
    const x = seededUniform(BASE_SEED + N + 5, nTokens * N, 3);
    const weight = seededUniform(BASE_SEED + N + 6, N);
    const expected = new Float32Array(nTokens * N);
    for (let t = 0; t < nTokens; t++)
      rmsnorm(expected.subarray(t * N, (t + 1) * N), x.subarray(t * N, (t + 1) * N), weight, 1e-5);
    const y = await harness.runF32(
      'rmsnorm',
      rmsnormSource,
      [x, weight, { zeros: x.byteLength }],
      rmsnormLaunch({ N, nTokens, eps: 1e-5 }),
      3,
    );
    check(y, expected, TOLERANCE.rmsnorm, `rmsnorm N=${N}×${nTokens}`);
  });
});

describe('rope kernel vs cpu rope', () => {
  it.each(['half', 'interleaved'] as const)('%s style on q and the key cache', async (style) => {
    const [nTokens, position, headDim, qHeads, kvHeads, maxContext, theta] = [3, 37, 10, 6, 2, 48, 10000];
    const q = seededUniform(BASE_SEED + 11, nTokens * qHeads * headDim);
    const keyCache = seededUniform(BASE_SEED + 12, maxContext * kvHeads * headDim);
    const expectedQ = q.slice();
    const expectedK = keyCache.slice();
    for (let t = 0; t < nTokens; t++) {
      rope(
        expectedQ.subarray(t * qHeads * headDim, (t + 1) * qHeads * headDim),
        qHeads,
        headDim,
        position + t,
        theta,
        style,
      );
      const row = (position + t) * kvHeads * headDim;
      rope(expectedK.subarray(row, row + kvHeads * headDim), kvHeads, headDim, position + t, theta, style);
    }
    const launch = ropeLaunch({ nTokens, position, headDim, qHeads, kvHeads, style });
    const buffers = [q, keyCache, ropeTable(maxContext, headDim, theta)];
    check(await harness.runF32('rope', ropeSource, buffers, launch, 1), expectedQ, TOLERANCE.rope, `rope ${style} q`);
    check(
      await harness.runF32('rope', ropeSource, buffers, launch, 2),
      expectedK,
      TOLERANCE.rope,
      `rope ${style} keys`,
    );
  });
});

describe('attention kernels (scores → softmax → values) vs cpu attention', () => {
  it.each([
    { nTokens: 1, position: 0, window: 80, label: 'first token' },
    { nTokens: 1, position: 70, window: 80, label: 'decode at 70' },
    { nTokens: 9, position: 4, window: 80, label: 'prefill 9 after 4' },
    { nTokens: 1, position: 70, window: 16, label: 'decode at 70, sliding window 16' },
    { nTokens: 9, position: 20, window: 5, label: 'prefill 9 after 20, sliding window 5' },
    { nTokens: 9, position: 0, window: 5, label: 'prefill 9 from 0, sliding window 5 (the first tokens see all)' },
  ])('$label', async ({ nTokens, position, window }) => {
    const [headDim, qHeads, kvHeads, maxContext] = [12, 6, 2, 80];
    const kvDim = kvHeads * headDim;
    const q = seededUniform(BASE_SEED + 21 + position, nTokens * qHeads * headDim);
    const keyCache = seededUniform(BASE_SEED + 22 + position, maxContext * kvDim);
    const valueCache = seededUniform(BASE_SEED + 23 + position, maxContext * kvDim);
    const expected = new Float32Array(nTokens * qHeads * headDim);
    for (let t = 0; t < nTokens; t++) {
      const span = qHeads * headDim;
      const first = Math.max(0, position + t + 1 - window); // the reference's window, as cpu/forward.ts
      attention(
        expected.subarray(t * span, (t + 1) * span),
        q.subarray(t * span, (t + 1) * span),
        keyCache.subarray(first * kvDim),
        valueCache.subarray(first * kvDim),
        position + t + 1 - first,
        qHeads,
        kvHeads,
        headDim,
      );
    }
    const args = { nTokens, position, headDim, qHeads, kvHeads, maxContext, window };
    const scores = await harness.run(
      'attention_scores',
      attentionScoresSource,
      [q, keyCache, { zeros: nTokens * qHeads * maxContext * 4 }],
      attentionScoresLaunch(args),
      3,
    );
    const probs = await harness.run(
      'attention_softmax',
      attentionSoftmaxSource,
      [new Float32Array(scores)],
      attentionSoftmaxLaunch(args),
      1,
    );
    const out = await harness.runF32(
      'attention_values',
      attentionValuesSource,
      [new Float32Array(probs), valueCache, { zeros: expected.byteLength }],
      attentionValuesLaunch(args),
      3,
    );
    check(out, expected, TOLERANCE.attention, `attention ${nTokens}@${position}`);
  });
});

describe('swiglu kernel vs cpu swiglu', () => {
  it('1003 values', async () => {
    const gate = seededUniform(BASE_SEED + 31, 1003, 4);
    const up = seededUniform(BASE_SEED + 32, 1003, 2);
    const expected = new Float32Array(1003);
    swiglu(expected, gate, up);
    check(
      await harness.runF32('swiglu', swigluSource, [gate, up], swigluLaunch(1003), 1),
      expected,
      TOLERANCE.swiglu,
      'swiglu',
    );
  });
});
