import { describe, expect, it } from 'vitest';
import { mulberry32, randomModelWeights, tinyMoeSpec, tinyQwenMoeSpec } from '../model/random.ts';
import { createRunState, forwardToken } from '../runtime/cpu/forward.ts';
import { planRouting } from '../runtime/routing.ts';
import { dequantizeModel, type ModelF32 } from '../runtime/cpu/model-f32.ts';
import { cpuBackend } from '../runtime/cpu/backend.ts';
import { calibrateRouters } from './calibrate.ts';
import { withCalibratedRouters } from './merged.ts';
import { evaluateRouting, forwardSequence, withRouters } from './evaluate.ts';
import type { CalibrationSequence } from './texts.ts';

/** forwardSequence and forwardToken do the same f32 ops in the same order, accumulating in f64. */
const SEQUENCE_VS_TOKEN_NLL_ATOL = 1e-4;
/** Separable synthetic texts: the fitted routers must send nearly every held-out token home. */
const SEPARABLE_MIN_OWN_SHARE = 0.9;
/** Shuffled labels: own share on fresh windows stays within this of chance (1/experts). */
const SHUFFLED_CHANCE_TOLERANCE = 0.12;

function logSoftmaxAt(logits: Float32Array, index: number): number {
  let max = -Infinity;
  for (const x of logits) max = Math.max(max, x);
  let sum = 0;
  for (const x of logits) sum += Math.exp(x - max);
  return logits[index] - max - Math.log(sum);
}

describe('forwardSequence', () => {
  it.each([
    ['mixtral', tinyMoeSpec()],
    ['qwen2_moe (bias, shared expert)', tinyQwenMoeSpec()],
    [
      'qwen3_moe (per-head q/k norm, head_dim ≠ hidden / heads)',
      tinyMoeSpec({ arch: 'qwen3_moe', qkNorm: true, headDim: 16 }),
    ],
    [
      'mixtral with Llama 3 RoPE scaling',
      tinyMoeSpec({
        ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 4 },
      }),
    ],
  ])('gives forwardToken’s next-token loss and top-1 experts (%s)', (_, spec) => {
    const model = dequantizeModel(randomModelWeights(spec, 7));
    const uniform = mulberry32(3);
    const tokens = Array.from({ length: 20 }, () => Math.floor(uniform() * spec.vocab));
    const run = forwardSequence(model, tokens);
    const state = createRunState(model, tokens.length);
    let worst = 0;
    tokens.forEach((token, pos) => {
      const routing = forwardToken(model, state, token, pos, { routingPlan: planRouting(spec.moe!, spec.layers) });
      for (const [l, r] of routing.entries()) expect(run.top1[l][pos]).toBe(r.expertIds[0]);
      if (pos + 1 < tokens.length)
        worst = Math.max(worst, Math.abs(-logSoftmaxAt(state.logits, tokens[pos + 1]) - run.nll[pos]));
    });
    expect(worst).toBeLessThan(SEQUENCE_VS_TOKEN_NLL_ATOL);
  });
});

/**
 * Synthetic "texts" whose expert is readable from their tokens: expert e's windows draw tokens
 * from the e-th band of the vocabulary (random embeddings make the bands separable).
 */
function bandedWindows(model: ModelF32, count: number, length: number, seed: number): CalibrationSequence[] {
  const experts = model.spec.moe!.experts;
  const band = Math.floor(model.spec.vocab / experts);
  const uniform = mulberry32(seed);
  return Array.from({ length: count }, (_, i) => {
    const expert = i % experts;
    const tokens = Array.from({ length }, () => expert * band + Math.floor(uniform() * band));
    return { expert, tokens };
  });
}

/** A random tiny MoE whose token embeddings cluster by vocabulary band: band e is offset along direction e. */
function bandedModel(seed: number, offset = 6): ModelF32 {
  const model = dequantizeModel(randomModelWeights(tinyMoeSpec({ hidden: 48, vocab: 101 }), seed));
  const { vocab, hidden } = model.spec;
  const experts = model.spec.moe!.experts;
  const band = Math.floor(vocab / experts);
  const embed = Float32Array.from(model.embed);
  for (let token = 0; token < band * experts; token++) embed[token * hidden + Math.floor(token / band)] += offset;
  return { ...model, embed };
}

