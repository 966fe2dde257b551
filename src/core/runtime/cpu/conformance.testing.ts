/**
 * Backend conformance against the CPU reference: one table of cases (architectures ×
 * forward options) that any Backend (webgpu, wasm) can be run through, in Node or in
 * Chromium. Each case builds a seeded random model, runs the same tokens through the
 * backend under test and through cpuBackend, and compares:
 *
 *   logits        allclose with the dtype's named tolerance
 *   routing       expertIds equal (a swap is forgiven only where the reference's two
 *                 probabilities differ by < ROUTING_TIE_GAP), expertWeights / moeProbs /
 *                 sharedGate allclose
 *   layerInputs   allclose
 *
 * No test framework inside: it returns results, and the caller asserts on them, so the
 * same table serves `describe.each(backends)` in *.test.ts and *.browser.test.ts files.
 */
import type { DType, WeightDType } from '../../tensor.ts';
import type { ModelSpec } from '../../model/spec.ts';
import { randomModelWeights, tinyDenseSpec, tinyMoeSpec, tinyQwenMoeSpec } from '../../model/random.ts';
import type { Backend, ForwardOptions, ForwardResult, LayerRouting } from '../types.ts';
import { allclose, type Tolerance } from './allclose.testing.ts';
import { cpuBackend } from './backend.ts';

/** Per stored dtype: how far a correct fast path may drift from the f64-accumulating reference. */
export const CONFORMANCE_TOLERANCE: Record<WeightDType, Tolerance> = {
  f32: { atol: 1e-3, rtol: 1e-3 }, // f32 accumulation order only
  f16: { atol: 1e-2, rtol: 1e-2 }, // f16 activations or weights on the GPU path
  bf16: { atol: 5e-2, rtol: 5e-2 },
  q8_0: { atol: 5e-2, rtol: 5e-2 }, // q8 activations (ggml style) on top of q8 weights
  q4_0: { atol: 1e-1, rtol: 1e-1 },
};
/** Two experts whose reference probabilities differ by less than this may swap places. */
export const ROUTING_TIE_GAP = 1e-3;

export interface ConformanceCase {
  name: string;
  spec: ModelSpec;
  /** Steps: each forward call's tokens and options, in order on one session. */
  steps: { tokens: number[]; options?: ForwardOptions; truncateTo?: number }[];
}

export interface ConformanceResult {
  case: string;
  dtype: DType;
  ok: boolean;
  messages: string[];
}

/** Sizes are multiples of 32 so every dtype (q8_0/q4_0 blocks) can store them; still not powers of two. */
const blockSized = { hidden: 96, heads: 6, kvHeads: 2, headDim: 16, intermediate: 160, vocab: 131 };
const tokens = [1, 7, 30, 64, 99, 130, 2, 45];

