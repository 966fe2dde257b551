/**
 * Fitting one layer's router [experts, hidden] to labelled states: multinomial logistic
 * regression without bias (Mixtral routers have none), a small L2 term, L-BFGS; the
 * token-mean gate; and a logit scale fitted on top of either (a sharper or softer softmax).
 *
 *   loss(W) = Σ_n w_n · −log softmax(W · x_n)[y_n]  +  (l2 / 2) · |W|²      Σ_n w_n = 1
 */
import { assert } from '../errors.ts';

/** Labelled router inputs of one layer. */
export interface LabelledStates {
  states: Float32Array; // [nTokens, hidden]  the router's inputs
  labels: Int32Array; // [nTokens]  expert index each token should go to
  hidden: number;
  experts: number;
}

/** Per-token weights // [nTokens] summing to 1, equal per expert (an expert with fewer tokens is not drowned out). */
export function classBalancedWeights(labels: Int32Array, experts: number): Float64Array {
  const counts = new Array<number>(experts).fill(0);
  for (const y of labels) counts[y]++;
  const present = counts.filter((c) => c > 0).length;
  const weights = new Float64Array(labels.length);
  for (let n = 0; n < labels.length; n++) weights[n] = 1 / (present * counts[labels[n]]);
  return weights;
}

/**
 * The loss above and its gradient. W, grad // [experts, hidden]; tokenWeights // [nTokens].
 * Returns the loss; grad is overwritten.
 */
export function logisticLossAndGradient(
  W: Float64Array,
  grad: Float64Array,
  data: LabelledStates,
  tokenWeights: Float64Array,
  l2: number,
): number {
  const { states, labels, hidden, experts } = data;
  const nTokens = labels.length;
  const logits = new Float64Array(experts); // [experts]; then p_e, then d loss / d logit_e
  let loss = 0;
  for (let i = 0; i < W.length; i++) {
    grad[i] = l2 * W[i];
    loss += 0.5 * l2 * W[i] * W[i];
  }
  // Experts four at a time: one pass over a token's state feeds four dot products (and four
  // gradient rows) instead of one pass per expert (same sums, same order).
  for (let n = 0; n < nTokens; n++) {
    const x = n * hidden;
    let e = 0;
    for (; e + 4 <= experts; e += 4) {
      const r0 = e * hidden;
      const r1 = r0 + hidden;
      const r2 = r1 + hidden;
      const r3 = r2 + hidden;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let j = 0; j < hidden; j++) {
        const v = states[x + j];
        s0 += W[r0 + j] * v;
        s1 += W[r1 + j] * v;
        s2 += W[r2 + j] * v;
        s3 += W[r3 + j] * v;
      }
      logits[e] = s0;
      logits[e + 1] = s1;
      logits[e + 2] = s2;
      logits[e + 3] = s3;
    }
    for (; e < experts; e++) {
      let sum = 0;
      const r = e * hidden;
      for (let j = 0; j < hidden; j++) sum += W[r + j] * states[x + j];
      logits[e] = sum;
    }
    let max = -Infinity;
    for (let q = 0; q < experts; q++) if (logits[q] > max) max = logits[q];
    let z = 0;
    for (let q = 0; q < experts; q++) z += Math.exp(logits[q] - max);
    const y = labels[n];
    loss += tokenWeights[n] * (max + Math.log(z) - logits[y]);
    // d loss / d logit_e = w_n · (p_e − [e = y_n])
    for (let q = 0; q < experts; q++) logits[q] = tokenWeights[n] * (Math.exp(logits[q] - max) / z - (q === y ? 1 : 0));
    e = 0;
    for (; e + 4 <= experts; e += 4) {
      const r0 = e * hidden;
      const r1 = r0 + hidden;
      const r2 = r1 + hidden;
      const r3 = r2 + hidden;
      const d0 = logits[e];
      const d1 = logits[e + 1];
      const d2 = logits[e + 2];
      const d3 = logits[e + 3];
      for (let j = 0; j < hidden; j++) {
        const v = states[x + j];
        grad[r0 + j] += d0 * v;
        grad[r1 + j] += d1 * v;
        grad[r2 + j] += d2 * v;
        grad[r3 + j] += d3 * v;
      }
    }
    for (; e < experts; e++) {
      const d = logits[e];
      const r = e * hidden;
      for (let j = 0; j < hidden; j++) grad[r + j] += d * states[x + j];
    }
  }
  return loss;
}

