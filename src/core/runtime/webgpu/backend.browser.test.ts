/**
 * End to end: the WebGPU backend against the CPU reference (cpuBackend) in the same page,
 * on freshly seeded random models (dense, Mixtral, Qwen2-MoE; f32, q8_0, q4_0): the same
 * greedy ids over 64 decoded tokens, the same routing, close logits, also for a prompt
 * longer than one prefill chunk.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allclose, type Tolerance } from '../cpu/allclose.testing.ts';
import { argmax } from '../cpu/ops.ts';
import { cpuBackend } from '../cpu/backend.ts';
import type { ModelSpec } from '../../model/spec.ts';
import type { ModelWeights } from '../../model/weights.ts';
import { randomModelWeights, tinyDenseSpec, tinyMoeSpec, tinyQwenMoeSpec } from '../../model/random.ts';
import type { DType } from '../../tensor.ts';
import type { ForwardOptions, Session, TokenRouting } from '../types.ts';
import { createWebGpuBackend, type WebGpuBackend } from './backend.ts';
import { freshTestSeed } from './kernel-harness.testing.ts';

const TOLERANCE = {
  logits: { atol: 2e-3, rtol: 2e-3 }, // whole forward pass in f32 with different sum orders
  routing: { atol: 1e-4, rtol: 1e-3 },
} satisfies Record<string, Tolerance>;

/** Block-aligned sizes so every matrix can be q8_0/q4_0 (odd token counts stay). */
const QUANT_SIZES: Partial<ModelSpec> = { hidden: 64, heads: 4, kvHeads: 2, headDim: 16, intermediate: 96, vocab: 97 };
const MODELS: { name: string; spec: ModelSpec }[] = [
  { name: 'dense llama', spec: tinyDenseSpec(QUANT_SIZES) },
  {
    name: 'mixtral',
    spec: tinyMoeSpec({
      ...QUANT_SIZES,
      moe: { experts: 4, expertsPerToken: 2, normTopK: true, expertIntermediate: 64 },
    }),
  },
  // untied: a random tied-embedding model just repeats its input token (see the truncate test for tied)
  {
    name: 'qwen2-moe',
    spec: tinyQwenMoeSpec({
      ...QUANT_SIZES,
      tieEmbeddings: false,
      moe: {
        experts: 5,
        expertsPerToken: 2,
        normTopK: false,
        expertIntermediate: 32,
        sharedExpert: { intermediate: 64, gated: true },
      },
    }),
  },
];
const DTYPES: DType[] = ['f32', 'q8_0', 'q4_0'];
const PROMPT = [1, 5, 9, 17, 33];
const DECODE_TOKENS = 64;

/**
 * Fresh random models each run: a base seed from the clock, offset per case. It is logged
 * and named in failure labels; replay a failing run with VITE_TEST_SEED=<seed>.
 */
const BASE_SEED = freshTestSeed('backend.browser.test');

let backend: WebGpuBackend;
beforeAll(async () => {
  backend = await createWebGpuBackend({ onLog: (m) => console.log(m) });
});
afterAll(() => backend?.destroy());

function expectRoutingEqual(gpu: TokenRouting[] | undefined, cpu: TokenRouting[] | undefined, label: string): void {
  expect(gpu?.length, `${label}: routing length`).toBe(cpu?.length);
  cpu!.forEach((token, t) =>
    token.layers.forEach((layer, l) => {
      const g = gpu![t].layers[l];
      expect(g.expertIds, `${label} token ${t} layer ${l} expertIds`).toEqual(layer.expertIds);
      for (const [name, a, b] of [
        ['expertWeights', g.expertWeights, layer.expertWeights],
        ['moeProbs', g.moeProbs, layer.moeProbs],
      ] as const) {
        const r = allclose(a, b, TOLERANCE.routing, `${label} token ${t} layer ${l} ${name}`);
        expect(r.ok, r.message).toBe(true);
      }
      if (layer.sharedGate !== undefined)
        expect(g.sharedGate, `${label} token ${t} layer ${l} sharedGate`).toBeCloseTo(layer.sharedGate, 4);
      else expect(g.sharedGate, `${label} token ${t} layer ${l}: no shared expert, no sharedGate`).toBeUndefined();
    }),
  );
}

/**
 * A random model's greedy decode sometimes falls into a loop of ≤ 3 ids (about 1 case in 35
 * with fresh seeds), which proves little about the backend. From `seed` on (steps of 1000,
 * clear of the other cases' offsets), returns the first model whose reference decode of
 * PROMPT visits more than 3 distinct ids, and the seed it used. This only picks the input:
 * the webgpu-vs-cpu comparison that follows is unchanged.
 */
async function informativeModel(
  spec: ModelSpec,
  seed: number,
  dtype: DType,
): Promise<{ weights: ModelWeights; seed: number }> {
  for (let attempt = 0, s = seed; attempt < 20; attempt++, s = (s + 1000) >>> 0) {
    const weights = randomModelWeights(spec, s, dtype);
    const cpu = await cpuBackend.createSession(weights, { maxContext: 96 });
    const ids: number[] = [];
    let input = PROMPT;
    for (let step = 0; step <= DECODE_TOKENS; step++) {
      const id = argmax((await cpu.forward(input)).logits);
      ids.push(id);
      input = [id];
    }
    cpu.dispose();
    if (new Set(ids).size > 3) return { weights, seed: s };
    console.log(
      `seed ${s}: ${spec.moe ? 'moe' : 'dense'} ${dtype} model decodes only ${new Set(ids).size} distinct ids; trying seed ${(s + 1000) >>> 0}`,
    );
  }
  throw new Error(`no informative ${dtype} model in 20 seeds from ${seed}`);
}

