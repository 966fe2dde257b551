/**
 * Counters for benchmarks (counts, not timings): per decode token exactly one CPU↔GPU sync
 * and one submit, and the bytes of weights the kernels read ≈ the bytes of the active
 * weights (chosen experts only): target ratio ≤ 1.15. Plus a functional proof that
 * unchosen experts are never used: their weights are NaN and the output stays equal to
 * the reference's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allclose } from '../cpu/allclose.testing.ts';
import { argmax } from '../cpu/ops.ts';
import { cpuBackend } from '../cpu/backend.ts';
import { randomModelWeights, tinyDenseSpec, tinyMoeSpec } from '../../model/random.ts';
import type { ModelWeights } from '../../model/weights.ts';
import type { RoutingOverrides } from '../types.ts';
import { createWebGpuBackend, type WebGpuBackend } from './backend.ts';

const MAX_BYTES_READ_PER_ACTIVE_BYTE = 1.15;
const LOGITS_TOLERANCE = { atol: 2e-3, rtol: 2e-3 };
const SIZES = { hidden: 64, heads: 4, kvHeads: 2, headDim: 16, intermediate: 96, vocab: 97 };
const MOE_SPEC = tinyMoeSpec({
  ...SIZES,
  layers: 3,
  moe: { experts: 6, expertsPerToken: 2, normTopK: true, expertIntermediate: 64 },
});

let backend: WebGpuBackend;
beforeAll(async () => {
  backend = await createWebGpuBackend({ onLog: (m) => console.log(m) });
});
afterAll(() => backend?.destroy());

describe('decode counters', () => {
  it.each([
    { name: 'mixtral q4_0 top-2 of 6', weights: () => randomModelWeights(MOE_SPEC, 5, 'q4_0'), routing: undefined },
    {
      name: 'mixtral q8_0 expertsPerToken override 3',
      weights: () => randomModelWeights(MOE_SPEC, 5, 'q8_0'),
      routing: { expertsPerToken: 3 },
    },
    { name: 'dense f32', weights: () => randomModelWeights(tinyDenseSpec(SIZES), 5, 'f32'), routing: undefined },
  ])('$name: 1 sync and 1 submit per decode token, weight bytes read ≤ 1.15 × active', async ({ weights, routing }) => {
    const session = await backend.createSession(weights(), { maxContext: 48 });
    let token = argmax((await session.forward([1, 2, 3, 4, 5, 6, 7], { routing })).logits);
    for (let step = 0; step < 6; step++) {
      const result = await session.forward([token], { routing, trace: true });
      token = argmax(result.logits);
      const { last, gpuBytes } = session.stats;
      const ratio = last.weightBytesRead / last.activeWeightBytesPerToken;
      if (step === 0) {
        console.log(
          `decode token: ${last.dispatches} dispatches, ${last.syncs} sync, ${last.submits} submit, weight bytes read ${last.weightBytesRead}` +
            ` / active ${last.activeWeightBytesPerToken} = ${ratio.toFixed(3)}; all weights ${gpuBytes.weights} B, kv ${gpuBytes.kvCache} B, context total ${gpuBytes.contextTotal} B`,
        );
      }
      expect(last.syncs).toBe(1);
      expect(last.submits).toBe(1);
      expect(ratio).toBeLessThanOrEqual(MAX_BYTES_READ_PER_ACTIVE_BYTE);
      expect(ratio).toBeGreaterThanOrEqual(1);
    }
    const { totals } = session.stats;
    expect(totals.syncs).toBe(totals.forwards);
    session.dispose();
  });

  it('a MoE decode token reads well under all the weights (only k of E experts)', async () => {
    const session = await backend.createSession(randomModelWeights(MOE_SPEC, 6, 'q8_0'), { maxContext: 16 });
    await session.forward([3]);
    const { last, gpuBytes } = session.stats;
    expect(last.weightBytesRead).toBeLessThan(0.75 * gpuBytes.weights);
    session.dispose();
  });
});

/** Copy of `weights` where expert `poisoned` of every layer holds only NaN. */
function poisonExpert(weights: ModelWeights, poisoned: number): ModelWeights {
  const nan = (t: { data: Uint8Array }) => ({
    ...t,
    data: new Uint8Array(new Float32Array(t.data.byteLength / 4).fill(NaN).buffer),
  });
  return {
    ...weights,
    layers: weights.layers.map((layer) => ({
      ...layer,
      moe: layer.moe && {
        ...layer.moe,
        experts: layer.moe.experts.map((mlp, e) =>
          e === poisoned ? ({ gate: nan(mlp.gate), up: nan(mlp.up), down: nan(mlp.down) } as typeof mlp) : mlp,
        ),
      },
    })),
  };
}

describe('unchosen experts are never used', () => {
  it('a banned expert full of NaN changes nothing (prefill and decode)', async () => {
    const weights = poisonExpert(randomModelWeights(MOE_SPEC, 8, 'f32'), 4);
    const routing: RoutingOverrides = { ban: { experts: [4] } };
    const gpu = await backend.createSession(weights, { maxContext: 32 });
    const cpu = await cpuBackend.createSession(weights, { maxContext: 32 });
    let input = [5, 6, 7, 8, 9];
    for (let step = 0; step < 6; step++) {
      const [g, c] = [await gpu.forward(input, { routing }), await cpu.forward(input, { routing })];
      const report = allclose(g.logits, c.logits, LOGITS_TOLERANCE, `step ${step}`);
      expect(report.ok, report.message).toBe(true);
      input = [argmax(c.logits)];
    }
    gpu.dispose();
  });
});

describe('routing overrides on every kernel path', () => {
  it.each([
    { expertsPerToken: 1 },
    { expertsPerToken: 4, force: { experts: [5], layers: [1] } },
    { ban: { experts: [0, 1, 2, 3] }, force: { experts: [5] } },
  ] as RoutingOverrides[])('%j: same greedy ids and routing as the reference', async (routing) => {
    const weights = randomModelWeights(MOE_SPEC, 9, 'q8_0');
    const gpu = await backend.createSession(weights, { maxContext: 48 });
    const cpu = await cpuBackend.createSession(weights, { maxContext: 48 });
    let input = [1, 20, 40, 60, 80, 96];
    for (let step = 0; step < 12; step++) {
      const [g, c] = [
        await gpu.forward(input, { routing, trace: true }),
        await cpu.forward(input, { routing, trace: true }),
      ];
      expect(g.routing!.map((t) => t.layers.map((l) => l.expertIds))).toEqual(
        c.routing!.map((t) => t.layers.map((l) => l.expertIds)),
      );
      const report = allclose(g.logits, c.logits, LOGITS_TOLERANCE, `step ${step}`);
      expect(report.ok, report.message).toBe(true);
      expect(argmax(g.logits)).toBe(argmax(c.logits));
      input = [argmax(c.logits)];
    }
    gpu.dispose();
  });
});
