import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../model/random.ts';
import { pairedPerplexityRatio } from './evaluate.ts';

/** Windows of per-token losses: b is a base loss, a = b + shift + noise (both seeded). */
function pairedWindows(windows: number, tokens: number, shift: number, noise: number, seed: number) {
  const random = mulberry32(seed);
  const a: Float64Array[] = [];
  const b: Float64Array[] = [];
  for (let w = 0; w < windows; w++) {
    const base = Float64Array.from({ length: tokens }, () => 1 + 4 * random());
    b.push(base);
    a.push(base.map((v) => v + shift + noise * (random() - 0.5) * 2));
  }
  return { a, b };
}

describe('pairedPerplexityRatio', () => {
  it('is exactly 1 with a zero-width interval for identical losses', () => {
    const { b } = pairedWindows(3, 100, 0, 0, 1);
    expect(pairedPerplexityRatio(b, b)).toEqual({ ratio: 1, low: 1, high: 1 });
  });

  it('is exp(shift) for a constant per-token difference, whatever the resampling', () => {
    const { a, b } = pairedWindows(4, 90, 0.1, 0, 2);
    const r = pairedPerplexityRatio(a, b);
    expect(r.ratio).toBeCloseTo(Math.exp(0.1), 12);
    expect(r.low).toBeCloseTo(Math.exp(0.1), 12);
    expect(r.high).toBeCloseTo(Math.exp(0.1), 12);
  });

  it('brackets the ratio, and narrows as the tokens grow (≈ 1/√n)', () => {
    const small = pairedWindows(2, 256, 0.1, 1, 3);
    const large = pairedWindows(32, 256, 0.1, 1, 4);
    const rs = pairedPerplexityRatio(small.a, small.b);
    const rl = pairedPerplexityRatio(large.a, large.b);
    for (const r of [rs, rl]) {
      expect(r.low).toBeLessThan(r.ratio);
      expect(r.high).toBeGreaterThan(r.ratio);
    }
    expect(Math.abs(Math.log(rl.ratio) - 0.1)).toBeLessThan(0.02); // 8,192 tokens of noise ±1
    const width = (r: { low: number; high: number }) => Math.log(r.high) - Math.log(r.low);
    expect(width(rl) / width(rs)).toBeGreaterThan(0.15); // √(1/16) = 0.25
    expect(width(rl) / width(rs)).toBeLessThan(0.4);
    expect(pairedPerplexityRatio(small.a, small.b)).toEqual(rs); // seeded: the same interval each run
  });

  it('refuses windows that do not pair up', () => {
    const { a, b } = pairedWindows(2, 10, 0, 0, 5);
    expect(() => pairedPerplexityRatio(a, b.slice(1))).toThrow(/2 vs 1 windows/);
    expect(() => pairedPerplexityRatio(a, [b[0], b[1].subarray(1)])).toThrow(/window 1 has 10 vs 9 tokens/);
  });
});
