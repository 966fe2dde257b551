import { describe, expect, it } from 'vitest';
import { randomModelWeights, tinyMoeSpec } from '../src/core/model/random.ts';
import { evaluate, windows } from './merge-report-eval.ts';

describe('evaluate (merge-report and dynamic-routing-report scoring)', () => {
  const spec = tinyMoeSpec({ moe: { experts: 4, expertsPerToken: 2, normTopK: true, expertIntermediate: 16 } });
  const weights = randomModelWeights(spec, 7);
  const chunks = windows(
    Array.from({ length: 20 }, (_, i) => (i * 7 + 3) % spec.vocab),
    8,
  );

  it('reports the mean experts per token the routing asked for, and the NLL behind the perplexity', async () => {
    const fixed = await evaluate(weights, chunks, { expertsPerToken: 3 });
    expect(fixed.meanExpertsPerToken).toBe(3);
    expect(fixed.tokens).toBe(chunks.reduce((n, c) => n + c.length - 1, 0));
    expect(fixed.perplexity).toBeCloseTo(Math.exp(fixed.nll / fixed.tokens), 10);
    expect((await evaluate(weights, chunks)).meanExpertsPerToken).toBe(2); // the model's own k
  });

  it('under top-p the mean lies between minExperts and maxExperts, and grows with p', async () => {
    const low = await evaluate(weights, chunks, { expertsTopP: { p: 0.3, maxExperts: 3 } });
    const high = await evaluate(weights, chunks, { expertsTopP: { p: 0.95, maxExperts: 3 } });
    for (const r of [low, high]) {
      expect(r.meanExpertsPerToken).toBeGreaterThanOrEqual(1);
      expect(r.meanExpertsPerToken).toBeLessThanOrEqual(3);
    }
    expect(high.meanExpertsPerToken!).toBeGreaterThan(low.meanExpertsPerToken!);
  });
});