export const CONFORMANCE_CASES: ConformanceCase[] = [
  {
    name: 'dense llama: prefill then steps',
    spec: tinyDenseSpec(blockSized),
    steps: [{ tokens }, { tokens: [5] }, { tokens: [6] }],
  },
  {
    // originalContext 8 with headDim 16: pair 0 is blended, pairs 1… are 8× slower, so every
    // position past 0 depends on the scaling (a backend with plain RoPE fails here)
    name: 'llama 3: scaled RoPE (rope_type llama3), prefill then steps',
    spec: tinyDenseSpec({
      ...blockSized,
      ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 8 },
    }),
    steps: [{ tokens }, { tokens: [5] }, { tokens: [6, 7] }],
  },
  {
    // head_dim 32 with 6 heads: q is 192 wide on a 96-wide model, as Qwen3's 128 × 16 on 1024
    name: 'qwen3: per-head q/k norm, head_dim ≠ hidden / heads, prefill then steps',
    spec: tinyDenseSpec({ ...blockSized, arch: 'qwen3', qkNorm: true, headDim: 32 }),
    steps: [{ tokens }, { tokens: [5] }, { tokens: [6, 7] }],
  },
  {
    name: 'qwen3_moe: q/k norm, top-2 of 4 renormalized, trace',
    spec: tinyDenseSpec({
      ...blockSized,
      arch: 'qwen3_moe',
      qkNorm: true,
      moe: { experts: 4, expertsPerToken: 2, normTopK: true, expertIntermediate: 32 },
    }),
    steps: [
      { tokens, options: { trace: true } },
      { tokens: [3], options: { trace: true } },
    ],
  },
  {
    name: 'qwen2: qkv bias, interleaved rope, tied',
    spec: tinyDenseSpec({ ...blockSized, arch: 'qwen2', qkvBias: true, ropeStyle: 'interleaved', tieEmbeddings: true }),
    steps: [{ tokens }],
  },
  {
    name: 'mixtral: trace',
    spec: tinyMoeSpec({
      ...blockSized,
      moe: { experts: 4, expertsPerToken: 2, normTopK: true, expertIntermediate: 64 },
    }),
    steps: [
      { tokens, options: { trace: true } },
      { tokens: [3], options: { trace: true } },
    ],
  },
  {
    name: 'qwen2_moe: shared expert, no renorm',
    spec: tinyQwenMoeSpec({
      ...blockSized,
      moe: {
        experts: 5,
        expertsPerToken: 2,
        normTopK: false,
        expertIntermediate: 32,
        sharedExpert: { intermediate: 64, gated: true },
      },
    }),
    steps: [{ tokens, options: { trace: true } }],
  },
  {
    name: 'mixtral: ban / force / expertsPerToken overrides',
    spec: tinyMoeSpec({
      ...blockSized,
      moe: { experts: 6, expertsPerToken: 2, normTopK: true, expertIntermediate: 32 },
    }),
    steps: [
      { tokens, options: { trace: true, routing: { ban: { experts: [0, 3] } } } },
      { tokens: [9], options: { trace: true, routing: { expertsPerToken: 3, force: { experts: [5], layers: [1] } } } },
    ],
  },
  {
    name: 'qwen2_moe: routing edge cases (k clamped by bans, forced fill every slot, expertsPerToken = experts)',
    spec: tinyQwenMoeSpec({
      ...blockSized,
      moe: {
        experts: 4,
        expertsPerToken: 2,
        normTopK: false,
        expertIntermediate: 32,
        sharedExpert: { intermediate: 32, gated: true },
      },
    }),
    steps: [
      { tokens: tokens.slice(0, 4), options: { trace: true, routing: { ban: { experts: [0, 1, 2] } } } },
      { tokens: [8, 9], options: { trace: true, routing: { force: { experts: [3, 0] } } } },
      { tokens: [10], options: { trace: true, routing: { expertsPerToken: 4, ban: { experts: [1], layers: [0] } } } },
    ],
  },
  {
    // top-p gives tokens different expert counts in one prefill chunk (the grouped path) and
    // in decode; p values are away from 1, where the f32 (webgpu) and f64 mass may differ
    name: 'mixtral: dynamic routing (expertsTopP, per layer, with ban and force)',
    spec: tinyMoeSpec({
      ...blockSized,
      moe: { experts: 6, expertsPerToken: 2, normTopK: true, expertIntermediate: 32 },
    }),
    steps: [
      { tokens, options: { trace: true, routing: { expertsTopP: { p: 0.6 } } } },
      { tokens: [9], options: { trace: true, routing: { expertsTopP: { p: 0.8, minExperts: 2, maxExperts: 4 } } } },
      {
        tokens: [13, 14, 15],
        options: {
          trace: true,
          routing: {
            expertsPerToken: 1,
            expertsTopP: { p: 0.5, layers: [1] },
            ban: { experts: [2] },
            force: { experts: [4], layers: [1] },
          },
        },
      },
    ],
  },
  {
    name: 'qwen2_moe: dynamic routing with a shared expert, no renorm',
    spec: tinyQwenMoeSpec({
      ...blockSized,
      moe: {
        experts: 5,
        expertsPerToken: 2,
        normTopK: false,
        expertIntermediate: 32,
        sharedExpert: { intermediate: 32, gated: true },
      },
    }),
    steps: [
      { tokens, options: { trace: true, routing: { expertsTopP: { p: 0.7, maxExperts: 3 } } } },
      { tokens: [20], options: { trace: true, routing: { expertsTopP: { p: 0.9 } } } },
    ],
  },
  {
    name: 'mixtral: 24-token prefill (chunking, long attention), then a step',
    spec: tinyMoeSpec({
      ...blockSized,
      moe: { experts: 4, expertsPerToken: 2, normTopK: true, expertIntermediate: 32 },
    }),
    steps: [
      { tokens: Array.from({ length: 24 }, (_, i) => (i * 53 + 1) % 131), options: { trace: true } },
      { tokens: [4], options: { trace: true } },
    ],
  },
  {
    // Mistral's sliding window: a 24-token prefill and decode steps well past a window of 5,
    // then a truncate back inside it (the window's start moves with every position).
    name: 'mistral / mixtral: sliding window 5, context past it',
    spec: tinyMoeSpec({
      ...blockSized,
      slidingWindow: 5,
      moe: { experts: 4, expertsPerToken: 2, normTopK: true, expertIntermediate: 32 },
    }),
    steps: [
      { tokens: Array.from({ length: 24 }, (_, i) => (i * 37 + 3) % 131), options: { trace: true } },
      { tokens: [4], options: { trace: true } },
      { tokens: [8] },
      { tokens: [9, 10, 11], truncateTo: 3 },
    ],
  },
  {
    // Qwen2 with use_sliding_window: layer 0 attends to everything, layer 1 (max_window_layers 1)
    // within the last 5 positions; 24 tokens, then steps past the window and a truncate.
    name: 'qwen2: sliding window 5 from layer 1 on (max_window_layers), context past it',
    spec: tinyDenseSpec({ ...blockSized, arch: 'qwen2', qkvBias: true, slidingWindow: 5, slidingWindowFirstLayer: 1 }),
    steps: [
      { tokens: Array.from({ length: 24 }, (_, i) => (i * 29 + 5) % 131) },
      { tokens: [4] },
      { tokens: [9, 10, 11], truncateTo: 3 },
    ],
  },
  {
    name: 'captureLayerInputs and truncate',
    spec: tinyMoeSpec({
      ...blockSized,
      moe: { experts: 4, expertsPerToken: 1, normTopK: true, expertIntermediate: 32 },
    }),
    steps: [
      { tokens, options: { captureLayerInputs: true } },
      { tokens: [11, 12], truncateTo: 3, options: { captureLayerInputs: true, trace: true } },
    ],
  },
];