/** Minimizes f (which writes its gradient) from w0 by L-BFGS with a backtracking Armijo line search. */
export async function minimizeLbfgs(
  f: (w: Float64Array, grad: Float64Array) => number,
  w0: Float64Array,
  options: {
    maxIterations: number;
    history?: number;
    gradientTolerance?: number;
    /** Awaited after each iteration (progress, a turn of the event loop for cancel). */
    afterIteration?: (iteration: number) => Promise<void>;
  },
): Promise<Float64Array> {
  const size = w0.length;
  const history = options.history ?? 10;
  const tolerance = options.gradientTolerance ?? 1e-6;
  let w = Float64Array.from(w0);
  let grad = new Float64Array(size);
  let loss = f(w, grad);
  const sList: Float64Array[] = [];
  const yList: Float64Array[] = [];
  const dotOf = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + v * b[i], 0);
  for (let iteration = 0; iteration < options.maxIterations; iteration++) {
    if (Math.sqrt(dotOf(grad, grad)) < tolerance) break;
    // two-loop recursion: direction = −H · grad
    const q = Float64Array.from(grad);
    const alphas: number[] = [];
    for (let i = sList.length - 1; i >= 0; i--) {
      const alpha = dotOf(sList[i], q) / dotOf(yList[i], sList[i]);
      alphas[i] = alpha;
      for (let j = 0; j < size; j++) q[j] -= alpha * yList[i][j];
    }
    const last = sList.length - 1;
    const gamma =
      last >= 0
        ? dotOf(sList[last], yList[last]) / dotOf(yList[last], yList[last])
        : 1 / Math.max(1, Math.sqrt(dotOf(grad, grad)));
    for (let j = 0; j < size; j++) q[j] *= gamma;
    for (let i = 0; i < sList.length; i++) {
      const beta = dotOf(yList[i], q) / dotOf(yList[i], sList[i]);
      for (let j = 0; j < size; j++) q[j] += sList[i][j] * (alphas[i] - beta);
    }
    const direction = q.map((v) => -v);
    const slope = dotOf(grad, direction);
    if (slope >= 0) break; // not a descent direction: converged as far as f64 allows
    let step = 1;
    const next = new Float64Array(size);
    const nextGrad = new Float64Array(size);
    let nextLoss = Infinity;
    for (let tries = 0; tries < 30; tries++) {
      for (let j = 0; j < size; j++) next[j] = w[j] + step * direction[j];
      nextLoss = f(next, nextGrad);
      if (nextLoss <= loss + 1e-4 * step * slope) break;
      step /= 2;
    }
    if (!(nextLoss < loss)) break;
    const s = next.map((v, j) => v - w[j]);
    const y = nextGrad.map((v, j) => v - grad[j]);
    if (dotOf(s, y) > 1e-12) {
      sList.push(s);
      yList.push(y);
      if (sList.length > history) {
        sList.shift();
        yList.shift();
      }
    }
    w = next;
    grad = nextGrad;
    loss = nextLoss;
    await options.afterIteration?.(iteration + 1);
  }
  return w;
}

/** Router // [experts, hidden] by logistic regression on `data`, started from `initial` (zeros if absent). */
export async function fitLogisticRouter(
  data: LabelledStates,
  options: {
    l2: number;
    maxIterations: number;
    initial?: Float32Array;
    afterIteration?: (iteration: number) => Promise<void>;
  },
): Promise<Float32Array> {
  const size = data.experts * data.hidden;
  assert(
    data.states.length === data.labels.length * data.hidden,
    'fitLogisticRouter: states and labels differ in length',
  );
  const tokenWeights = classBalancedWeights(data.labels, data.experts);
  const w0 = options.initial ? Float64Array.from(options.initial) : new Float64Array(size);
  const w = await minimizeLbfgs((v, g) => logisticLossAndGradient(v, g, data, tokenWeights, options.l2), w0, {
    maxIterations: options.maxIterations,
    afterIteration: options.afterIteration,
  });
  return Float32Array.from(w);
}

