/**
 * wasmSessionBytes against real sessions (weights and total byte for byte, with and without a pool),
 * and the 4 GiB refusal: a model past wasm32's limit is refused before any tensor is read.
 */
import { describe, expect, it } from 'vitest';
import { randomModelWeights, tinyDenseSpec, tinyMoeSpec, tinyQwenMoeSpec } from '../../model/random.ts';
import type { ModelSpec } from '../../model/spec.ts';
import { tinyLlamaMoeSpec, unreadableWeights } from '../../model/unreadable.testing.ts';
import { WASM32_MAX_BYTES } from './arena.ts';
import { createWasmBackend } from './backend.ts';
import { wasmBytesPerParam, wasmSessionBytes } from './memory-plan.ts';
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
      expect(planned).toEqual(session.memory);
    } finally {
      session.dispose();
    }
  });
});

describe('a model past wasm32 4 GiB', () => {
  const big = tinyLlamaMoeSpec(8); // 4×TinyLlama-1.1B dims with 8 experts: in q8_0 about 7 GB packed

  it('is refused before any tensor is read, the message naming the bytes and the limit', async () => {
    const weights = unreadableWeights(big, 'q8_0');
    expect(wasmSessionBytes(weights, { maxContext: 1024, chunk: 64, threads: 1 }).totalBytes).toBeGreaterThan(
      WASM32_MAX_BYTES,
    );
    await expect(
      (await createWasmBackend({ threads: 1 })).createSession(weights, { maxContext: 1024 }),
    ).rejects.toThrow(
      /^wasm: this model needs \d+\.\d\d GB of linear memory \(weights \d+\.\d\d GB.*more than wasm32's 4\.29 GB/,
    );
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
