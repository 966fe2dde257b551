/**
 * wasmSessionBytes against real sessions (weights and total byte for byte, with and without a pool);
 * planWasmMemories' split of a model past one memory (weight banks; the sessions that run it are
 * checked in Chromium, banks.browser.test.ts); and the refusal before any tensor is read of a model
 * this engine cannot hold (Node 20 has no multi-memory).
 */
import { describe, expect, it } from 'vitest';
import { randomModelWeights, tinyDenseSpec, tinyMoeSpec, tinyQwenMoeSpec } from '../../model/random.ts';
import type { ModelSpec } from '../../model/spec.ts';
import { tinyLlamaMoeSpec, unreadableWeights } from '../../model/unreadable.testing.ts';
import { WASM32_MAX_BYTES } from './arena.ts';
import { createWasmBackend } from './backend.ts';
import { wasmMultiMemorySupported } from './multi-memory.ts';
import { MAX_WASM_MEMORIES, planWasmMemories, wasmBytesPerParam, wasmSessionBytes } from './memory-plan.ts';
import { nodeWorkerFactory } from './threads.node.ts';

const dims = { hidden: 64, heads: 4, kvHeads: 2, headDim: 16, intermediate: 96, vocab: 101 };
const SPECS: [string, ModelSpec][] = [
  ['dense llama', tinyDenseSpec(dims)],
  ['dense qwen2, tied', tinyDenseSpec({ ...dims, arch: 'qwen2', qkvBias: true, tieEmbeddings: true })],
  [
    'mixtral',
    tinyMoeSpec({ ...dims, moe: { experts: 4, expertsPerToken: 2, normTopK: true, expertIntermediate: 64 } }),
  ],
  [
    'qwen2_moe, shared expert wider than the routed ones',
    tinyQwenMoeSpec({
      ...dims,
      moe: {
        experts: 3,
        expertsPerToken: 2,
        normTopK: false,
        expertIntermediate: 32,
        sharedExpert: { intermediate: 128, gated: true },
      },
    }),
  ],
];

describe.each(SPECS)('wasmSessionBytes: %s', (_, spec) => {
  it.each([
    ['f32', 1],
    ['q8_0', 1],
    ['q4_0', 2],
    ['bf16', 2],
  ] as const)('%s weights, %i thread(s): the weights and the total as the session has them', async (dtype, threads) => {
    const weights = randomModelWeights(spec, 3, dtype);
    const options = { maxContext: 40, chunk: 16, threads };
    const backend = await createWasmBackend({
      threads,
      prefillChunk: options.chunk,
      workerFactory: nodeWorkerFactory(),
    });
    const session = await backend.createSession(weights, {
      maxContext: options.maxContext,
    });
    try {
      const planned = wasmSessionBytes(weights, options);
      expect({ ...planned, memories: 1 }).toEqual(session.memory);
    } finally {
      session.dispose();
    }
  });
});