/** Router // [experts, hidden] whose row e is the unit-length mean of expert e's states (mergekit `hidden` style). */
export function meanRouter(data: LabelledStates): Float32Array {
  const { states, labels, hidden, experts } = data;
  const router = new Float32Array(experts * hidden);
  const counts = new Array<number>(experts).fill(0);
  for (let n = 0; n < labels.length; n++) {
    counts[labels[n]]++;
    for (let j = 0; j < hidden; j++) router[labels[n] * hidden + j] += states[n * hidden + j];
  }
  for (let e = 0; e < experts; e++) {
    let norm = 0;
    for (let j = 0; j < hidden; j++) norm += router[e * hidden + j] ** 2;
    const scale = counts[e] > 0 && norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let j = 0; j < hidden; j++) router[e * hidden + j] *= scale;
  }
  return router;
}

/**
 * The scale s > 0 minimizing the class-balanced cross-entropy of s · (router · x): a router
 * temperature. Golden-section search on log s in [log minScale, log maxScale].
 */
export function fitLogitScale(router: Float32Array, data: LabelledStates, minScale = 1e-2, maxScale = 1e3): number {
  const { states, labels, hidden, experts } = data;
  const nTokens = labels.length;
  const logits = new Float64Array(nTokens * experts); // [nTokens, experts]
  for (let n = 0; n < nTokens; n++)
    for (let e = 0; e < experts; e++) {
      let sum = 0;
      for (let j = 0; j < hidden; j++) sum += router[e * hidden + j] * states[n * hidden + j];
      logits[n * experts + e] = sum;
    }
  const tokenWeights = classBalancedWeights(labels, experts);
  const lossAt = (logScale: number): number => {
    const s = Math.exp(logScale);
    let loss = 0;
    for (let n = 0; n < nTokens; n++) {
      let max = -Infinity;
      for (let e = 0; e < experts; e++) max = Math.max(max, s * logits[n * experts + e]);
      let z = 0;
      for (let e = 0; e < experts; e++) z += Math.exp(s * logits[n * experts + e] - max);
      loss += tokenWeights[n] * (max + Math.log(z) - s * logits[n * experts + labels[n]]);
    }
    return loss;
  };
  const ratio = (Math.sqrt(5) - 1) / 2;
  let lo = Math.log(minScale);
  let hi = Math.log(maxScale);
  for (let i = 0; i < 60; i++) {
    const a = hi - ratio * (hi - lo);
    const b = lo + ratio * (hi - lo);
    if (lossAt(a) < lossAt(b)) hi = b;
    else lo = a;
  }
  return Math.exp((lo + hi) / 2);
}

/**
 * Expert-output matching ('output-match'): per token n with label y, gram // [nTokens, experts,
 * experts] holds G_n[e][f] = ⟨E_e(x_n) − E_y(x_n), E_f(x_n) − E_y(x_n)⟩, the inner products of
 * every expert's MLP output minus the label expert's, on the router's own input x_n. With
 * p = softmax over the routed set S (the top-k by logit when topK < experts, renormalized as the
 * MoE renormalizes; all experts otherwise), the mixed output misses the label expert's by
 *
 *   |Σ_{e∈S} p_e E_e − E_y|² = pᵀ G p
 *
 * so a token costs what sending it elsewhere changes, and a token whose experts agree costs
 * nothing whatever the router does. The loss, beside the logistic loss on the same logits
 * (one pass computes both):
 *
 *   loss(W) = Σ_n a_n · −log softmax(W x_n)[y_n]  +  Σ_n m_n · pᵀ G_n p  +  (l2 / 2)|W|²
 *
 * S is held fixed within one evaluation (the gradient flows through the routed weights, as in
 * MoE training).
 */
export interface OutputMatchStates extends LabelledStates {
  gram: Float32Array; // [nTokens, experts, experts]
}

