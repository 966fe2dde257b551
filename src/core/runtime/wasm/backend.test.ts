/**
 * The wasm backend against the CPU reference (cpuBackend): the same greedy ids over 64
 * tokens for dense and MoE models in every storage dtype, the same routing (trace) and the
 * same overrides honoured; prefill vs token-by-token; truncate; captureLayerInputs.
 */
import { describe, expect, it } from 'vitest';
import { randomModelWeights, tinyDenseSpec, tinyMoeSpec, tinyQwenMoeSpec } from '../../model/random.ts';
import type { ModelSpec } from '../../model/spec.ts';
import type { DType } from '../../tensor.ts';
import { cpuBackend, cpuBackendQ8x } from '../cpu/backend.ts';
import { assertAllclose, type Tolerance } from '../cpu/allclose.testing.ts';
import { argmax } from '../cpu/ops.ts';
import type { ForwardOptions, Session } from '../types.ts';
import { createWasmBackend } from './backend.ts';

/** Logits after a few layers: f32 lanes vs f64 sums, plus q16 activations for quantized weights. */
const LOGITS_TOL: Tolerance = { atol: 2e-3, rtol: 2e-3 };
const GREEDY_TOKENS = 64;

// Sizes are multiples of 32 where q8_0/q4_0 need it, but not powers of two.
const denseSpec = (): ModelSpec =>
  tinyDenseSpec({ hidden: 96, intermediate: 160, heads: 6, kvHeads: 2, headDim: 16, vocab: 131, contextLength: 96 });
const moeSpec = (): ModelSpec =>
  tinyMoeSpec({
    hidden: 96,
    heads: 6,
    kvHeads: 2,
    headDim: 16,
    vocab: 131,
    contextLength: 96,
    layers: 3,
    moe: { experts: 4, expertsPerToken: 2, normTopK: true, expertIntermediate: 64 },
  });
const qwenSpec = (): ModelSpec =>
  tinyQwenMoeSpec({
    hidden: 64,
    heads: 4,
    kvHeads: 2,
    headDim: 16,
    vocab: 97,
    contextLength: 96,
    moe: {
      experts: 5,
      expertsPerToken: 2,
      normTopK: false,
      expertIntermediate: 32,
      sharedExpert: { intermediate: 96, gated: true },
    },
  });

async function greedy(
  session: Session,
  prompt: number[],
  count: number,
  options: ForwardOptions = {},
): Promise<number[]> {
  const ids: number[] = [];
  let { logits } = await session.forward(prompt, options);
  for (let i = 0; i < count; i++) {
    const next = argmax(logits);
    ids.push(next);
    ({ logits } = await session.forward([next], options));
  }
  return ids;
}

const cases: [string, () => ModelSpec, DType][] = [];
for (const dtype of ['f32', 'f16', 'bf16', 'q8_0', 'q4_0'] as DType[]) {
  cases.push(
    [`dense ${dtype}`, denseSpec, dtype],
    [`mixtral ${dtype}`, moeSpec, dtype],
    [`qwen2-moe ${dtype}`, qwenSpec, dtype],
  );
}

describe.each(cases)('wasm vs cpu reference: %s', (_label, makeSpec, dtype) => {
  it(`same greedy ids over ${GREEDY_TOKENS} tokens and close logits`, async () => {
    const weights = randomModelWeights(makeSpec(), 1234, dtype);
    const wasm = await (await createWasmBackend({ threads: 1 })).createSession(weights);
    // q4_0 matmuls read 8-bit activations (like llama.cpp's): the reference does the same there
    const cpu = await (dtype === 'q4_0' ? cpuBackendQ8x : cpuBackend).createSession(weights);
    const prompt = [1, 17, 42, 5, 90, 3, 64];
    const first = [await wasm.forward(prompt), await cpu.forward(prompt)];
    assertAllclose(first[0]!.logits, first[1]!.logits, LOGITS_TOL, 'prefill logits');
    wasm.truncate(0);
    cpu.truncate(0);
    expect(await greedy(wasm, prompt, GREEDY_TOKENS)).toEqual(await greedy(cpu, prompt, GREEDY_TOKENS));
    wasm.dispose();
    cpu.dispose();
  });
});

