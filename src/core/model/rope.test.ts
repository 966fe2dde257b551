import { describe, expect, it } from 'vitest';
import { ropeInverseFrequency } from './rope.ts';
import type { Llama3RopeScaling } from './spec.ts';

/** Llama 3.1 8B's config.json rope_scaling, with its rope_theta and head_dim. */
const LLAMA31: Llama3RopeScaling = {
  type: 'llama3',
  factor: 8,
  lowFreqFactor: 1,
  highFreqFactor: 4,
  originalContext: 8192,
};
const THETA = 500_000;
const HEAD_DIM = 128;

/**
 * convert_hf_to_gguf.py's rope_factors for rope_type llama3 (LlamaModel.generate_extra_tensors),
 * transcribed line by line: the divisor llama.cpp applies to each pair's frequency.
 */
function converterRopeFactors(theta: number, dim: number, s: Llama3RopeScaling): number[] {
  const lowFreqWavelen = s.originalContext / s.lowFreqFactor;
  const highFreqWavelen = s.originalContext / s.highFreqFactor;
  const factors: number[] = [];
  for (let i = 0; i < dim; i += 2) {
    const freq = 1 / theta ** (i / dim);
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < highFreqWavelen) factors.push(1);
    else if (wavelen > lowFreqWavelen) factors.push(s.factor);
    else {
      const smooth = (s.originalContext / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      factors.push(1 / ((1 - smooth) / s.factor + smooth));
    }
  }
  return factors;
}

describe('ropeInverseFrequency', () => {
  it('is theta^(−2j/d) without scaling', () => {
    for (const j of [0, 1, 17, 63])
      expect(ropeInverseFrequency(j, HEAD_DIM, THETA)).toBe(1 / THETA ** ((2 * j) / HEAD_DIM));
  });

  it("matches llama.cpp's converter factors for Llama 3.1 (high pairs kept, low pairs ÷8, a blend between)", () => {
    const factors = converterRopeFactors(THETA, HEAD_DIM, LLAMA31);
    const ours = Array.from({ length: HEAD_DIM / 2 }, (_, j) => {
      const plain = ropeInverseFrequency(j, HEAD_DIM, THETA);
      return plain / ropeInverseFrequency(j, HEAD_DIM, THETA, LLAMA31);
    });
    for (let j = 0; j < factors.length; j++) expect(ours[j]).toBeCloseTo(factors[j]!, 12);
    expect(factors.filter((f) => f === 1).length).toBeGreaterThan(10);
    expect(factors.filter((f) => f === 8).length).toBeGreaterThan(10);
    expect(factors.some((f) => f > 1 && f < 8)).toBe(true);
  });

  it('reads per-pair divisors as a GGUF stores them', () => {
    const factors = converterRopeFactors(THETA, HEAD_DIM, LLAMA31);
    for (const j of [0, 20, 40, 63])
      expect(ropeInverseFrequency(j, HEAD_DIM, THETA, { type: 'factors', factors })).toBeCloseTo(
        ropeInverseFrequency(j, HEAD_DIM, THETA, LLAMA31),
        15,
      );
  });
});