describe('calibrateRouters', () => {
  const model = bandedModel(11);

  it.each(['logistic', 'mean', 'output-match'] as const)(
    'routes separable texts to their expert (%s)',
    async (method) => {
      const train = bandedWindows(model, 32, 12, 1);
      const test = bandedWindows(model, 16, 12, 2);
      const before = await evaluateRouting(model, test);
      const fitted = await calibrateRouters(model, train, { method });
      const after = await evaluateRouting(withRouters(model, fitted.routers), test);
      for (const share of after.ownShareMean) expect(share).toBeGreaterThan(SEPARABLE_MIN_OWN_SHARE);
      expect(Math.min(...after.ownShareMean)).toBeGreaterThan(Math.min(...before.ownShareMean));
    },
  );

  it.each(['logistic', 'output-match'] as const)(
    'routes at chance when the labels are shuffled (%s)',
    async (method) => {
      const train = bandedWindows(model, 32, 12, 1);
      const uniform = mulberry32(5);
      const shuffled = train.map((w) => ({ ...w, expert: Math.floor(uniform() * 4) }));
      for (let e = 0; e < 4; e++) shuffled[e].expert = e; // every expert keeps at least one window
      const fitted = await calibrateRouters(model, shuffled, { method });
      const test = bandedWindows(model, 64, 12, 3);
      // fresh windows with labels drawn independently of their band
      const relabelled = test.map((w) => ({ ...w, expert: Math.floor(uniform() * 4) }));
      const after = await evaluateRouting(withRouters(model, fitted.routers), relabelled);
      const top1Hits = after.top1Counts.reduce(
        (sum, byLayer, label) => sum + byLayer.reduce((s, c) => s + c[label], 0),
        0,
      );
      const total = after.top1Counts.flat(2).reduce((a, b) => a + b, 0);
      expect(Math.abs(top1Hits / total - 0.25)).toBeLessThan(SHUFFLED_CHANCE_TOLERANCE);
    },
  );

  it('token-loss targets send each token to the expert whose forced forward predicts it best', async () => {
    // With every window's label wrong on purpose, text labels and token-loss targets disagree:
    // the token-loss fit must not follow the (useless) text labels.
    const train = bandedWindows(model, 16, 10, 4);
    const fitted = await calibrateRouters(model, train, { method: 'token-loss' });
    expect(fitted.routers).toHaveLength(model.spec.layers);
    for (const share of fitted.trainTargetShare) expect(share).toBeGreaterThan(0.25);
  });

  it('reports progress per layer and stops on abort', async () => {
    const train = bandedWindows(model, 8, 6, 6);
    const phases: string[] = [];
    await calibrateRouters(model, train, {
      method: 'mean',
      onProgress: (p) => phases.push(`${p.phase}${p.layer ?? ''}`),
    });
    expect(phases).toContain('fit0');
    expect(phases).toContain(`fit${model.spec.layers - 1}`);
    expect(phases.at(-1)).toBe('done');
    const controller = new AbortController();
    controller.abort();
    await expect(calibrateRouters(model, train, { method: 'mean', signal: controller.signal })).rejects.toThrow(
      /cancelled/,
    );
  });

  it('refuses a dense model and out-of-range experts with ConfigError', async () => {
    const dense = dequantizeModel(randomModelWeights(tinyMoeSpec({ moe: undefined, arch: 'llama' }), 1));
    await expect(calibrateRouters(dense, [{ expert: 0, tokens: [1, 2] }], { method: 'mean' })).rejects.toThrow(
      /no MoE/,
    );
    await expect(calibrateRouters(model, [{ expert: 9, tokens: [1, 2] }], { method: 'mean' })).rejects.toThrow(
      /outside/,
    );
  });
});

describe('withCalibratedRouters', () => {
  it('gives the engine the calibrated routers: its top-1 routing equals the fitted model’s', async () => {
    const weights = randomModelWeights(tinyMoeSpec(), 13, 'f16');
    const model = dequantizeModel(weights);
    const train = bandedWindows(model, 16, 8, 1);
    const fitted = await calibrateRouters(model, train, { method: 'logistic' });
    const engineWeights = withCalibratedRouters(weights, fitted.routers);
    const session = await cpuBackend.createSession(engineWeights, { maxContext: 32 });
    const window = train[3];
    const { routing } = await session.forward(window.tokens, { trace: true });
    const expected = forwardSequence(withRouters(model, fitted.routers), window.tokens).top1;
    routing!.forEach((token, t) => {
      for (const [l, layer] of token.layers.entries()) expect(layer.expertIds[0]).toBe(expected[l][t]);
    });
    expect(() => withCalibratedRouters(weights, [fitted.routers[0]])).toThrow(/layer 1 router/);
  });
});
