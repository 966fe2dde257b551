/**
 * What routing does on labelled texts: per-token next-token loss and top-1 experts of a
 * model run over windows by calibrate/sequence.ts (the same maths as the engine's CPU
 * reference). Gives the before/after figures of a calibration: the own-expert top-1 share
 * per layer and the perplexity per expert's texts.
 */
import type { ModelF32 } from '../runtime/cpu/model-f32.ts';
import type { RoutingOverrides } from '../runtime/types.ts';
import {
  attentionBlock,
  denseMlpBlock,
  embedTokens,
  moeBlock,
  nextTokenNll,
  routerInputs,
  routeSequence,
} from './sequence.ts';
import type { CalibrationSequence } from './texts.ts';
import { prepareRowMatmul } from './row-matmul.ts';
import { mulberry32 } from '../model/random.ts';

/** A shallow copy of `model` whose MoE layers listed in `routers` use those router matrices // [experts, hidden]. */
export function withRouters(model: ModelF32, routers: Record<number, Float32Array> | Float32Array[]): ModelF32 {
  const layers = model.layers.map((layer, l) => {
    const router = (routers as Record<number, Float32Array>)[l];
    return router && layer.moe ? { ...layer, moe: { ...layer.moe, router } } : layer;
  });
  return { ...model, layers };
}

export interface SequenceForward {
  nll: Float64Array; // [nTokens − 1]
  top1: Int32Array[]; // [moeLayers] × [nTokens]  the highest-weight expert of each token
}

/** Runs one window through the whole model. routing: per-request overrides, as the engine takes them. */
export function forwardSequence(
  model: ModelF32,
  tokens: readonly number[],
  routing?: RoutingOverrides,
): SequenceForward {
  const spec = model.spec;
  const x = embedTokens(model, tokens); // [nTokens, hidden]
  const top1: Int32Array[] = [];
  for (const [l, layer] of model.layers.entries()) {
    attentionBlock(spec, layer, x, l);
    if (!layer.moe) {
      denseMlpBlock(spec, layer, x);
      continue;
    }
    const input = routerInputs(spec, layer, x);
    const route = routeSequence(spec, l, layer.moe.router, input, routing);
    top1.push(Int32Array.from(route.expertIds, (ids) => ids[0]));
    moeBlock(spec, layer.moe, x, input, route);
  }
  return { nll: nextTokenNll(model, x, tokens), top1 };
}

export interface RoutingEvaluation {
  /** top1Counts[label][layer][expert]: tokens of `label`'s texts whose top-1 expert at `layer` is `expert`. */
  top1Counts: number[][][];
  /** Own-expert top-1 share per label and layer ([label][layer]); NaN for a label without texts. */
  ownShare: number[][];
  /** Own-expert share per label averaged over layers ([label]). */
  ownShareMean: number[];
  /** exp(mean next-token loss) over each label's windows ([label]); NaN without texts. */
  perplexity: number[];
  /** Scored (next-token) positions per label. */
  scoredTokens: number[];
  /** Next-token loss of every scored position, per window in the order given ([windows] × [nTokens − 1]). */
  windowNll: Float64Array[];
}

/** Evaluates routing and perplexity of `model` on labelled windows (each from an empty cache). */
export async function evaluateRouting(
  model: ModelF32,
  sequences: CalibrationSequence[],
  onWindow?: (done: number, total: number) => void | Promise<void>,
): Promise<RoutingEvaluation> {
  await prepareRowMatmul(); // the kernel path, when this thread has WebAssembly SIMD
  const experts = model.spec.moe?.experts ?? 0;
  const moeLayers = model.layers.filter((l) => l.moe).length;
  const labels = Math.max(experts, ...sequences.map((s) => s.expert + 1));
  const top1Counts = Array.from({ length: labels }, () =>
    Array.from({ length: moeLayers }, () => new Array<number>(experts).fill(0)),
  );
  const nllSum = new Array<number>(labels).fill(0);
  const scoredTokens = new Array<number>(labels).fill(0);
  const windowNll: Float64Array[] = [];
  for (let w = 0; w < sequences.length; w++) {
    const { expert, tokens } = sequences[w];
    const run = forwardSequence(model, tokens);
    for (const [l, ids] of run.top1.entries()) for (const e of ids) top1Counts[expert][l][e]++;
    for (const v of run.nll) nllSum[expert] += v;
    scoredTokens[expert] += run.nll.length;
    windowNll.push(run.nll);
    await onWindow?.(w + 1, sequences.length);
  }
  const ownShare = top1Counts.map((byLayer, label) =>
    byLayer.map((counts) => counts[label] / counts.reduce((a, b) => a + b, 0)),
  );
  return {
    top1Counts,
    ownShare,
    ownShareMean: ownShare.map((s) => s.reduce((a, b) => a + b, 0) / s.length),
    perplexity: nllSum.map((sum, label) => Math.exp(sum / scoredTokens[label])),
    scoredTokens,
    windowNll,
  };
}

export interface PerplexityRatio {
  ratio: number; // exp(mean(lossA − lossB)) = perplexity A ÷ perplexity B on the same tokens
  low: number; // the interval's ends (percentile block bootstrap)
  high: number;
}

/**
 * Perplexity of model A ÷ model B on the same windows, with a block-bootstrap interval: the
 * paired per-token differences are cut into blocks of `block` tokens (neighbouring tokens are
 * not independent), blocks are resampled with replacement `resamples` times (seeded, so the
 * report is reproducible), and `level` of the resampled ratios lie inside [low, high]. On a
 * few hundred held-out tokens this interval is several percent wide: a ratio differing from
 * another by less than that is not a measured difference.
 */
export function pairedPerplexityRatio(
  nllA: readonly Float64Array[],
  nllB: readonly Float64Array[],
  options: { block?: number; resamples?: number; level?: number; seed?: number } = {},
): PerplexityRatio {
  const { block = 64, resamples = 2000, level = 0.9, seed = 1 } = options;
  if (nllA.length !== nllB.length)
    throw new RangeError(`pairedPerplexityRatio: ${nllA.length} vs ${nllB.length} windows`);
  const sums: number[] = []; // per block: Σ (a − b)
  const counts: number[] = [];
  for (const [w, a] of nllA.entries()) {
    const b = nllB[w];
    if (a.length !== b.length)
      throw new RangeError(`pairedPerplexityRatio: window ${w} has ${a.length} vs ${b.length} tokens`);
    for (let start = 0; start < a.length; start += block) {
      let sum = 0;
      const end = Math.min(a.length, start + block);
      for (let t = start; t < end; t++) sum += a[t] - b[t];
      sums.push(sum);
      counts.push(end - start);
    }
  }
  const total = (pick: (i: number) => number) => {
    let s = 0;
    let n = 0;
    for (let i = 0; i < sums.length; i++) {
      const j = pick(i);
      s += sums[j];
      n += counts[j];
    }
    return Math.exp(s / n);
  };
  const random = mulberry32(seed);
  const resampled = Array.from({ length: resamples }, () => total(() => Math.floor(random() * sums.length))).sort(
    (x, y) => x - y,
  );
  const at = (q: number) => resampled[Math.min(resamples - 1, Math.max(0, Math.round(q * (resamples - 1))))];
  return { ratio: total((i) => i), low: at((1 - level) / 2), high: at((1 + level) / 2) };
}