export function outputMatchLossAndGradient(
  W: Float64Array,
  grad: Float64Array,
  data: OutputMatchStates,
  logisticWeights: Float64Array, // a // [nTokens]
  matchWeights: Float64Array, // m // [nTokens]
  l2: number,
  topK: number,
): number {
  const { states, labels, hidden, experts, gram } = data;
  const logits = new Float64Array(experts);
  const p = new Float64Array(experts);
  const g = new Float64Array(experts);
  const dLogit = new Float64Array(experts);
  const routed = new Uint8Array(experts);
  let loss = 0;
  for (let i = 0; i < W.length; i++) {
    grad[i] = l2 * W[i];
    loss += 0.5 * l2 * W[i] * W[i];
  }
  for (let n = 0; n < labels.length; n++) {
    const x = n * hidden;
    for (let e = 0; e < experts; e++) {
      let sum = 0;
      const r = e * hidden;
      for (let j = 0; j < hidden; j++) sum += W[r + j] * states[x + j];
      logits[e] = sum;
    }
    const y = labels[n];
    // the logistic term: softmax over every expert
    let max = -Infinity;
    for (let e = 0; e < experts; e++) if (logits[e] > max) max = logits[e];
    let z = 0;
    for (let e = 0; e < experts; e++) z += Math.exp(logits[e] - max);
    loss += logisticWeights[n] * (max + Math.log(z) - logits[y]);
    for (let e = 0; e < experts; e++)
      dLogit[e] = logisticWeights[n] * (Math.exp(logits[e] - max) / z - (e === y ? 1 : 0));
    // the match term: softmax over the routed set
    routed.fill(topK >= experts ? 1 : 0);
    if (topK < experts)
      for (let k = 0; k < topK; k++) {
        let best = -1;
        for (let e = 0; e < experts; e++) if (!routed[e] && (best < 0 || logits[e] > logits[best])) best = e;
        routed[best] = 1;
      }
    let routedMax = -Infinity;
    for (let e = 0; e < experts; e++) if (routed[e] && logits[e] > routedMax) routedMax = logits[e];
    let routedZ = 0;
    for (let e = 0; e < experts; e++) routedZ += routed[e] ? Math.exp(logits[e] - routedMax) : 0;
    for (let e = 0; e < experts; e++) p[e] = routed[e] ? Math.exp(logits[e] - routedMax) / routedZ : 0;
    const G = n * experts * experts;
    let pGp = 0;
    for (let e = 0; e < experts; e++) {
      let sum = 0;
      for (let f = 0; f < experts; f++) sum += gram[G + e * experts + f] * p[f];
      g[e] = 2 * sum; // d(pᵀGp)/dp_e
      pGp += p[e] * sum;
    }
    loss += matchWeights[n] * pGp;
    let pg = 0;
    for (let e = 0; e < experts; e++) pg += p[e] * g[e];
    for (let e = 0; e < experts; e++) if (routed[e]) dLogit[e] += matchWeights[n] * p[e] * (g[e] - pg);
    for (let e = 0; e < experts; e++) {
      const d = dLogit[e];
      if (d === 0) continue;
      const r = e * hidden;
      for (let j = 0; j < hidden; j++) grad[r + j] += d * states[x + j];
    }
  }
  return loss;
}

/**
 * Router // [experts, hidden] minimizing the class-balanced logistic loss + `matchWeight` · the
 * output-match loss (gram scaled so the class-balanced mean of each token's largest miss is 1,
 * which makes matchWeight unitless), from zeros.
 */
export async function fitOutputMatchRouter(
  data: OutputMatchStates,
  options: {
    l2: number;
    maxIterations: number;
    topK: number;
    matchWeight: number;
    afterIteration?: (iteration: number) => Promise<void>;
  },
): Promise<Float32Array> {
  const size = data.experts * data.hidden;
  const { experts, labels } = data;
  assert(
    data.gram.length === labels.length * experts * experts,
    'fitOutputMatchRouter: gram and labels differ in length',
  );
  const tokenWeights = classBalancedWeights(labels, experts);
  let meanMiss = 0;
  for (let n = 0; n < labels.length; n++) {
    let worst = 0;
    for (let e = 0; e < experts; e++) worst = Math.max(worst, data.gram[n * experts * experts + e * experts + e]);
    meanMiss += tokenWeights[n] * worst;
  }
  const matchWeights = tokenWeights.map((w) => (options.matchWeight * w) / Math.max(meanMiss, 1e-30));
  const w0 = new Float64Array(size); // from zeros, as the logistic fit: the answer must not depend on the gates
  const w = await minimizeLbfgs(
    (v, g) => outputMatchLossAndGradient(v, g, data, tokenWeights, matchWeights, options.l2, options.topK),
    w0,
    { maxIterations: options.maxIterations, afterIteration: options.afterIteration },
  );
  return Float32Array.from(w);
}
