/**
 * The thread pool splits rows only, so 2- and 3-thread sessions must give logits
 * bit-identical to the single-threaded session (Node worker_threads here; the browser
 * pool is covered by threads.browser.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { randomModelWeights, tinyMoeSpec } from '../../model/random.ts';
import { createWasmBackend } from './backend.ts';
import { ATTENTION_COST_PER_MAC, attentionWork, rowQuantum, type RowJob } from './parallel.ts';
import { nodeWorkerFactory } from './threads.node.ts';
import { BackendError } from '../../errors.ts';
import { WasmArena } from './arena.ts';
import { instantiateKernels } from './kernels.ts';
import { MIN_PARALLEL_MACS, WAKE_FACTOR, createThreadPool, unitRows } from './threads.ts';

/** The units a batch job is cut into: [start, end) rows each. */
function units(job: RowJob, threads: number): [number, number][] {
  const rows = unitRows(job, threads);
  return Array.from({ length: Math.ceil(job.n / rows) }, (_, u) => [u * rows, Math.min(job.n, (u + 1) * rows)]);
}

describe('unitRows', () => {
  it.each([
    ['matmul_q4', 1536, 576, 2],
    ['matmul_q4', 49152, 576, 2],
    ['matmul_q8', 577, 96, 3],
    ['matmul_q4', 3, 96, 2],
    ['matmul_f32', 13, 7, 4],
    ['attn_heads', 9, 2 * 150 * 64, 2],
    ['attn_heads', 1, 100, 8],
    ['matmul_q4', 0, 96, 2],
  ] as const)(
    '%s n=%i (%i MACs per row), %i threads: units cover every row once, on row-group boundaries, one per thread at least',
    (kernel, n, perRow, threads) => {
      const job: RowJob = { kernel, args: [], n, work: n * perRow };
      const cut = units(job, threads);
      expect(cut.flatMap(([a, b]) => Array.from({ length: b - a }, (_, i) => a + i))).toEqual(
        Array.from({ length: n }, (_, i) => i),
      );
      for (const [start] of cut) expect(start % rowQuantum(kernel)).toBe(0);
      expect(cut.length).toBeGreaterThanOrEqual(Math.min(threads, Math.ceil(n / rowQuantum(kernel))));
      expect(Number.isInteger(unitRows(job, threads))).toBe(true);
      // ~2^18 multiply-adds per unit unless that would leave a thread without one
      if (cut.length > threads)
        expect(unitRows(job, threads) * perRow).toBeLessThanOrEqual((1 << 18) + rowQuantum(kernel) * perRow);
    },
  );
  it('a prefill matmul (m ≥ 2) is cut on 16-row boundaries, so no two threads add into one cache line of y', () => {
    const job: RowJob = { kernel: 'matmul_q4', args: [0, 0, 0, 0, 0, 576, 1540, 32], n: 1540, work: 1540 * 576 * 32 };
    const cut = units(job, 2);
    expect(cut.length).toBeGreaterThan(2);
    for (const [start] of cut) expect(start % 16).toBe(0);
    expect(cut.flatMap(([a, b]) => Array.from({ length: b - a }, (_, i) => a + i))).toEqual(
      Array.from({ length: 1540 }, (_, i) => i),
    );
    expect(
      units({ ...job, args: [0, 0, 0, 0, 0, 576, 1540, 1], work: 1540 * 576 }, 2).some(([start]) => start % 16 !== 0),
    ).toBe(true);
  });
});

describe('wasm thread pool (node worker_threads)', () => {
  it.each([2, 3])('%i threads give the same logits as 1', async (threads) => {
    const spec = tinyMoeSpec({
      hidden: 96,
      heads: 6,
      kvHeads: 2,
      headDim: 16,
      vocab: 300,
      layers: 2,
      moe: { experts: 4, expertsPerToken: 2, normTopK: true, expertIntermediate: 160 },
    });
    const weights = randomModelWeights(spec, 31, 'q4_0');
    const serial = await (await createWasmBackend({ threads: 1 })).createSession(weights);
    const pooled = await (
      await createWasmBackend({ threads, workerFactory: nodeWorkerFactory(), minParallelWork: 0 })
    ).createSession(weights);
    expect((pooled as unknown as { threads: number }).threads).toBe(threads);
    // A longer prompt, three times over: threads race on shared scratch if any is shared (the
    // attention scratch once was, per token and head, and this caught it about 1 run in 10).
    const prompt = Array.from({ length: 24 }, (_, i) => (i * 37 + 1) % 300);
    const expected = (await serial.forward(prompt)).logits;
    for (let round = 0; round < 3; round++) {
      pooled.truncate(0);
      expect((await pooled.forward(prompt)).logits).toEqual(expected);
    }
    expect((await pooled.forward([7])).logits).toEqual((await serial.forward([7])).logits);
    pooled.dispose();
    serial.dispose();
  });
});