function compareRouting(
  actual: LayerRouting,
  expected: LayerRouting,
  tolerance: Tolerance,
  where: string,
  messages: string[],
): void {
  const sameIds =
    actual.expertIds.length === expected.expertIds.length &&
    actual.expertIds.every(
      (id, i) =>
        id === expected.expertIds[i] ||
        Math.abs(expected.moeProbs[id] - expected.moeProbs[expected.expertIds[i]]) < ROUTING_TIE_GAP,
    );
  if (!sameIds) messages.push(`${where}: expertIds [${actual.expertIds}] != reference [${expected.expertIds}]`);
  for (const [label, a, e] of [
    ['expertWeights', actual.expertWeights, expected.expertWeights],
    ['moeProbs', actual.moeProbs, expected.moeProbs],
  ] as const) {
    const report = allclose(a, e, tolerance, `${where} ${label}`);
    if (!report.ok) messages.push(report.message);
  }
  if ((actual.sharedGate === undefined) !== (expected.sharedGate === undefined))
    messages.push(`${where}: sharedGate presence differs`);
  else if (expected.sharedGate !== undefined && !allclose([actual.sharedGate!], [expected.sharedGate], tolerance).ok) {
    messages.push(`${where}: sharedGate ${actual.sharedGate} vs ${expected.sharedGate}`);
  }
}