describe('a model past wasm32 4 GiB', () => {
  const big = tinyLlamaMoeSpec(8); // 4×TinyLlama-1.1B dims with 8 experts: in q8_0 about 7 GB packed
  const options = { maxContext: 1024, chunk: 64, threads: 2 };

  it('is split into the main memory and weight banks, each within 4 GiB, matrices in pack order', () => {
    const weights = unreadableWeights(big, 'q8_0');
    const single = wasmSessionBytes(weights, options);
    expect(single.totalBytes).toBeGreaterThan(WASM32_MAX_BYTES);
    const plan = planWasmMemories(weights, options)!;
    expect(plan.memoryBytes.length).toBe(2);
    for (const bytes of plan.memoryBytes) expect(bytes).toBeLessThanOrEqual(WASM32_MAX_BYTES);
    // pack order fills a memory before the next one opens
    expect(plan.placement).toEqual([...plan.placement].sort((a, b) => a - b));
    expect(plan.placement[0]).toBe(0);
    expect(plan.placement.at(-1)).toBe(1);
    // the same bytes as one memory would hold, give or take each memory's alignment
    expect(Math.abs(plan.totalBytes - single.totalBytes)).toBeLessThan(64 * plan.placement.length);
    expect(plan.memoryBytes[0]).toBeGreaterThan(WASM32_MAX_BYTES * 0.99); // the main memory is filled first
  });

  it('a model that fits has one memory, the same bytes as wasmSessionBytes', () => {
    const weights = unreadableWeights(tinyLlamaMoeSpec(4), 'q4_0');
    const plan = planWasmMemories(weights, options)!;
    expect(plan.memoryBytes).toEqual([wasmSessionBytes(weights, options).totalBytes]);
    expect(new Set(plan.placement)).toEqual(new Set([0]));
  });

  it('a small limit spreads a small model over several memories; too small for one matrix: no plan', () => {
    const weights = randomModelWeights(SPECS[2]![1], 3, 'q8_0');
    const small = { maxContext: 16, chunk: 4, threads: 1 }; // the scratch and KV cache stay small beside the weights
    const single = wasmSessionBytes(weights, small);
    const limit = Math.ceil(single.totalBytes / 3);
    const plan = planWasmMemories(weights, small, limit)!;
    expect(plan.memoryBytes.length).toBeGreaterThanOrEqual(3);
    for (const bytes of plan.memoryBytes) expect(bytes).toBeLessThanOrEqual(limit);
    expect(planWasmMemories(weights, small, 4096)).toBeUndefined();
  });

  it(`past ${MAX_WASM_MEMORIES} memories, or where this engine has no multi-memory, is refused before any tensor is read`, async () => {
    const huge = unreadableWeights(tinyLlamaMoeSpec(8), 'f32'); // ~25 GB as f32
    expect(planWasmMemories(huge, options)!.memoryBytes.length).toBeGreaterThan(MAX_WASM_MEMORIES);
    const backend = await createWasmBackend({ threads: 1 });
    await expect(backend.createSession(huge, { maxContext: 1024 })).rejects.toThrow(
      wasmMultiMemorySupported()
        ? /^wasm: this model needs \d+\.\d\d GB of linear memory .* memories of 4\.29 GB, more than the 4 a session may take/
        : /^wasm: this model needs \d+\.\d\d GB of linear memory .*more than one 4\.29 GB wasm32 memory, and this engine cannot spread it over several \(WebAssembly multi-memory/,
    );
    // Node 20 (this repo's CI Node) has no multi-memory; Node ≥ 22 and Chromium ≥ 120 have it
    expect(wasmMultiMemorySupported()).toBe(Number(process.versions.node.split('.')[0]) >= 22);
    if (!wasmMultiMemorySupported()) {
      await expect(backend.createSession(unreadableWeights(big, 'q8_0'), { maxContext: 1024 })).rejects.toThrow(
        /cannot spread it over several \(WebAssembly multi-memory/,
      );
    }
  });

  it('the same shapes in q4_0 with 4 experts fit (what the bench loads)', () => {
    const weights = unreadableWeights(tinyLlamaMoeSpec(4), 'q4_0');
    expect(wasmSessionBytes(weights, { maxContext: 1024, chunk: 64, threads: 2 }).totalBytes).toBeLessThan(
      WASM32_MAX_BYTES,
    );
  });
});

describe("wasmBytesPerParam (the Library's estimate from a summary)", () => {
  it('is within 5% of the packed weights of the 3.4B MoE in q4_0 and q8_0, and f32 for bf16', () => {
    for (const dtype of ['q4_0', 'q8_0', 'bf16'] as const) {
      const weights = unreadableWeights(tinyLlamaMoeSpec(4), dtype);
      const params = [
        weights.embed,
        weights.lmHead!,
        weights.finalNorm,
        ...weights.layers.flatMap((l) => [
          l.attnNorm,
          l.ffnNorm,
          l.wq,
          l.wk,
          l.wv,
          l.wo,
          l.moe!.router,
          ...l.moe!.experts.flatMap((e) => [e.gate, e.up, e.down]),
        ]),
      ].reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
      const packed = wasmSessionBytes(weights, { maxContext: 1, chunk: 1, threads: 1 }).weightBytes;
      expect(Math.abs(params * wasmBytesPerParam(dtype) - packed) / packed).toBeLessThan(0.05);
    }
    expect(wasmBytesPerParam('bf16')).toBe(4);
    expect(wasmBytesPerParam('q4_0')).toBe(20 / 32);
  });
});
