/**
 * Weights past the binding limit (the device's maxStorageBufferBindingSize / maxBufferSize,
 * or a lower `maxWeightBindingBytes`) are split across buffers, and the split model gives the
 * CPU reference's greedy ids, routing and logits; what cannot be split (a matrix read with a
 * bias, a row past the limit) is refused naming the tensor before any tensor is read.
 *
 * The real limits here (SwiftShader) are far above what a test model can reach, so the split
 * path runs under a lowered limit: the same code decides parts from any limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allclose, type Tolerance } from '../cpu/allclose.testing.ts';
import { argmax } from '../cpu/ops.ts';
import { cpuBackend } from '../cpu/backend.ts';
import type { ModelSpec } from '../../model/spec.ts';
import { randomModelWeights, tinyDenseSpec, tinyMoeSpec, tinyQwenMoeSpec } from '../../model/random.ts';
import { unreadableWeights } from '../../model/unreadable.testing.ts';
import type { DType } from '../../tensor.ts';
import type { Session, TokenRouting } from '../types.ts';
import { createWebGpuBackend, type WebGpuBackend } from './backend.ts';
import { freshTestSeed } from './kernel-harness.testing.ts';
import { planWeightParts } from './upload.ts';

const TOLERANCE = { logits: { atol: 2e-3, rtol: 2e-3 } } satisfies Record<string, Tolerance>;
const BASE_SEED = freshTestSeed('upload-limits.browser.test');
const QUANT_SIZES: Partial<ModelSpec> = { hidden: 64, heads: 4, kvHeads: 2, headDim: 16, intermediate: 96, vocab: 97 };

const backends: WebGpuBackend[] = [];
async function backendWithLimit(maxWeightBindingBytes?: number): Promise<WebGpuBackend> {
  const b = await createWebGpuBackend({ onLog: (m) => console.log(m), maxWeightBindingBytes });
  backends.push(b);
  return b;
}
let real: WebGpuBackend;
beforeAll(async () => {
  real = await backendWithLimit();
});
afterAll(() => {
  for (const b of backends) b.destroy();
});

describe('planWeightParts', () => {
  it('keeps what fits whole, then whole experts per part, then row ranges of one expert', () => {
    const whole = planWeightParts('t', 4, 10, 100, 4032);
    expect(whole).toEqual([{ expert0: 0, expertCount: 4, row0: 0, rowCount: 10 }]);
    // 2 experts of 1000 bytes per part under 2032 - 32 bytes of room
    expect(planWeightParts('t', 5, 10, 100, 2032)).toEqual([
      { expert0: 0, expertCount: 2, row0: 0, rowCount: 10 },
      { expert0: 2, expertCount: 2, row0: 0, rowCount: 10 },
      { expert0: 4, expertCount: 1, row0: 0, rowCount: 10 },
    ]);
    // one expert is past the limit: 4 rows per part
    const rows = planWeightParts('t', 2, 10, 100, 432);
    expect(rows.map((p) => [p.expert0, p.row0, p.rowCount])).toEqual([
      [0, 0, 4],
      [0, 4, 4],
      [0, 8, 2],
      [1, 0, 4],
      [1, 4, 4],
      [1, 8, 2],
    ]);
    expect(() => planWeightParts('model.embed_tokens.weight', 1, 10, 500, 432)).toThrow(
      "webgpu: tensor 'model.embed_tokens.weight' has rows of 500 bytes > the binding limit 432",
    );
  });
});

describe('webgpu binding limits: refusals before reading', () => {
  it('refuses a matrix read with a bias past the limit, naming it, before reading any tensor', async () => {
    const spec = tinyQwenMoeSpec({ ...QUANT_SIZES, moe: { ...tinyQwenMoeSpec().moe!, expertIntermediate: 32 } });
    const limited = await backendWithLimit(8192); // q_proj is 64×64 f32 = 16 KiB, with a bias
    await expect(limited.createSession(unreadableWeights(spec, 'f32'), { maxContext: 8 })).rejects.toThrow(
      /^webgpu: tensor 'model\.layers\.0\.self_attn\.q_proj\.weight' needs 16384 bytes > the binding limit 8192$/,
    );
  });

  it('refuses an embedding whose rows are past the real maxStorageBufferBindingSize, before reading', async () => {
    const limit = real.context.limits.maxStorageBufferBindingSize;
    const hidden = 32 * Math.ceil((limit / 4 + 1) / 32); // one f32 row is past the limit
    const spec = tinyDenseSpec({
      hidden,
      heads: 1,
      kvHeads: 1,
      headDim: 32,
      intermediate: 32,
      vocab: 2,
      layers: 1,
    });
    await expect(real.createSession(unreadableWeights(spec, 'f32'), { maxContext: 8 })).rejects.toThrow(
      new RegExp(
        `^webgpu: tensor 'model\\.embed_tokens\\.weight' has rows of \\d+ bytes > the binding limit ${limit}$`,
      ),
    );
  });
});

function expectSameRouting(a: TokenRouting[] | undefined, b: TokenRouting[] | undefined, label: string): void {
  expect(a?.length, `${label}: routing length`).toBe(b?.length);
  b!.forEach((token, t) =>
    token.layers.forEach((layer, l) =>
      expect(a![t].layers[l].expertIds, `${label} token ${t} layer ${l}`).toEqual(layer.expertIds),
    ),
  );
}

/** A 70-token prefill (grouped expert kernels, tiled matmuls) then 12 greedy decode steps. */
async function compare(gpu: Session, cpu: Session, vocab: number, label: string): Promise<void> {
  let input = Array.from({ length: 70 }, (_, i) => (i * 37 + 11) % vocab);
  for (let step = 0; step <= 12; step++) {
    const [g, c] = [await gpu.forward(input, { trace: true }), await cpu.forward(input, { trace: true })];
    const report = allclose(g.logits, c.logits, TOLERANCE.logits, `${label} step ${step} logits`);
    expect(report.ok, report.message).toBe(true);
    expectSameRouting(g.routing, c.routing, `${label} step ${step}`);
    const id = argmax(g.logits);
    expect(id, `${label}: greedy id at step ${step}`).toBe(argmax(c.logits));
    input = [id];
  }
}