describe('attention work', () => {
  it('counts attention at its cost, so a SmolLM2-shaped decode token runs its heads on the pool while the zoo model keeps them on the driver', () => {
    expect(attentionWork(1, 1, 1)).toBe(2 * ATTENTION_COST_PER_MAC);
    // 9 heads of 64 at ~110 positions: tens of µs on one thread (parallel.ts), worth handing over
    expect(attentionWork(9, 110, 64)).toBeGreaterThanOrEqual(MIN_PARALLEL_MACS);
    // 2 × 9 × 110 × 64 plain multiply-adds alone would stay below MIN_PARALLEL_MACS (the old count)
    expect(2 * 9 * 110 * 64).toBeLessThan(MIN_PARALLEL_MACS);
    // the zoo model (4 heads of 64) at a short prompt: a few µs, not worth a hand-over
    expect(attentionWork(4, 8, 64)).toBeLessThan(MIN_PARALLEL_MACS);
  });
});

describe('wasm thread pool wake threshold', () => {
  // Who ran a batch is visible through a matmul whose second half of rows lies beyond memory:
  // run by the driver alone it traps (a RuntimeError); dispatched to the pool, the trap breaks
  // the pool (a BackendError).
  async function poolWithTrapRows(minParallelWork: number) {
    const memory = new WebAssembly.Memory({ initial: 4, maximum: 65536, shared: true });
    const kernels = await instantiateKernels(memory, true);
    const arena = new WasmArena(memory);
    const pool = await createThreadPool(arena, kernels, 2, nodeWorkerFactory(), minParallelWork);
    const k = 32;
    const n = 64;
    const x = arena.alloc(k * 4, 'x');
    const y = arena.alloc(n * 4, 'y');
    const w = memory.buffer.byteLength - (n / 2) * k * 4;
    const job = (work: number) => ({ kernel: 'matmul_f32' as const, args: [w, x, y, k, n, 1], n, work });
    await new Promise((resolve) => setTimeout(resolve, 50)); // well past the spin: the worker sleeps
    return { pool, job };
  }

  it(`a sleeping worker is woken only for ${WAKE_FACTOR}x minParallelWork`, async () => {
    const small = await poolWithTrapRows(1000);
    try {
      expect(() => small.pool.runBatch([small.job(1000 * WAKE_FACTOR - 1)])).toThrow(WebAssembly.RuntimeError);
    } finally {
      small.pool.dispose();
    }
    const big = await poolWithTrapRows(1000);
    try {
      expect(() => big.pool.runBatch([big.job(1000 * WAKE_FACTOR)])).toThrow(/kernel failed in the thread pool/);
    } finally {
      big.pool.dispose();
    }
  });
});

describe('wasm thread pool failures', () => {
  it('a kernel that traps in the pool breaks it with a BackendError (no hang), and it stays broken', async () => {
    const memory = new WebAssembly.Memory({ initial: 4, maximum: 65536, shared: true });
    const kernels = await instantiateKernels(memory, true);
    const arena = new WasmArena(memory);
    const pool = await createThreadPool(arena, kernels, 2, nodeWorkerFactory(), 0);
    try {
      const k = 32;
      const n = 64;
      const x = arena.alloc(k * 4, 'x');
      const y = arena.alloc(n * 4, 'y');
      // Rows [0, 32) lie inside memory, rows [32, 64) beyond it: whichever thread claims those traps.
      const w = memory.buffer.byteLength - (n / 2) * k * 4;
      const job = { kernel: 'matmul_f32' as const, args: [w, x, y, k, n, 1], n, work: n * k };
      expect(() => pool.runBatch([job])).toThrow(/kernel failed in the thread pool/);
      const inBounds = { ...job, args: [x, x, y, k, 1, 1], n: 1 };
      expect(() => pool.runBatch([inBounds, inBounds])).toThrow(BackendError);
    } finally {
      pool.dispose();
    }
  });
});