describe('wasm routing matches the reference', () => {
  const overrides: [string, ForwardOptions['routing']][] = [
    ['none', undefined],
    ['expertsPerToken 1', { expertsPerToken: 1 }],
    ['ban 0 and 2', { ban: { experts: [0, 2] } }],
    ['force 3 at layer 1', { force: { experts: [3], layers: [1] } }],
  ];
  it.each(overrides)('trace with overrides: %s', async (_label, routing) => {
    const weights = randomModelWeights(moeSpec(), 77, 'q8_0');
    const wasm = await (await createWasmBackend({ threads: 1, prefillChunk: 4 })).createSession(weights);
    const cpu = await cpuBackend.createSession(weights);
    const prompt = [3, 8, 13, 21, 34, 55, 89, 1, 2, 4];
    const [a, b] = [
      await wasm.forward(prompt, { trace: true, routing }),
      await cpu.forward(prompt, { trace: true, routing }),
    ];
    expect(a.routing!.length).toBe(prompt.length);
    expect(a.routing!.map((r) => r.layers.map((l) => l.expertIds))).toEqual(
      b.routing!.map((r) => r.layers.map((l) => l.expertIds)),
    );
    const weightsOf = (r: typeof a) =>
      r.routing!.flatMap((t) => t.layers.flatMap((l) => [...l.expertWeights, ...l.moeProbs]));
    assertAllclose(weightsOf(a), weightsOf(b), { atol: 1e-4, rtol: 1e-3 }, 'routing weights and probs');
    expect(await greedy(wasm, [7], 16, { routing })).toEqual(await greedy(cpu, [7], 16, { routing }));
  });
});

describe('wasm session mechanics', () => {
  // Bit-identical: every kernel computes a token's row the same way whatever the chunk, and
  // prefill sums the experts in slot order like decode (top-3 makes that order matter).
  it.each([
    ['mixtral top-2', moeSpec],
    [
      'mixtral top-3',
      () =>
        tinyMoeSpec({
          hidden: 96,
          heads: 6,
          kvHeads: 2,
          headDim: 16,
          vocab: 131,
          contextLength: 96,
          layers: 3,
          moe: { experts: 4, expertsPerToken: 3, normTopK: true, expertIntermediate: 64 },
        }),
    ],
    ['qwen2-moe (shared expert)', qwenSpec],
  ] as const)('chunked prefill equals token-by-token decode, bit for bit (%s)', async (_label, makeSpec) => {
    const weights = randomModelWeights(makeSpec(), 9, 'q4_0');
    const backend = await createWasmBackend({ threads: 1, prefillChunk: 3 });
    const batched = await backend.createSession(weights);
    const stepped = await backend.createSession(weights);
    const prompt = [5, 6, 7, 8, 9, 10, 11, 12];
    const all = await batched.forward(prompt);
    let last = await stepped.forward([prompt[0]!]);
    for (const id of prompt.slice(1)) last = await stepped.forward([id]);
    expect(all.logits).toEqual(last.logits);
    expect(batched.position).toBe(prompt.length);
  });

  it.each([
    ['mixtral', moeSpec],
    ['qwen2-moe (shared expert)', qwenSpec],
  ] as const)(
    'decode batches the chosen experts; a 1-row chunk (too small for the batch) takes the grouped path: same logits (%s)',
    async (_label, makeSpec) => {
      const weights = randomModelWeights(makeSpec(), 21, 'q8_0');
      const batched = await (await createWasmBackend({ threads: 1 })).createSession(weights);
      const grouped = await (await createWasmBackend({ threads: 1, prefillChunk: 1 })).createSession(weights);
      const cpu = await cpuBackend.createSession(weights);
      for (const session of [batched, grouped, cpu]) await session.forward([4, 8, 15]);
      const [a, b, c] = [await batched.forward([16]), await grouped.forward([16]), await cpu.forward([16])];
      assertAllclose(a.logits, b.logits, { atol: 1e-5, rtol: 1e-5 }, 'batched vs grouped decode');
      assertAllclose(a.logits, c.logits, LOGITS_TOL, 'batched decode vs reference');
    },
  );

  it('truncate rewinds the cache and captureLayerInputs matches the reference', async () => {
    const weights = randomModelWeights(denseSpec(), 5, 'f16');
    const wasm = await (await createWasmBackend({ threads: 1 })).createSession(weights);
    const cpu = await cpuBackend.createSession(weights);
    await wasm.forward([1, 2, 3, 4]);
    wasm.truncate(2);
    const a = await wasm.forward([9, 10], { captureLayerInputs: true });
    const b = await cpu.forward([1, 2, 9, 10], { captureLayerInputs: true });
    assertAllclose(a.logits, b.logits, LOGITS_TOL, 'logits after truncate');
    expect(a.layerInputs!.length).toBe(weights.spec.layers);
    a.layerInputs!.forEach((x, l) => assertAllclose(x, b.layerInputs![l]!, LOGITS_TOL, `layer ${l} input`));
    expect(() => wasm.truncate(7)).toThrow(/truncate/);
    await expect(wasm.forward([1000])).rejects.toThrow(/outside/);
  });
});
