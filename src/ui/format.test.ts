import { describe, expect, it } from 'vitest';
import { formatParams, plural } from './format.ts';

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
