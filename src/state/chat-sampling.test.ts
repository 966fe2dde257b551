import { describe, expect, it } from 'vitest';
import { samplingCheck } from './chat.ts';

describe('samplingCheck', () => {
  it.each([
    ['temperature', '0', 0],
    ['temperature', '1.3', 1.3],
    ['topK', '1', 1],
    ['topP', '1', 1],
    ['topP', '0.05', 0.05],
    ['maxTokens', '1024', 1024],
  ] as const)('accepts %s %s', (key, text, value) => {
    expect(samplingCheck(key, text)).toEqual({ ok: true, value });
  });
  it.each([
    ['rejects a negative temperature', 'temperature', '-5', 'Temperature -5 is not a number from 0 to 2.'],
    ['rejects an empty top-p (it never becomes 0)', 'topP', '', 'Top-p is empty: enter a number above 0, at most 1.'],
    ['rejects top-p 0, which the sampler refuses', 'topP', '0', 'Top-p 0 is not a number above 0, at most 1.'],
    ['rejects top-k 0, which the sampler refuses', 'topK', '0', 'Top-k 0 is not a whole number from 1 to 1000.'],
    ['rejects a fractional top-k', 'topK', '2.5', 'Top-k 2.5 is not a whole number from 1 to 1000.'],
    ['rejects max tokens past the cap', 'maxTokens', '5000', 'Max tokens 5000 is not a whole number from 1 to 1024.'],
    [
      'rejects text that is no number',
      'repetitionPenalty',
      'abc',
      'Repetition penalty abc is not a number from 1 to 2.',
    ],
  ] as const)('%s', (_, key, text, message) => {
    expect(samplingCheck(key, text)).toEqual({ ok: false, message });
  });
});
