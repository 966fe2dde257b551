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
 *                          walked along the kept tokens' renormalized probabilities
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

/** Step 1. Returns a penalized copy of logits // [vocab]. */
export function applyRepetitionPenalty(logits: Float32Array, context: readonly number[], penalty: number): Float32Array {
  const out = logits.slice();
  if (penalty === 1) return out;
  for (const id of new Set(context)) {
    if (id < 0 || id >= out.length) continue;
    out[id] = out[id] > 0 ? out[id] / penalty : out[id] * penalty;
  }
  return out;
}

/**
 * Steps 3–5: the candidate ids (most probable first) and their renormalized
 * probabilities. logits // [vocab]
 */
export function candidateDistribution(
  logits: Float32Array, temperature: number, topK?: number, topP?: number,
): { ids: number[]; probs: number[] } {
  const vocab = logits.length;
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) if (logits[i] > max) max = logits[i];
  const weights = new Float64Array(vocab); // unnormalized exp((logit − max) / T)
  let total = 0;
  for (let i = 0; i < vocab; i++) { weights[i] = Math.exp((logits[i] - max) / temperature); total += weights[i]; }
  let ids = Array.from({ length: vocab }, (_, i) => i).sort((a, b) => (weights[b] - weights[a]) || (a - b));
  if (topK !== undefined) ids = ids.slice(0, Math.min(topK, vocab));
  let probs = ids.map((id) => weights[id] / total);
  if (topP !== undefined && topP < 1) {
    const keptMass = probs.reduce((a, b) => a + b, 0);
    let cumulative = 0;
    let keep = 0;
    while (keep < probs.length) {
      cumulative += probs[keep] / keptMass;
      keep++;
      if (cumulative >= topP) break;
    }
    ids = ids.slice(0, keep);
    probs = probs.slice(0, keep);
  }
  const mass = probs.reduce((a, b) => a + b, 0);
  return { ids, probs: probs.map((p) => p / mass) };
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
