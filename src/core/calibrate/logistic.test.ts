import { describe, expect, it } from 'vitest';
import { fillNormal, mulberry32 } from '../model/random.ts';
import { top1Agreement } from './calibrate.ts';
import {
  classBalancedWeights,
  fitLogisticRouter,
  fitLogitScale,
  logisticLossAndGradient,
  meanRouter,
  outputMatchLossAndGradient,
  type LabelledStates,
  type OutputMatchStates,
} from './logistic.ts';

/** Central differences in f64 with step 1e-5 on a smooth loss: agreement to ~1e-8, checked at 1e-6. */
const GRADIENT_ATOL = 1e-6;
/** Well separated clusters (centre distance 8 σ): held-out accuracy at least this. */
const SEPARABLE_MIN_ACCURACY = 0.98;
/** Shuffled labels on 2,000 fresh points: accuracy within this of 1/experts (≈ 5 standard errors). */
const CHANCE_TOLERANCE = 0.05;
/** A scale recovered from 4,000 labels sampled at that scale: within this factor. */
const SCALE_RELATIVE_TOLERANCE = 0.15;

/** nPoints Gaussian points around `experts` random centres of norm `separation`; label = centre. */
function clusters(seed: number, nPoints: number, hidden: number, experts: number, separation: number): LabelledStates {
  const uniform = mulberry32(seed);
  const centres = Array.from({ length: experts }, () => {
    const c = fillNormal(new Float32Array(hidden), uniform, 1);
    const norm = Math.hypot(...c);
    return c.map((v) => (v / norm) * separation);
  });
  const states = new Float32Array(nPoints * hidden);
  const labels = new Int32Array(nPoints);
  const noise = new Float32Array(hidden);
  for (let n = 0; n < nPoints; n++) {
    labels[n] = n % experts;
    fillNormal(noise, uniform, 1);
    for (let j = 0; j < hidden; j++) states[n * hidden + j] = centres[labels[n]][j] + noise[j];
  }
  return { states, labels, hidden, experts };
}

describe('logisticLossAndGradient', () => {
  // 3 experts: the one-at-a-time loop only; 5: a block of four plus one
  it.each([3, 5])('matches central finite differences with %s experts', (experts) => {
    const data = clusters(1, 40, 6, experts, 2);
    const uniform = mulberry32(2);
    const W = Float64Array.from(fillNormal(new Float32Array(6 * experts), uniform, 0.5));
    const weights = classBalancedWeights(data.labels, experts);
    const worst = worstGradientError((v, g) => logisticLossAndGradient(v, g, data, weights, 0.01), W);
    expect(worst).toBeLessThan(GRADIENT_ATOL);
  });
});

describe('fitLogisticRouter', () => {
  it('routes well-separated clusters to their label', async () => {
    const points = clusters(3, 800, 16, 4, 8); // first half to fit, second half held out
    const half = (from: number, to: number): LabelledStates => ({
      ...points,
      states: points.states.subarray(from * 16, to * 16),
      labels: points.labels.subarray(from, to),
    });
    const router = await fitLogisticRouter(half(0, 400), { l2: 1e-3, maxIterations: 100 });
    expect(top1Agreement(router, half(400, 800))).toBeGreaterThan(SEPARABLE_MIN_ACCURACY);
  });

  it('routes at chance when the labels are shuffled', async () => {
    const train = clusters(4, 800, 16, 4, 8);
    const uniform = mulberry32(9);
    const shuffled = { ...train, labels: train.labels.map(() => Math.floor(uniform() * 4)) };
    const router = await fitLogisticRouter(shuffled, { l2: 1e-3, maxIterations: 100 });
    const fresh = clusters(5, 2000, 16, 4, 8);
    const relabelled = { ...fresh, labels: fresh.labels.map(() => Math.floor(uniform() * 4)) };
    expect(Math.abs(top1Agreement(router, relabelled) - 0.25)).toBeLessThan(CHANCE_TOLERANCE);
  });
});

