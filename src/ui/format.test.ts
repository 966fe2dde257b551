import { describe, expect, it } from 'vitest';
import { describeRouting, formatParams, parseLayerList, plural } from './format.ts';

describe('Library display helpers', () => {
  it('plural says "1 model" and "3 models", "0 files"', () => {
    expect([plural(1, 'model'), plural(3, 'model'), plural(0, 'file')]).toEqual(['1 model', '3 models', '0 files']);
  });

  it('formatParams reads as people say parameter counts', () => {
    expect([999, 3_400, 260_000, 3_412_000, 46_700_000_000].map(formatParams)).toEqual([
      '999',
      '3.4K',
      '260K',
      '3.4M',
      '46.7B',
    ]);
  });
});

describe('describeRouting', () => {
  it('names dynamic routing with its bounds and layers beside the other interventions', () => {
    expect(describeRouting({ expertsTopP: { p: 0.8 } })).toBe('experts top-p 0.8');
    expect(
      describeRouting({ expertsTopP: { p: 0.9, minExperts: 2, maxExperts: 3, layers: [1] }, ban: { experts: [0] } }),
    ).toBe('experts top-p 0.9 (min 2, max 3, at layers 1) · ban 0');
    expect(describeRouting({ expertsPerToken: 2 })).toBe('top-2 experts');
  });
});

describe('parseLayerList', () => {
  it('empty is every layer; numbers are sorted and deduplicated', () => {
    expect(parseLayerList(' ', 4)).toEqual({ ok: true });
    expect(parseLayerList('3, 1 1', 4)).toEqual({ ok: true, layers: [1, 3] });
  });
  it('refuses a layer the model does not have, or a non-number, naming it', () => {
    expect(parseLayerList('1, 4', 4)).toEqual({
      ok: false,
      message: "'4' is not a layer of this model (0 to 3); nothing changed",
    });
    expect(parseLayerList('-1', 4)).toMatchObject({ ok: false, message: expect.stringMatching(/^'-1'/) });
    expect(parseLayerList('1.5', 4)).toMatchObject({ ok: false });
  });
});
