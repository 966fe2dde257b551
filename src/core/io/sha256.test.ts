import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Sha256, sha256Hex } from './sha256.ts';

/** A seeded xorshift so every run hashes fresh-but-reproducible bytes. */
function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

describe('sha256', () => {
  it('matches the FIPS 180-4 known answer for "abc"', () => {
    expect(sha256Hex(new TextEncoder().encode('abc'))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  it.each([0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 70_001])(
    'matches node:crypto on %i random bytes fed in uneven pieces',
    (n) => {
      const bytes = randomBytes(n, n * 7 + 3);
      const hasher = new Sha256();
      for (let at = 0, step = 1; at < n; at += step, step = ((step * 3) % 97) + 1)
        hasher.update(bytes.subarray(at, Math.min(n, at + step)));
      expect(hasher.hex()).toBe(createHash('sha256').update(bytes).digest('hex'));
    },
  );
});
