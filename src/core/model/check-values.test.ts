/**
 * checkTensorValues' bit-level f16/bf16 checks against the rule they stand for (|v| ≤
 * WEIGHT_LIMITS.maxMagnitude, finite): every one of the 65 536 bit patterns, aligned and at an
 * odd byte offset, agrees with the value-level rule; the first bad element is named.
 */
import { describe, expect, it } from 'vitest';
import { bf16ToF32, f16ToF32 } from '../quant/float-bits.ts';
import type { RawTensor } from '../tensor.ts';
import { checkTensorValues, WEIGHT_LIMITS } from './check-values.ts';

const good = (v: number) => Math.abs(v) <= WEIGHT_LIMITS.maxMagnitude;

/** One tensor of [1] holding `bits`, at byte offset `offset` of its buffer. */
function single(dtype: 'f16' | 'bf16', bits: number, offset: number): RawTensor {
  const data = new Uint8Array(offset + 2).subarray(offset);
  data[0] = bits & 0xff;
  data[1] = bits >> 8;
  return { name: 't', dtype, shape: [1], data };
}

describe('checkTensorValues on f16 and bf16 bits', () => {
  for (const [dtype, toF32] of [
    ['f16', f16ToF32],
    ['bf16', bf16ToF32],
  ] as const)
    it(`${dtype}: every bit pattern passes exactly when its value is finite and within the limit (aligned and not)`, () => {
      for (const offset of [0, 1])
        for (let bits = 0; bits < 65536; bits++) {
          const passes = (() => {
            try {
              checkTensorValues(single(dtype, bits, offset), 'test');
              return true;
            } catch {
              return false;
            }
          })();
          if (passes !== good(toF32(bits))) throw new Error(`${dtype} bits 0x${bits.toString(16)} offset ${offset}`);
        }
    });

  it('names the first bad element and its value', () => {
    const data = new Uint8Array(8);
    data.set([0x7f, 0x47], 2); // element 1: bf16 65 280, within the limit
    data.set([0x80, 0xc7], 4); // element 2: -65 536
    data.set([0x80, 0x7f], 6); // element 3: +Inf
    expect(() => checkTensorValues({ name: 'w', dtype: 'bf16', shape: [4], data }, 'model: x')).toThrow(
      "model: x: tensor 'w' holds -65536 (beyond ±65504, WEIGHT_LIMITS.maxMagnitude) at element 2; the file is corrupt",
    );
    data.set([0x00, 0x7c], 0); // f16 +Inf at element 0
    expect(() => checkTensorValues({ name: 'w', dtype: 'f16', shape: [4], data }, 'model: x')).toThrow(
      /holds Infinity at element 0/,
    );
  });
});