/** Prefill PROMPT then greedy-decode on both sessions, comparing every step. */
async function greedyBoth(gpu: Session, cpu: Session, options: ForwardOptions, label: string): Promise<number[]> {
  const ids: number[] = [];
  let input = PROMPT;
  let worst = 0;
  for (let step = 0; step <= DECODE_TOKENS; step++) {
    const [g, c] = [await gpu.forward(input, options), await cpu.forward(input, options)];
    const report = allclose(g.logits, c.logits, TOLERANCE.logits, `${label} step ${step} logits`);
    worst = Math.max(worst, report.worstError);
    expect(report.ok, report.message).toBe(true);
    if (options.trace) expectRoutingEqual(g.routing, c.routing, `${label} step ${step}`);
    const [gpuId, cpuId] = [argmax(g.logits), argmax(c.logits)];
    expect(gpuId, `${label}: greedy id at step ${step}`).toBe(cpuId);
    ids.push(gpuId);
    input = [gpuId];
  }
  console.log(
    `${label}: ${ids.length} greedy ids equal; worst logit |error| ${worst.toExponential(2)}; ids ${ids.slice(0, 12).join(' ')} …`,
  );
  return ids;
}

describe.each(MODELS)('webgpu vs cpu: $name', ({ name, spec }) => {
  it.each(DTYPES)(`%s weights: same greedy ids over ${DECODE_TOKENS} tokens, same routing`, async (dtype) => {
    const { weights, seed } = await informativeModel(
      spec,
      (BASE_SEED + 10 * MODELS.findIndex((m) => m.name === name) + DTYPES.indexOf(dtype)) >>> 0,
      dtype,
    );
    const gpu = await backend.createSession(weights, { maxContext: 96 });
    const cpu = await cpuBackend.createSession(weights, { maxContext: 96 });
    const ids = await greedyBoth(gpu, cpu, { trace: spec.moe !== undefined }, `${name} ${dtype} (seed ${seed})`);
    expect(new Set(ids).size, 'a degenerate model repeating one token proves little').toBeGreaterThan(3);
    expect(gpu.position).toBe(PROMPT.length + DECODE_TOKENS);
    gpu.dispose();
    cpu.dispose();
  });
});

describe('webgpu vs cpu: prompts longer than one prefill chunk, overrides, layer inputs', () => {
  it('a 150-token prompt (3 chunks) gives the same logits, routing and layer inputs', async () => {
    const spec = MODELS[1].spec;
    const weights = randomModelWeights(spec, BASE_SEED + 100, 'q8_0');
    const prompt = Array.from({ length: 150 }, (_, i) => (i * 37 + 11) % spec.vocab);
    const options: ForwardOptions = {
      trace: true,
      captureLayerInputs: true,
      routing: { expertsPerToken: 3, ban: { experts: [2], layers: [0] } },
    };
    const gpu = await backend.createSession(weights, { maxContext: 160 });
    const cpu = await cpuBackend.createSession(weights, { maxContext: 160 });
    const [g, c] = [await gpu.forward(prompt, options), await cpu.forward(prompt, options)];
    const report = allclose(g.logits, c.logits, TOLERANCE.logits, `long prompt logits (seed ${BASE_SEED + 100})`);
    console.log(report.message);
    expect(report.ok, report.message).toBe(true);
    expectRoutingEqual(g.routing, c.routing, `long prompt (seed ${BASE_SEED + 100})`);
    expect(g.routing![0].layers[0].expertIds).not.toContain(2);
    expect(c.layerInputs?.length, 'reference: one captured input per layer').toBe(spec.layers);
    expect(g.layerInputs?.length, 'webgpu: one captured input per layer').toBe(spec.layers);
    g.layerInputs!.forEach((x, l) => {
      const r = allclose(x, c.layerInputs![l], TOLERANCE.logits, `layer ${l} input (seed ${BASE_SEED + 100})`);
      expect(r.ok, r.message).toBe(true);
    });
    expect(gpu.stats.last.chunks).toBe(3);
    gpu.dispose();
  });

  it('truncate() rewinds the KV cache like the reference (tied embeddings)', async () => {
    const weights = randomModelWeights({ ...MODELS[2].spec, tieEmbeddings: true }, BASE_SEED + 200, 'f32');
    expect(weights.lmHead).toBeUndefined();
    const gpu = await backend.createSession(weights, { maxContext: 32 });
    const cpu = await cpuBackend.createSession(weights, { maxContext: 32 });
    for (const s of [gpu, cpu]) {
      await s.forward([1, 2, 3, 4, 5, 6]);
      s.truncate(2);
    }
    const [g, c] = [await gpu.forward([9, 8]), await cpu.forward([9, 8])];
    const report = allclose(g.logits, c.logits, TOLERANCE.logits, `after truncate (seed ${BASE_SEED + 200})`);
    expect(report.ok, report.message).toBe(true);
    gpu.dispose();
  });

  it('rejects what the reference rejects (bad token, too many forced experts)', async () => {
    const spec = MODELS[1].spec;
    const gpu = await backend.createSession(randomModelWeights(spec, BASE_SEED + 300, 'f32'), { maxContext: 16 });
    await expect(gpu.forward([spec.vocab])).rejects.toThrow(/outside/);
    await expect(gpu.forward([1], { routing: { force: { experts: [0, 1, 2] } } })).rejects.toThrow(/forced/);
    gpu.dispose();
    await expect(gpu.forward([1])).rejects.toThrow(/dispose/);
  });
});