function compareResults(
  actual: ForwardResult,
  expected: ForwardResult,
  tolerance: Tolerance,
  step: number,
  messages: string[],
): void {
  const logits = allclose(actual.logits, expected.logits, tolerance, `step ${step} logits`);
  if (!logits.ok) messages.push(logits.message);
  if (expected.routing) {
    if (actual.routing?.length !== expected.routing.length)
      messages.push(
        `step ${step}: ${actual.routing?.length ?? 'no'} routing records, expected ${expected.routing.length}`,
      );
    else
      expected.routing.forEach((token, t) =>
        token.layers.forEach((layer, l) => {
          const got = actual.routing![t].layers[l];
          if (!got) messages.push(`step ${step} token ${t}: no routing for layer ${l}`);
          else compareRouting(got, layer, tolerance, `step ${step} token ${t} layer ${l}`, messages);
        }),
      );
  }
  if (expected.layerInputs) {
    if (actual.layerInputs?.length !== expected.layerInputs.length)
      messages.push(`step ${step}: layerInputs missing or wrong length`);
    else
      expected.layerInputs.forEach((e, l) => {
        const report = allclose(actual.layerInputs![l], e, tolerance, `step ${step} layer ${l} input`);
        if (!report.ok) messages.push(report.message);
      });
  }
}

/**
 * Runs one case on `backend` and on `reference` (the plain CPU reference unless given, e.g.
 * cpuBackendQ8x for a backend whose q4_0 matmuls read 8-bit activations); `ok` when every
 * comparison holds.
 */
export async function runConformanceCase(
  backend: Backend,
  testCase: ConformanceCase,
  dtype: DType,
  seed = 1,
  referenceBackend: Backend = cpuBackend,
): Promise<ConformanceResult> {
  const weights = randomModelWeights(testCase.spec, seed, dtype);
  const tolerance = CONFORMANCE_TOLERANCE[dtype as keyof typeof CONFORMANCE_TOLERANCE] ?? CONFORMANCE_TOLERANCE.q4_0;
  const messages: string[] = [];
  const [session, reference] = [
    await backend.createSession(weights, { maxContext: 32 }),
    await referenceBackend.createSession(weights, { maxContext: 32 }),
  ];
  try {
    for (const [i, step] of testCase.steps.entries()) {
      if (step.truncateTo !== undefined) {
        session.truncate(step.truncateTo);
        reference.truncate(step.truncateTo);
      }
      const [actual, expected] = [
        await session.forward(step.tokens, step.options),
        await reference.forward(step.tokens, step.options),
      ];
      if (session.position !== reference.position)
        messages.push(`step ${i}: position ${session.position} != ${reference.position}`);
      compareResults(actual, expected, tolerance, i, messages);
    }
  } catch (error) {
    messages.push(`threw ${(error as Error).name}: ${(error as Error).message}`);
  } finally {
    session.dispose();
    reference.dispose();
  }
  return { case: testCase.name, dtype, ok: messages.length === 0, messages };
}

/** Every case × every dtype asked for. */
export async function runBackendConformance(
  backend: Backend,
  dtypes: DType[] = ['f32'],
  referenceFor: (dtype: DType) => Backend = () => cpuBackend,
): Promise<ConformanceResult[]> {
  const results: ConformanceResult[] = [];
  for (const dtype of dtypes)
    for (const testCase of CONFORMANCE_CASES)
      results.push(await runConformanceCase(backend, testCase, dtype, 1, referenceFor(dtype)));
  return results;
}
