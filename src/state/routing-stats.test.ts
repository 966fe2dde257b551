import { describe, expect, it } from 'vitest';
import type { LayerRouting, TokenRouting } from '../core/runtime/types.ts';
import {
  coActivation,
  compareTraces,
  domainShares,
  expertLoad,
  majorityTop1,
  routerEntropy,
  routingTraceCsv,
  stickiness,
} from './routing-stats.ts';

/** A hand-built routing record: ids with weights, probs spread as given. */
function layer(ids: number[], weights: number[], probs: number[]): LayerRouting {
  return { expertIds: ids, expertWeights: weights, moeProbs: probs };
}

/** Seeded random traces: each token routes top-2 out of E by a random softmax. */
function randomTrace(n: number, experts: number, layers: number, seed: number): TokenRouting[] {
  let x = seed;
  const rand = () => {
    x = (x * 1664525 + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
  return Array.from({ length: n }, () => ({
    layers: Array.from({ length: layers }, () => {
      const logits = Array.from({ length: experts }, () => rand() * 4);
      const z = logits.reduce((s, v) => s + Math.exp(v), 0);
      const probs = logits.map((v) => Math.exp(v) / z);
      const order = probs.map((p, i) => [p, i] as const).sort((a, b) => b[0] - a[0]);
      const ids = order.slice(0, 2).map(([, i]) => i);
      const w = order.slice(0, 2).map(([p]) => p);
      const sum = w[0] + w[1];
      return layer(
        ids,
        w.map((v) => v / sum),
        probs,
      );
    }),
  }));
}

describe('routing statistics', () => {
  const trace: TokenRouting[] = [
    { layers: [layer([0, 1], [0.75, 0.25], [0.6, 0.2, 0.1, 0.1])] },
    { layers: [layer([0, 2], [0.5, 0.5], [0.25, 0.25, 0.25, 0.25])] },
    { layers: [layer([3, 1], [0.9, 0.1], [0.05, 0.05, 0.0, 0.9])] },
  ];

  it('expert load counts top-k slots', () => {
    expect(expertLoad(trace, 0, 4)).toEqual([2 / 6, 2 / 6, 1 / 6, 1 / 6]);
  });

  it('entropy is 2 bits for a uniform 4-way softmax and lower when peaked', () => {
    expect(routerEntropy([trace[1]], 0)).toBeCloseTo(2, 12);
    expect(routerEntropy([trace[2]], 0)).toBeLessThan(1);
  });

  it('stickiness counts repeated first choices and overlapping sets between neighbours', () => {
    expect(stickiness(trace, 0)).toEqual({ top1: 0.5, anyOverlap: 0.5, pairs: 2 });
  });

  it('co-activation is symmetric with selection counts on the diagonal', () => {
    const m = coActivation(trace, 0, 4);
    expect(m[0][1]).toBe(1);
    expect(m[1][0]).toBe(1);
    expect(m[0][0]).toBe(2);
    expect(m[3][1]).toBe(1);
  });

  it('on random routing: loads sum to 1, entropy within [0, log2 E], stickiness near chance', () => {
    const experts = 4 + Math.floor(Math.random() * 4);
    const t = randomTrace(4000, experts, 3, (Math.random() * 2 ** 31) | 0);
    for (let l = 0; l < 3; l++) {
      expect(expertLoad(t, l, experts).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10);
      const h = routerEntropy(t, l);
      expect(h).toBeGreaterThan(0);
      expect(h).toBeLessThanOrEqual(Math.log2(experts) + 1e-9);
      const s = stickiness(t, l);
      expect(Math.abs(s.top1 - 1 / experts)).toBeLessThan(0.05);
      const m = coActivation(t, l, experts);
      for (let a = 0; a < experts; a++) for (let b = 0; b < experts; b++) expect(m[a][b]).toBe(m[b][a]);
    }
  });

  it('CSV quotes pieces and lists every chosen expert', () => {
    const csv = routingTraceCsv(['a', 'say "hi"', ','], trace);
    expect(csv.split('\n')[0]).toBe('token,piece,layer,rank,expert,weight,donor');
    expect(csv).toContain('1,"say ""hi""",0,1,2,0.5,""');
    expect(csv.trim().split('\n')).toHaveLength(7);
  });

  it('CSV names each expert by its donor when the names are known', () => {
    const csv = routingTraceCsv(['a', 'b', 'c'], trace, ['zoo/stories', 'zoo/code', 'zoo/math']);
    expect(csv).toContain('1,"b",0,1,2,0.5,"zoo/math"');
  });

  it('CSV defuses pieces a spreadsheet would run as formulas (=, +, -, @, tab)', () => {
    const pieces = ['=HYPERLINK("http://x","y")', '+1', '-2', '@SUM(A1)', '\t=1', 'a=b'];
    const csv = routingTraceCsv(
      pieces,
      pieces.map(() => trace[0]),
    );
    const cells = csv
      .trim()
      .split('\n')
      .slice(1)
      .filter((_, i) => i % 2 === 0)
      .map((r) => r.split(',0,')[0].slice(r.indexOf(',') + 1));
    expect(cells).toEqual([`"'=HYPERLINK(""http://x"",""y"")"`, `"'+1"`, `"'-2"`, `"'@SUM(A1)"`, `"'\t=1"`, '"a=b"']);
  });
});

describe('compareTraces (A/B)', () => {
  it('a trace against itself agrees everywhere with no load difference; disjoint experts differ fully', () => {
    const a = randomTrace(40, 4, 3, 11);
    const self = compareTraces(a, a, 3, 4);
    expect(self.top1Agreement).toEqual([1, 1, 1]);
    expect(self.loadDifference).toEqual([0, 0, 0]);
    const onlyLow = [{ layers: [layer([0, 1], [0.6, 0.4], [0.6, 0.4, 0, 0])] }];
    const onlyHigh = [{ layers: [layer([2, 3], [0.6, 0.4], [0, 0, 0.6, 0.4])] }];
    const disjoint = compareTraces(onlyLow, onlyHigh, 1, 4);
    expect(disjoint.top1Agreement).toEqual([0]);
    expect(disjoint.loadDifference[0]).toBeCloseTo(1, 12);
  });

  it('independent random traces agree near chance; texts of different length get loads only', () => {
    const c = compareTraces(randomTrace(2000, 4, 2, 1), randomTrace(2000, 4, 2, 2), 2, 4);
    for (const agreement of c.top1Agreement!) expect(agreement).toBeGreaterThan(0.15); // chance 0.25
    for (const agreement of c.top1Agreement!) expect(agreement).toBeLessThan(0.35);
    for (const d of c.loadDifference) expect(d).toBeLessThan(0.1);
    expect(compareTraces(randomTrace(5, 4, 2, 1), randomTrace(6, 4, 2, 2), 2, 4).top1Agreement).toBeUndefined();
  });
});

describe('majorityTop1 (Chat colouring and the agreement strip)', () => {
  const at = (...ids: number[]): TokenRouting => ({ layers: ids.map((e) => layer([e, 9], [0.6, 0.4], [])) });
  it('picks the first choice most layers share, with its share of the layers', () => {
    expect(majorityTop1(at(2, 1, 2, 2))).toEqual({ expert: 2, share: 0.75 });
    expect(majorityTop1(at(3, 3, 3))).toEqual({ expert: 3, share: 1 });
  });
  it('breaks a tie towards the lower expert id; a dense token has none', () => {
    expect(majorityTop1(at(3, 1, 1, 3))).toEqual({ expert: 1, share: 0.5 });
    expect(majorityTop1({ layers: [] })).toEqual({ expert: -1, share: 0 });
    expect(majorityTop1(undefined)).toEqual({ expert: -1, share: 0 });
  });
});

describe('domainShares', () => {
  it('counts own-expert top-1 per layer and where the rest went, per label', () => {
    const token = (...firsts: number[]): TokenRouting => ({
      layers: firsts.map((e) => layer([e, (e + 1) % 3], [0.7, 0.3], [0.1, 0.1, 0.8])),
    });
    // expert 0's texts: layer 0 picks 0, 0, 2, 0; layer 1 picks 0, 1, 1, 1 (two texts)
    const shares = domainShares(
      [
        { expert: 2, trace: [token(2, 2)] },
        { expert: 0, trace: [token(0, 0), token(0, 1)] },
        { expert: 0, trace: [token(2, 1), token(0, 1)] },
      ],
      2,
      3,
    );
    expect(shares.map((s) => s.expert)).toEqual([0, 2]);
    expect(shares[0]).toEqual({
      expert: 0,
      tokens: 4,
      ownShare: [0.75, 0.25],
      ownShareMean: 0.5,
      top1: [4 / 8, 3 / 8, 1 / 8],
    });
    expect(shares[1]).toMatchObject({ expert: 2, tokens: 1, ownShare: [1, 1], ownShareMean: 1, top1: [0, 0, 1] });
  });

  it('agrees with a direct count on random traces, and rows of top-1 sum to 1', () => {
    const traces = [0, 1, 2, 3].map((e) => ({ expert: e % 4, trace: randomTrace(50 + e, 4, 3, 7 + e) }));
    for (const s of domainShares(traces, 3, 4)) {
      const trace = traces.find((t) => t.expert === s.expert)!.trace;
      for (let l = 0; l < 3; l++)
        expect(s.ownShare[l]).toBeCloseTo(
          trace.filter((t) => t.layers[l]!.expertIds[0] === s.expert).length / trace.length,
          12,
        );
      expect(s.top1.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      expect(s.top1[s.expert]).toBeCloseTo(s.ownShareMean, 12);
    }
  });

  it('a dense trace (no routing) has no shares', () => {
    expect(domainShares([{ expert: 1, trace: [{ layers: [] }] }], 2, 2)).toEqual([
      { expert: 1, tokens: 1, ownShare: [0, 0], ownShareMean: 0, top1: [0, 0] },
    ]);
  });
});
