/**
 * Router calibration: fits every MoE layer's router [experts, hidden] so that tokens of an
 * expert's calibration texts go to that expert, layer by layer on the MoE's own forward pass
 * (layer l is fitted on the states that reach it through the already-calibrated layers
 * 0..l−1, since earlier routing changes later inputs). One pass over the texts in all:
 *
 *   x = embed(tokens) for every window
 *   for each layer l:
 *     attentionBlock; states = routerInputs      (every window)
 *     router_l = fit(states, targets)              the method
 *     moeBlock with router_l                       (every window)
 *
 * Methods (measured in docs/merge.md "Router calibration"):
 *   'mean'        row e = unit mean of expert e's router inputs (mergekit `hidden`, on many texts)
 *   'logistic'    multinomial logistic regression, no bias, small L2 (fitLogisticRouter)
 *   'token-loss'  logistic regression with per-token targets: the expert whose own forward
 *                 (the MoE with every token forced to it) predicts the next token best
 *   'lm-loss'     'logistic', then `steps` of router-only Adam through the MoE's own next-token
 *                 loss plus a label term (calibrate/train.ts trainRouters)
 *   'output-match' the logistic loss plus matchWeight × the miss of the routed mixture against
 *                 the label expert's MLP output on each token (logistic.ts; the shipped default:
 *                 every expert runs on every token to fill the miss's Gram matrices)
 * `fitScale` then multiplies the router by the logit scale that minimizes the label cross-entropy,
 * and `logitScale` by a fixed factor (a router temperature).
 */
import { CancelledError, ConfigError } from '../errors.ts';
import { createYielder } from '../merge/cooperative.ts';
import type { ModelF32, MoeF32 } from '../runtime/cpu/model-f32.ts';
import {
  fitLogisticRouter,
  fitLogitScale,
  fitOutputMatchRouter,
  meanRouter,
  type LabelledStates,
  type OutputMatchStates,
} from './logistic.ts';
import { forwardSequence } from './evaluate.ts';
import { attentionBlock, embedTokens, moeBlock, routerInputs, routeSequence, swigluMlpRows } from './sequence.ts';
import type { CalibrationSequence } from './texts.ts';
import { trainRouters } from './train.ts';
import { prepareRowMatmul } from './row-matmul.ts';

export type CalibrationMethod = 'mean' | 'logistic' | 'token-loss' | 'lm-loss' | 'output-match';
export const CALIBRATION_METHODS: readonly CalibrationMethod[] = [
  'mean',
  'logistic',
  'token-loss',
  'lm-loss',
  'output-match',
];

/** Training steps cap: 100,000 windows is hours on a CPU, beyond any calibration a user waits for. */
export const MAX_TRAIN_STEPS = 100_000;
/** 'lm-loss' steps when none are given (docs/merge.md: what 150 steps bought on the zoo). */
export const DEFAULT_LM_LOSS_STEPS = 200;

export interface CalibrationOptions {
  method: CalibrationMethod;
  /** Multiply each fitted router by its best logit scale (a router temperature). */
  fitScale?: boolean;
  /** A fixed multiplier on every fitted router, after fitScale (> 1: top-k weights nearer 0/1). Default 1. */
  logitScale?: number;
  /** L2 weight of the logistic fits (default 1e-3). */
  l2?: number;
  /** L-BFGS iterations per layer (default 50: 100 gave the same routing on the zoo, docs/merge.md). */
  maxIterations?: number;
  /** 'lm-loss': training steps (one window each; default 200), Adam learning rate, label-term weight. */
  steps?: number;
  learningRate?: number;
  labelWeight?: number;
  /** 'output-match': weight of the expert-output miss beside the logistic loss (default 4). */
  matchWeight?: number;
  /**
   * 'output-match': the routed set in the miss: the top-k by logit (renormalized, as the MoE
   * routes), or every expert (a dense softmax: smooth, so L-BFGS converges in a few times fewer
   * evaluations; docs/merge.md measured the same perplexities both ways). Default every expert.
   */
  matchTopK?: number;
  onProgress?: (p: CalibrationProgress) => void;
  signal?: AbortSignal;
}

/**
 * Typed progress: `done` of `total` units of the current phase. 'targets': windows × experts;
 * 'forward': window passes of `layer` (attention, then MoE); 'fit': L-BFGS iterations of `layer`
 * (a fit may stop before `total`: the last event says done = total); 'train': lm-loss steps.
 */
export interface CalibrationProgress {
  phase: 'targets' | 'forward' | 'fit' | 'train' | 'done';
  layer?: number;
  done: number;
  total: number;
}

