/**
 * Weight banks in real Chromium (multi-memory): a model spread over the main memory and weight
 * banks (memoryLimitBytes shrunk so that a small model needs several memories) gives the same
 * logits and routing, bit for bit, as the same model in one memory: on one thread and on the
 * pool, for f32 (widened f16), q8_0 and q4_0 weights, through prefill (tile kernels, m ≥ 2) and
 * decode (dot4 kernels), with row counts that leave 4-row tails and odd f32 rows. A weight load
 * the bank build reads from the wrong memory would read other bytes and change the logits.
 */
import { describe, expect, it } from 'vitest';
import { randomModelWeights, tinyMoeSpec } from '../../model/random.ts';
import type { Session } from '../types.ts';
import { createWasmBackend } from './backend.ts';
import { wasmMultiMemorySupported } from './multi-memory.ts';
import { planWasmMemories } from './memory-plan.ts';

const spec = tinyMoeSpec({
  hidden: 96,
  heads: 6,
  kvHeads: 2,
  headDim: 16,
  vocab: 131, // lm_head rows: 32 four-row groups and a 3-row tail; odd for the f32 2-row tiles
  contextLength: 64,
  layers: 3,
  moe: { experts: 4, expertsPerToken: 2, normTopK: true, expertIntermediate: 160 },
});
const prompt = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]; // 11 tokens: 2 four-token f32 tiles and a tail of 3

async function run(session: Session) {
  const prefill = await session.forward(prompt, { trace: true });
  const decode = await session.forward([42], { trace: true });
  return { prefill, decode };
}

describe('wasm weight banks (multi-memory) in the browser', () => {
  it('this Chromium has multi-memory', () => {
    expect(wasmMultiMemorySupported()).toBe(true);
  });

  it.each([
    ['f16', 1],
    ['q8_0', 1],
    ['q4_0', 1],
    ['f16', 2],
    ['q8_0', 2],
    ['q4_0', 2],
  ] as const)('%s weights on %i thread(s): banked = one memory, bit for bit', async (dtype, threads) => {
    const weights = randomModelWeights(spec, 17, dtype);
    const shape = { maxContext: 32, chunk: 8, threads };
    const one = await (await createWasmBackend({ threads, prefillChunk: 8, minParallelWork: 0 })).createSession(
      weights,
      { maxContext: 32 },
    );
    const single = planWasmMemories(weights, shape)!;
    const memoryLimitBytes = Math.ceil(single.totalBytes / 3);
    const plan = planWasmMemories(weights, shape, memoryLimitBytes)!;
    expect(plan.memoryBytes.length).toBeGreaterThanOrEqual(3);
    const banked = await (
      await createWasmBackend({ threads, prefillChunk: 8, minParallelWork: 0, memoryLimitBytes })
    ).createSession(weights, { maxContext: 32 });
    try {
      expect(one.memory).toEqual({ weightBytes: single.weightBytes, totalBytes: single.totalBytes, memories: 1 });
      // the session's memories are the plan's, byte for byte
      expect(banked.memory).toEqual({
        weightBytes: plan.weightBytes,
        totalBytes: plan.totalBytes,
        memories: plan.memoryBytes.length,
      });
      const [a, b] = [await run(one), await run(banked)];
      expect(b.prefill.logits).toEqual(a.prefill.logits);
      expect(b.decode.logits).toEqual(a.decode.logits);
      expect(b.prefill.routing).toEqual(a.prefill.routing);
      expect(b.decode.routing).toEqual(a.decode.routing);
    } finally {
      one.dispose();
      banked.dispose();
    }
  });
});