describe('meanRouter and fitLogitScale', () => {
  it('the mean router separates clusters and has unit rows', () => {
    const data = clusters(6, 400, 16, 4, 8);
    const router = meanRouter(data);
    for (let e = 0; e < 4; e++) expect(Math.hypot(...router.subarray(e * 16, (e + 1) * 16))).toBeCloseTo(1, 5);
    expect(top1Agreement(router, data)).toBeGreaterThan(SEPARABLE_MIN_ACCURACY);
  });

  it('recovers the scale labels were sampled at', () => {
    const hidden = 8;
    const uniform = mulberry32(7);
    const router = fillNormal(new Float32Array(3 * hidden), uniform, 1);
    const trueScale = 2.5;
    const nPoints = 4000;
    const states = fillNormal(new Float32Array(nPoints * hidden), uniform, 1);
    const labels = new Int32Array(nPoints);
    for (let n = 0; n < nPoints; n++) {
      const logits = [0, 1, 2].map((e) => {
        let s = 0;
        for (let j = 0; j < hidden; j++) s += router[e * hidden + j] * states[n * hidden + j];
        return trueScale * s;
      });
      const max = Math.max(...logits);
      const p = logits.map((l) => Math.exp(l - max));
      const u = uniform() * p.reduce((a, b) => a + b, 0);
      let cumulative = 0;
      labels[n] = p.findIndex((v) => {
        cumulative += v;
        return u <= cumulative;
      });
    }
    // fitLogitScale weighs classes equally; sampled classes are near-balanced here, so the optimum stays near trueScale
    const scale = fitLogitScale(router, { states, labels, hidden, experts: 3 });
    expect(Math.abs(scale / trueScale - 1)).toBeLessThan(SCALE_RELATIVE_TOLERANCE);
  });
});

/** Largest |central difference (step 1e-5) − analytic gradient| over the coordinates of W; f writes its gradient. */
function worstGradientError(f: (w: Float64Array, grad: Float64Array) => number, W: Float64Array): number {
  const grad = new Float64Array(W.length);
  f(W, grad);
  const scratch = new Float64Array(W.length);
  const h = 1e-5;
  let worst = 0;
  for (let i = 0; i < W.length; i++) {
    const plus = Float64Array.from(W);
    const minus = Float64Array.from(W);
    plus[i] += h;
    minus[i] -= h;
    worst = Math.max(worst, Math.abs((f(plus, scratch) - f(minus, scratch)) / (2 * h) - grad[i]));
  }
  return worst;
}

/** A random positive semi-definite miss matrix per token with a zero row/column at its label. */
function withGram(data: LabelledStates, seed: number): OutputMatchStates {
  const { labels, experts } = data;
  const uniform = mulberry32(seed);
  const dims = 3;
  const gram = new Float32Array(labels.length * experts * experts);
  for (let n = 0; n < labels.length; n++) {
    const d = Array.from({ length: experts }, (_, e) =>
      e === labels[n] ? new Float32Array(dims) : fillNormal(new Float32Array(dims), uniform, 1),
    );
    for (let e = 0; e < experts; e++)
      for (let f = 0; f < experts; f++)
        gram[(n * experts + e) * experts + f] = d[e].reduce((s, v, i) => s + v * d[f][i], 0);
  }
  return { ...data, gram };
}

describe('outputMatchLossAndGradient', () => {
  it.each([
    [4, 4],
    [4, 2],
    [5, 2],
  ])('matches central finite differences with %s experts, routed set %s', (experts, topK) => {
    const data = withGram(clusters(3, 30, 6, experts, 2), 4);
    const W = Float64Array.from(fillNormal(new Float32Array(6 * experts), mulberry32(5), 0.5));
    const logistic = classBalancedWeights(data.labels, experts);
    const match = logistic.map((w, n) => w * (1 + (n % 3))); // unequal, so the two terms are told apart
    const f = (v: Float64Array, g: Float64Array) => outputMatchLossAndGradient(v, g, data, logistic, match, 0.01, topK);
    // random W: no ±h step here crosses a change of the routed set (the loss would jump there)
    const worst = worstGradientError(f, W);
    expect(worst).toBeLessThan(GRADIENT_ATOL);
  });

  it('costs nothing when every token goes to its label expert alone, and what the miss says otherwise', () => {
    const data = withGram(clusters(6, 20, 4, 3, 2), 7);
    const weights = new Float64Array(20).fill(1);
    const none = new Float64Array(20); // no logistic term: the miss alone
    const grad = new Float64Array(12);
    // states = a one-hot label feature, so W = 60 · I sends each token to its label expert
    const states = new Float32Array(20 * 4);
    data.labels.forEach((y, n) => {
      states[n * 4 + y] = 1;
    });
    const exact = { ...data, states };
    const W = new Float64Array(12);
    for (let e = 0; e < 3; e++) W[e * 4 + e] = 60;
    expect(outputMatchLossAndGradient(W, grad, exact, none, weights, 0, 1)).toBeCloseTo(0, 12);
    // uniform routing over all three: pᵀGp with p = 1/3
    const zero = new Float64Array(12);
    let expected = 0;
    for (let n = 0; n < 20; n++) {
      let sum = 0;
      for (let i = 0; i < 9; i++) sum += data.gram[n * 9 + i];
      expected += sum / 9;
    }
    expect(outputMatchLossAndGradient(zero, grad, exact, none, weights, 0, 3)).toBeCloseTo(expected, 4);
  });
});