export interface CalibrationResult {
  routers: Float32Array[]; // [layers] × [experts, hidden]
  /** Logit scale applied per layer (fitted × logitScale; 1 without either). */
  scales: number[]; // [layers]
  /** Share of calibration tokens whose top-1 expert is their target, per layer, with the fitted routers. */
  trainTargetShare: number[]; // [layers]
  tokens: number;
}

/** The routers of `model` fitted to `sequences` (their expert labels) by `options.method`. model is not changed. */
export async function calibrateRouters(
  model: ModelF32,
  sequences: CalibrationSequence[],
  options: CalibrationOptions,
): Promise<CalibrationResult> {
  await prepareRowMatmul(); // the kernel path, when this thread has WebAssembly SIMD
  const spec = model.spec;
  const moeSpec = spec.moe;
  if (!moeSpec) throw new ConfigError('calibrate: the model has no MoE layers to calibrate');
  if (sequences.length === 0) throw new ConfigError('calibrate: no calibration windows');
  const experts = moeSpec.experts;
  const logitScale = options.logitScale ?? 1;
  if (!(logitScale > 0 && logitScale <= 1000))
    throw new ConfigError(`calibrate: logitScale ${logitScale} is outside (0, 1000]`);
  for (const s of sequences)
    if (s.expert < 0 || s.expert >= experts)
      throw new ConfigError(`calibrate: expert ${s.expert} outside [0, ${experts})`);
  const yieldTurn = createYielder();
  const check = async () => {
    await yieldTurn();
    if (options.signal?.aborted) throw new CancelledError('calibrate: cancelled');
  };
  const targets =
    options.method === 'token-loss' ? await tokenLossTargets(model, sequences, options, check) : textTargets(sequences);
  const nTokens = targets.length;
  const routers: Float32Array[] = [];
  const scales: number[] = [];
  const trainTargetShare: number[] = [];
  const residuals = sequences.map((s) => embedTokens(model, s.tokens)); // [windows] × [tokens, hidden]
  for (let l = 0; l < spec.layers; l++) {
    const layer = model.layers[l];
    const moe = layer.moe;
    if (!moe) throw new ConfigError(`calibrate: layer ${l} is dense; only all-MoE models are calibrated`);
    const states = new Float32Array(nTokens * spec.hidden); // [nTokens, hidden]
    const inputs: Float32Array[] = [];
    let at = 0;
    const last = l + 1 === spec.layers;
    const passes = last ? sequences.length : 2 * sequences.length; // attention pass, then MoE pass (none after the last fit)
    for (let w = 0; w < sequences.length; w++) {
      attentionBlock(spec, layer, residuals[w], l);
      inputs.push(routerInputs(spec, layer, residuals[w]));
      states.set(inputs[w], at);
      at += inputs[w].length;
      options.onProgress?.({ phase: 'forward', layer: l, done: w + 1, total: passes });
      await check();
    }
    const data: LabelledStates | OutputMatchStates =
      options.method === 'output-match'
        ? {
            states,
            labels: targets,
            hidden: spec.hidden,
            experts,
            gram: expertMissGram(moe.experts, inputs, targets, spec.hidden),
          }
        : { states, labels: targets, hidden: spec.hidden, experts };
    const maxIterations = options.maxIterations ?? 50;
    options.onProgress?.({ phase: 'fit', layer: l, done: 0, total: maxIterations });
    let router = await fitRouter(data, options, maxIterations, async (iteration) => {
      options.onProgress?.({ phase: 'fit', layer: l, done: iteration, total: maxIterations });
      await check();
    });
    const scale = (options.fitScale ? fitLogitScale(router, data) : 1) * (options.logitScale ?? 1);
    if (scale !== 1) router = router.map((v) => v * scale);
    routers.push(router);
    scales.push(scale);
    trainTargetShare.push(top1Agreement(router, data));
    options.onProgress?.({ phase: 'fit', layer: l, done: maxIterations, total: maxIterations });
    if (last) break; // no later layer reads the last MoE block's output
    for (let w = 0; w < sequences.length; w++) {
      moeBlock(spec, moe, residuals[w], inputs[w], routeSequence(spec, l, router, inputs[w]));
      options.onProgress?.({ phase: 'forward', layer: l, done: sequences.length + w + 1, total: passes });
      await check();
    }
  }
  if (options.method === 'lm-loss') {
    const steps = options.steps ?? DEFAULT_LM_LOSS_STEPS;
    if (!Number.isInteger(steps) || steps < 1 || steps > MAX_TRAIN_STEPS)
      throw new ConfigError(`calibrate: steps ${steps} is outside [1, ${MAX_TRAIN_STEPS}]`);
    const trained = await trainRouters(model, sequences, routers, {
      steps,
      learningRate: options.learningRate,
      labelWeight: options.labelWeight,
      signal: options.signal,
      onStep: (done, total) => options.onProgress?.({ phase: 'train', done, total }),
    });
    routers.splice(0, routers.length, ...trained);
  }
  options.onProgress?.({ phase: 'done', done: 1, total: 1 });
  return { routers, scales, trainTargetShare, tokens: nTokens };
}

