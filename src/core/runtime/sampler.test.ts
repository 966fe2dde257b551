import { describe, expect, it } from 'vitest';
import { applyRepetitionPenalty, candidateDistribution, createSampler } from './sampler.ts';
import { seededNormal } from '../model/random.ts';

/** Frequencies of 4000 seeded draws are within 3 standard errors (≤ 0.024) of the target. */
const FREQUENCY_TOLERANCE = 0.03;
const DRAWS = 4000;

function frequencies(sample: () => number, vocab: number): number[] {
  const counts = new Array<number>(vocab).fill(0);
  for (let i = 0; i < DRAWS; i++) counts[sample()]++;
  return counts.map((c) => c / DRAWS);
}

const logProbs = Float32Array.from([0.5, 0.3, 0.15, 0.05].map(Math.log));

describe('sampler', () => {
  it('temperature 0 is greedy: argmax, ties to the lower id', () => {
    const greedy = createSampler({ temperature: 0 });
    expect(greedy(Float32Array.from([0, 3, 1, 3]), [])).toBe(1);
  });

  it('the same seed gives the same draws; another seed others', () => {
    const logits = seededNormal(1, 'l', 50, 1);
    const draw = (seed: number) => {
      const s = createSampler({ seed });
      return Array.from({ length: 30 }, () => s(logits, []));
    };
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
  });

  it('temperature 1 samples the softmax; temperature 2 samples ∝ p^(1/2)', () => {
    const t1 = frequencies(() => createSamplerOnce(1)(logProbs, []), 4);
    [0.5, 0.3, 0.15, 0.05].forEach((p, i) => expect(Math.abs(t1[i] - p)).toBeLessThan(FREQUENCY_TOLERANCE));
    const sampler = createSampler({ temperature: 2, seed: 3 });
    const t2 = frequencies(() => sampler(logProbs, []), 4);
    const sqrt = [0.5, 0.3, 0.15, 0.05].map(Math.sqrt);
    const z = sqrt.reduce((a, b) => a + b, 0);
    sqrt.forEach((p, i) => expect(Math.abs(t2[i] - p / z)).toBeLessThan(FREQUENCY_TOLERANCE));
  });

  it('top-k never picks outside the k most likely, and picks each of them', () => {
    const logits = seededNormal(2, 'logits', 50, 1);
    const top5 = Array.from(logits.keys())
      .sort((a, b) => logits[b] - logits[a])
      .slice(0, 5);
    const sampler = createSampler({ temperature: 1.5, topK: 5, seed: 11 });
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) seen.add(sampler(logits, []));
    expect([...seen].sort()).toEqual([...top5].sort());
  });

  it('top-p keeps the smallest prefix reaching p, renormalized (0.5+0.3 ≥ 0.8 → 5/8, 3/8)', () => {
    const sampler = createSampler({ temperature: 1, topP: 0.8, seed: 5 });
    const f = frequencies(() => sampler(logProbs, []), 4);
    expect(f[2] + f[3]).toBe(0);
    expect(Math.abs(f[0] - 0.625)).toBeLessThan(FREQUENCY_TOLERANCE);
    const d = candidateDistribution(logProbs, 1, undefined, 0.81);
    expect(d.ids).toEqual([0, 1, 2]);
    d.probs.forEach((p, i) => expect(p).toBeCloseTo([0.5, 0.3, 0.15][i] / 0.95, 6));
    expect(candidateDistribution(logProbs, 1, undefined, 0.01).ids).toEqual([0]);
  });

  it('fast top-k / top-p selection equals a brute-force sort of the whole vocabulary (with ties)', () => {
    /** Brute force: sort every id by probability (ties to the lower id), cut, renormalize. */
    const brute = (logits: Float32Array, t: number, k?: number, p?: number) => {
      const w = Array.from(logits, (l) => Math.exp(l / t));
      let ids = w.map((_, i) => i).sort((a, b) => w[b] - w[a] || a - b);
      if (k !== undefined) ids = ids.slice(0, k);
      if (p !== undefined) {
        const mass = ids.reduce((a, i) => a + w[i], 0);
        let c = 0,
          keep = 0;
        while (keep < ids.length) {
          c += w[ids[keep]] / mass;
          keep++;
          if (c >= p) break;
        }
        ids = ids.slice(0, keep);
      }
      return ids;
    };
    for (let trial = 0; trial < 20; trial++) {
      // rounded logits give many exact ties
      const logits = seededNormal(trial, 'ties', 300, 2).map((x) => Math.round(x * 4) / 4);
      for (const [k, p] of [
        [5, undefined],
        [100, undefined],
        [undefined, 0.5],
        [undefined, 0.95],
        [40, 0.9],
        [1, undefined],
      ] as const) {
        expect(candidateDistribution(logits, 0.8, k, p).ids, `trial ${trial} k ${k} p ${p}`).toEqual(
          brute(logits, 0.8, k, p),
        );
      }
    }
  });

  it('without top-k/top-p every id is a candidate, in id order', () => {
    const d = candidateDistribution(logProbs, 1);
    expect(d.ids).toEqual([0, 1, 2, 3]);
    d.probs.forEach((p, i) => expect(p).toBeCloseTo([0.5, 0.3, 0.15, 0.05][i], 6));
  });

  it('repetition penalty divides positive and multiplies negative logits of seen tokens', () => {
    const logits = Float32Array.from([2, 1.5, -1, 0.5]);
    expect(Array.from(applyRepetitionPenalty(logits, [0, 2, 2], 2))).toEqual([1, 1.5, -2, 0.5]);
    expect(createSampler({ temperature: 0, repetitionPenalty: 2 })(logits, [0])).toBe(1);
    expect(createSampler({ temperature: 0 })(logits, [0])).toBe(0);
  });

  it('rejects invalid options with ConfigError naming the option', () => {
    expect(() => createSampler({ temperature: -1 })).toThrow(/temperature -1/);
    expect(() => createSampler({ topK: 0 })).toThrow(/topK 0/);
    expect(() => createSampler({ topP: 1.5 })).toThrow(/topP 1.5/);
    expect(() => createSampler({ repetitionPenalty: 0 })).toThrow(/repetitionPenalty 0/);
  });
});

let onceSeed = 100;
/** A fresh seeded sampler per draw (exercises seeding itself, not only one stream). */
function createSamplerOnce(temperature: number) {
  return createSampler({ temperature, seed: onceSeed++ });
}
