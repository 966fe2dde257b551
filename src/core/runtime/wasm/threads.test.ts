/**
 * The thread pool splits rows only, so 2- and 3-thread sessions must give logits
 * bit-identical to the single-threaded session (Node worker_threads here; the browser
 * pool is covered by threads.browser.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { randomModelWeights, tinyMoeSpec } from '../../model/random.ts';
import { createWasmBackend } from './backend.ts';
import { rowSlice } from './parallel.ts';
import { nodeWorkerFactory } from './threads.node.ts';
import { BackendError } from '../../errors.ts';
import { WasmArena } from './arena.ts';
import { instantiateKernels } from './kernels.ts';
import { WAKE_FACTOR, createThreadPool } from './threads.ts';

describe('rowSlice', () => {
  it.each([[10, 3], [7, 7], [5, 8], [129, 2]])('covers [0, %i) exactly once with %i threads', (n, threads) => {
    const covered: number[] = [];
    for (let i = 0; i < threads; i++) {
      const [start, end] = rowSlice(n, threads, i);
      for (let row = start; row < end; row++) covered.push(row);
    }
    expect(covered).toEqual(Array.from({ length: n }, (_, i) => i));
  });
  it.each([[10, 3], [1536, 2], [577, 2], [9, 4], [5, 8], [0, 2], [3, 2]])('with 4-row groups covers [0, %i) exactly once with %i threads, slices on group boundaries and within one group of each other', (n, threads) => {
    const covered: number[] = [];
    const groups: number[] = [];
    for (let i = 0; i < threads; i++) {
      const [start, end] = rowSlice(n, threads, i, 4);
      groups.push(Math.ceil(end / 4) - Math.ceil(start / 4));
      if (end > start) expect(start % 4).toBe(0);
      if (end < n && end > start) expect(end % 4).toBe(0);
      for (let row = start; row < end; row++) covered.push(row);
    }
    expect(covered).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(Math.max(...groups) - Math.min(...groups)).toBeLessThanOrEqual(1);
  });
});

describe('wasm thread pool (node worker_threads)', () => {
  it.each([2, 3])('%i threads give the same logits as 1', async (threads) => {
    const spec = tinyMoeSpec({ hidden: 96, heads: 6, kvHeads: 2, headDim: 16, vocab: 300, layers: 2,
      moe: { experts: 4, topK: 2, normTopK: true, expertIntermediate: 160 } });
    const weights = randomModelWeights(spec, 31, 'q4_0');
    const serial = await (await createWasmBackend({ threads: 1 })).createSession(weights);
    const pooled = await (await createWasmBackend({ threads, workerFactory: nodeWorkerFactory(), minParallelWork: 0 })).createSession(weights);
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

describe('wasm thread pool wake threshold', () => {
  // Who ran a batch is visible through a matmul whose second half of rows lies beyond memory:
  // the driver alone traps on it (a RuntimeError), a dispatched batch fails in the worker (a
  // BackendError naming the pool worker).
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
      expect(() => big.pool.runBatch([big.job(1000 * WAKE_FACTOR)])).toThrow(/pool worker's kernel failed/);
    } finally {
      big.pool.dispose();
    }
  });
});

describe('wasm thread pool failures', () => {
  it('a kernel that traps in a worker breaks the pool with a BackendError (no hang), and it stays broken', async () => {
    const memory = new WebAssembly.Memory({ initial: 4, maximum: 65536, shared: true });
    const kernels = await instantiateKernels(memory, true);
    const arena = new WasmArena(memory);
    const pool = await createThreadPool(arena, kernels, 2, nodeWorkerFactory(), 0);
    try {
      const k = 32;
      const n = 64;
      const x = arena.alloc(k * 4, 'x');
      const y = arena.alloc(n * 4, 'y');
      // Rows [0, 32) (the driver's half) lie inside memory, rows [32, 64) (the worker's) beyond it.
      const w = memory.buffer.byteLength - (n / 2) * k * 4;
      const job = { kernel: 'matmul_f32' as const, args: [w, x, y, k, n, 1], n, work: n * k };
      expect(() => pool.runBatch([job])).toThrow(/pool worker's kernel failed/);
      const inBounds = { ...job, args: [x, x, y, k, 1, 1], n: 1 };
      expect(() => pool.runBatch([inBounds, inBounds])).toThrow(BackendError);
    } finally {
      pool.dispose();
    }
  });
});