/** Logistic fits start from zeros, not from the merged gates: the answer must not depend on the gate_mode. */
async function fitRouter(
  data: LabelledStates,
  options: CalibrationOptions,
  maxIterations: number,
  afterIteration: (iteration: number) => Promise<void>,
): Promise<Float32Array> {
  if (options.method === 'mean') return meanRouter(data);
  if (options.method === 'output-match' && 'gram' in data)
    return fitOutputMatchRouter(data as OutputMatchStates, {
      l2: options.l2 ?? 1e-3,
      maxIterations,
      topK: options.matchTopK ?? data.experts,
      matchWeight: options.matchWeight ?? 4,
      afterIteration,
    });
  return fitLogisticRouter(data, { l2: options.l2 ?? 1e-3, maxIterations, afterIteration });
}

/**
 * gram // [nTokens, experts, experts]: per token, the inner products of every expert's output
 * minus its label expert's output on the router input (logistic.ts OutputMatchStates).
 * inputs // [windows] × [tokens, hidden], labels // [nTokens] in the same order.
 */
function expertMissGram(
  experts: MoeF32['experts'],
  inputs: Float32Array[],
  labels: Int32Array,
  hidden: number,
): Float32Array {
  const E = experts.length;
  const gram = new Float32Array(labels.length * E * E);
  let n0 = 0;
  for (const x of inputs) {
    const T = x.length / hidden;
    const outs = experts.map((mlp) => {
      const out = new Float32Array(x.length); // [T, hidden]
      swigluMlpRows(out, mlp, x, T, hidden);
      return out;
    });
    for (let t = 0; t < T; t++) {
      const y = labels[n0 + t];
      const base = (n0 + t) * E * E;
      for (let e = 0; e < E; e++)
        for (let f = e; f < E; f++) {
          let sum = 0;
          for (let j = 0; j < hidden; j++) {
            const i = t * hidden + j;
            sum += (outs[e][i] - outs[y][i]) * (outs[f][i] - outs[y][i]);
          }
          gram[base + e * E + f] = sum;
          gram[base + f * E + e] = sum;
        }
    }
    n0 += T;
  }
  return gram;
}

/** labels // [nTokens]: every token of a window gets its text's expert. */
function textTargets(sequences: CalibrationSequence[]): Int32Array {
  const labels: number[] = [];
  for (const s of sequences) for (let t = 0; t < s.tokens.length; t++) labels.push(s.expert);
  return Int32Array.from(labels);
}

/**
 * labels // [nTokens]: for token t, the expert whose forced forward gives the lowest −log p(token t+1);
 * the last token of a window (no next token) keeps its text's expert.
 */
async function tokenLossTargets(
  model: ModelF32,
  sequences: CalibrationSequence[],
  options: CalibrationOptions,
  check: () => Promise<void>,
): Promise<Int32Array> {
  const experts = model.spec.moe!.experts;
  const labels: number[] = [];
  let done = 0;
  for (const s of sequences) {
    const nll = [];
    for (let e = 0; e < experts; e++) {
      nll.push(forwardSequence(model, s.tokens, { expertsPerToken: 1, force: { experts: [e] } }).nll);
      options.onProgress?.({ phase: 'targets', done: ++done, total: sequences.length * experts });
      await check();
    }
    for (let t = 0; t < s.tokens.length; t++) {
      if (t + 1 === s.tokens.length) {
        labels.push(s.expert);
        continue;
      }
      let best = 0;
      for (let e = 1; e < experts; e++) if (nll[e][t] < nll[best][t]) best = e;
      labels.push(best);
    }
  }
  return Int32Array.from(labels);
}

/** Share of rows whose largest router logit is their label. */
export function top1Agreement(router: Float32Array, data: LabelledStates): number {
  const { states, labels, hidden, experts } = data;
  let agree = 0;
  for (let n = 0; n < labels.length; n++) {
    let best = 0;
    let bestLogit = -Infinity;
    for (let e = 0; e < experts; e++) {
      let sum = 0;
      for (let j = 0; j < hidden; j++) sum += router[e * hidden + j] * states[n * hidden + j];
      if (sum > bestLogit) {
        bestLogit = sum;
        best = e;
      }
    }
    if (best === labels[n]) agree++;
  }
  return agree / Math.max(1, labels.length);
}
