/**
 * Token sampling, in the order HF transformers and llama.cpp apply it:
 *
 *   1. repetition penalty — every token id already in the context: a positive logit is
 *      divided by the penalty, a negative one multiplied (CTRL / HF / llama.cpp rule)
 *   2. temperature 0     — greedy: argmax, ties to the lower id (no randomness)
 *   3. temperature T     — logits / T, softmax
 *   4. top-k             — keep the k most probable (ties to the lower id)
 *   5. top-p             — keep the smallest most-probable prefix whose mass reaches p
 *                          (always at least one token)
 *   6. draw              — one uniform from the sampler's own seeded PRNG (mulberry32),
 *                          walked along the kept tokens' renormalized probabilities: most
 *                          probable first after top-k/top-p, else in id order (no sort)
 *
 * The same seed gives the same draws on every run and machine. Without a seed the stream
 * is seeded from Math.random().
 */
import { ConfigError } from '../errors.ts';
import type { SamplerOptions } from './types.ts';
import { mulberry32 } from '../model/random.ts';
import { argmax } from './cpu/ops.ts';

export type Sampler = (logits: Float32Array, context: number[]) => number;

function checkOptions(o: SamplerOptions): void {
  if (o.temperature !== undefined && !(o.temperature >= 0 && Number.isFinite(o.temperature))) {
    throw new ConfigError(`sampler: temperature ${o.temperature} must be a finite number ≥ 0`);
  }
  if (o.topK !== undefined && !(Number.isInteger(o.topK) && o.topK >= 1)) {
    throw new ConfigError(`sampler: topK ${o.topK} must be an integer ≥ 1`);
  }
  if (o.topP !== undefined && !(o.topP > 0 && o.topP <= 1)) {
    throw new ConfigError(`sampler: topP ${o.topP} must be in (0, 1]`);
  }
  if (o.repetitionPenalty !== undefined && !(o.repetitionPenalty > 0 && Number.isFinite(o.repetitionPenalty))) {
    throw new ConfigError(`sampler: repetitionPenalty ${o.repetitionPenalty} must be a finite number > 0`);
  }
}

/** Step 1. Returns a penalized copy of logits // [vocab] (the input itself when penalty is 1; never mutated). */
export function applyRepetitionPenalty(
  logits: Float32Array,
  context: readonly number[],
  penalty: number,
): Float32Array {
  if (penalty === 1) return logits;
  const out = logits.slice();
  for (const id of new Set(context)) {
    if (id < 0 || id >= out.length) continue;
    out[id] = out[id] > 0 ? out[id] / penalty : out[id] * penalty;
  }
  return out;
}

/** Above this k, top-k selection sorts the whole vocabulary instead of inserting. */
const INSERTION_TOP_K_LIMIT = 64;

/** Most probable first, ties to the lower id: THE candidate order of steps 4–5. */
function byWeightThenId(weights: Float64Array): (a: number, b: number) => number {
  return (a, b) => weights[b] - weights[a] || a - b;
}

/** Ids of the k largest weights in candidate order, by insertion into a short sorted list. */
function topKIds(weights: Float64Array, k: number): number[] {
  if (k > INSERTION_TOP_K_LIMIT) {
    return Array.from(weights.keys()).sort(byWeightThenId(weights)).slice(0, k);
  }
  const best: number[] = [];
  for (let id = 0; id < weights.length; id++) {
    if (best.length === k && !(weights[id] > weights[best[k - 1]])) continue; // ties keep the lower id
    if (best.length < k) best.push(id);
    let at = best.length - 1;
    while (at > 0 && weights[best[at - 1]] < weights[id]) {
      best[at] = best[at - 1];
      at--;
    }
    best[at] = id;
  }
  return best;
}

/**
 * Ids that can be in the top-p nucleus, in candidate order. A token with probability
 * below (1 − p) / (vocab − 1) never is (llama2.c's cut: all such tokens together hold
 * less than 1 − p), so only the rest are sorted.
 */
function nucleusCandidates(weights: Float64Array, total: number, topP: number): number[] {
  const cutoff = weights.length > 1 ? ((1 - topP) / (weights.length - 1)) * total : 0;
  const ids: number[] = [];
  for (let id = 0; id < weights.length; id++) if (weights[id] >= cutoff) ids.push(id);
  return ids.sort(byWeightThenId(weights));
}

/**
 * Steps 3–5: the candidate ids and their renormalized probabilities. With top-k or
 * top-p the ids are most probable first (ties to the lower id); with neither, all ids in
 * id order (llama2.c's `sample`), so no sort is paid. logits // [vocab]
 */
export function candidateDistribution(
  logits: Float32Array,
  temperature: number,
  topK?: number,
  topP?: number,
): { ids: number[]; probs: number[] } {
  const vocab = logits.length;
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) if (logits[i] > max) max = logits[i];
  const weights = new Float64Array(vocab); // unnormalized exp((logit − max) / T)
  let total = 0;
  for (let i = 0; i < vocab; i++) {
    weights[i] = Math.exp((logits[i] - max) / temperature);
    total += weights[i];
  }
  const nucleus = topP !== undefined && topP < 1;
  let ids: number[];
  if (topK !== undefined) ids = topKIds(weights, Math.min(topK, vocab));
  else if (nucleus) ids = nucleusCandidates(weights, total, topP);
  else ids = Array.from(weights.keys());
  if (nucleus) {
    const keptMass = topK !== undefined ? ids.reduce((a, id) => a + weights[id], 0) : total;
    let cumulative = 0;
    let keep = 0;
    while (keep < ids.length) {
      cumulative += weights[ids[keep]] / keptMass;
      keep++;
      if (cumulative >= topP) break;
    }
    ids = ids.slice(0, keep);
  }
  const mass = ids.reduce((a, id) => a + weights[id], 0);
  return { ids, probs: ids.map((id) => weights[id] / mass) };
}

/** Step 6 without truncation: walk every id in id order, no candidate lists built. logits // [vocab] */
function drawFromAll(logits: Float32Array, temperature: number, draw: number): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let total = 0;
  for (let i = 0; i < logits.length; i++) total += Math.exp((logits[i] - max) / temperature);
  const threshold = draw * total;
  let cumulative = 0;
  for (let i = 0; i < logits.length; i++) {
    cumulative += Math.exp((logits[i] - max) / temperature);
    if (threshold < cumulative) return i;
  }
  return logits.length - 1; // rounding: the draw fell past the last cumulative sum
}

/** A sampler with its own PRNG stream; call it once per generated token. */
export function createSampler(options: SamplerOptions = {}): Sampler {
  checkOptions(options);
  const temperature = options.temperature ?? 1;
  const penalty = options.repetitionPenalty ?? 1;
  const uniform = mulberry32(options.seed ?? Math.floor(Math.random() * 2 ** 32));
  return (logits, context) => {
    const penalized = applyRepetitionPenalty(logits, context, penalty);
    if (temperature === 0) return argmax(penalized);
    if (options.topK === undefined && (options.topP === undefined || options.topP >= 1)) {
      return drawFromAll(penalized, temperature, uniform());
    }
    const { ids, probs } = candidateDistribution(penalized, temperature, options.topK, options.topP);
    const draw = uniform();
    let cumulative = 0;
    for (let i = 0; i < ids.length; i++) {
      cumulative += probs[i];
      if (draw < cumulative) return ids[i];
    }
    return ids[ids.length - 1]; // rounding: the draw fell past the last cumulative sum
  };
}