const SPLIT_CASES: { name: string; spec: ModelSpec; dtype: DType; limit: number; how: string }[] = [
  {
    name: 'mixtral',
    spec: tinyMoeSpec({
      ...QUANT_SIZES,
      moe: { experts: 4, expertsPerToken: 2, normTopK: true, expertIntermediate: 64 },
    }),
    dtype: 'f32',
    limit: 4096, // every matrix and each expert is past it: row ranges (15 rows of 256 bytes a part)
    how: 'row ranges of every matrix and expert',
  },
  {
    name: 'mixtral',
    spec: tinyMoeSpec({
      ...QUANT_SIZES,
      moe: { experts: 4, expertsPerToken: 2, normTopK: true, expertIntermediate: 64 },
    }),
    dtype: 'q4_0',
    limit: 5000, // a stack of 4 experts (9216 bytes) splits into 2 experts a part
    how: 'whole experts per part',
  },
  {
    name: 'qwen2-moe (biases, shared expert, untied lm_head)',
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
    dtype: 'q4_0',
    limit: 2400, // q_proj (2304 bytes, with its bias) fits; embed, lm_head and expert stacks split
    how: 'embedding, lm_head and expert stacks',
  },
];

describe('webgpu: weights split past the binding limit run like the reference', () => {
  it.each(SPLIT_CASES)('$name $dtype under a $limit-byte limit ($how)', async ({ name, spec, dtype, limit }) => {
    const seed = (BASE_SEED + limit) >>> 0;
    const weights = randomModelWeights(spec, seed, dtype);
    const limited = await backendWithLimit(limit);
    const gpu = await limited.createSession(weights, { maxContext: 96 });
    const whole = await real.createSession(weights, { maxContext: 96 });
    const cpu = await cpuBackend.createSession(weights, { maxContext: 96 });
    const { splitParts, count } = gpu.stats.weightBuffers;
    console.log(`${name} ${dtype} limit ${limit}: ${count} weight buffers, ${splitParts} of them extra parts`);
    expect(splitParts, 'the lowered limit splits matrices').toBeGreaterThan(0);
    expect(whole.stats.weightBuffers.splitParts, 'the real limit splits nothing').toBe(0);
    expect(count).toBe(whole.stats.weightBuffers.count + splitParts);
    expect(gpu.stats.gpuBytes.weights, 'splitting moves no bytes').toBe(whole.stats.gpuBytes.weights);
    await compare(gpu, cpu, spec.vocab, `${name} ${dtype} split at ${limit} (seed ${seed})`);
    for (const s of [gpu, whole, cpu]) s.dispose();
  });
});
