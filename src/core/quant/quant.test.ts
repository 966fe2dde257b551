import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bf16ToF32, dequantize, f16ToF32, f32ToBf16, f32ToF16, quantize } from './convert.ts';
import { f16Table } from './float-bits.ts';
import { f32Bits, f32FromBits } from './float-bits.ts';
import { dequantizeQ8_0, dotQ8_0F32, dotQ8_0Q8_0, quantizeQ8_0 } from './q8_0.ts';
import { dequantizeQ4_0, dotQ4_0F32, dotQ4_0Q8_0, quantizeQ4_0 } from './q4_0.ts';
import { DTYPE_TRAITS, tensorByteLength } from './dtype-traits.ts';
import { FormatError } from '../errors.ts';

/** Golden vectors produced by ggml itself (tools/llamacpp/make-quant-golden.py). */
function loadGolden() {
  const bytes = readFileSync(new URL('../../../tests/fixtures/gguf/quant-golden.bin', import.meta.url));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe('QGLD');
  expect(view.getUint32(4, true)).toBe(2);
  const blocks = view.getUint32(8, true);
  const n = blocks * 32;
  let at = 12;
  const inputs = new Float32Array(n);
  for (let i = 0; i < n; i++, at += 4) inputs[i] = view.getFloat32(at, true);
  const q8 = bytes.slice(at, at + 34 * blocks);
  at += 34 * blocks;
  const q4 = bytes.slice(at, at + 18 * blocks);
  at += 18 * blocks;
  const f16 = Array.from({ length: n }, (_, i) => view.getUint16(at + 2 * i, true));
  at += 2 * n;
  const dotCount = view.getUint32(at, true);
  at += 4;
  const dotsQ8Q8 = Array.from({ length: dotCount }, (_, i) => view.getFloat32(at + 4 * i, true));
  at += 4 * dotCount;
  const dotsQ4Q8 = Array.from({ length: dotCount }, (_, i) => view.getFloat32(at + 4 * i, true));
  return { inputs, q8, q4, f16, blocks, dotsQ8Q8, dotsQ4Q8 };
}

function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

describe('bit-exact with ggml (golden vectors from libggml-base)', () => {
  const golden = loadGolden();
  it('quantizeQ8_0 equals quantize_row_q8_0_ref byte for byte', () => {
    expect(Buffer.from(quantizeQ8_0(golden.inputs)).equals(Buffer.from(golden.q8))).toBe(true);
  });
  it('quantizeQ4_0 equals quantize_row_q4_0_ref byte for byte', () => {
    expect(Buffer.from(quantizeQ4_0(golden.inputs)).equals(Buffer.from(golden.q4))).toBe(true);
  });
  it('dotQ8_0Q8_0 / dotQ4_0Q8_0 equal ggml_vec_dot_*_q8_0_generic', () => {
    const ROW_BLOCKS = 32; // rows of 32 blocks; dot d: weights row d+1, activations row (d+2) mod 4 (row 0 skipped)
    const row = (bytes: Uint8Array, r: number, blockBytes: number) =>
      bytes.subarray(r * ROW_BLOCKS * blockBytes, (r + 1) * ROW_BLOCKS * blockBytes);
    expect(golden.dotsQ8Q8.length).toBe(3);
    golden.dotsQ8Q8.forEach((expected, d) => {
      const activations = row(golden.q8, (d + 2) % 4 || 1, 34);
      expect(dotQ8_0Q8_0(row(golden.q8, d + 1, 34), activations, ROW_BLOCKS * 32)).toBe(expected);
      expect(dotQ4_0Q8_0(row(golden.q4, d + 1, 18), activations, ROW_BLOCKS * 32)).toBe(golden.dotsQ4Q8[d]);
    });
  });
  it('f32ToF16 equals ggml_fp32_to_fp16_row', () => {
    const ours = Array.from(golden.inputs, (v) => f32ToF16(v));
    expect(ours).toEqual(golden.f16);
  });
});

describe('f16 conversion', () => {
  it('f16Table holds the bits f16ToF32 gives (through a Float32Array) for every one of the 65536 halves', () => {
    const table = new Uint32Array(f16Table().buffer);
    const one = new Float32Array(1);
    const oneBits = new Uint32Array(one.buffer);
    for (let h = 0; h < 65536; h++) {
      one[0] = f16ToF32(h);
      if (table[h] !== oneBits[0])
        expect(`half ${h.toString(16)}: ${table[h]!.toString(16)}`).toBe(oneBits[0]!.toString(16));
    }
  });
  it('every finite half survives f16 → f32 → f16', () => {
    for (let h = 0; h < 65536; h++) {
      const v = f16ToF32(h);
      if (Number.isNaN(v)) expect(Number.isNaN(f16ToF32(f32ToF16(v)))).toBe(true);
      else expect(f32ToF16(v)).toBe(h);
    }
  });
  it('rounds exact midpoints between neighbouring halves to the even one', () => {
    for (let h = 0; h < 0x7bff; h++) {
      const mid = (f16ToF32(h) + f16ToF32(h + 1)) / 2; // exact in f32 (12 significant bits)
      const even = h % 2 === 0 ? h : h + 1;
      expect(f32ToF16(mid)).toBe(even);
      expect(f32ToF16(f32FromBits(f32Bits(mid) + 1))).toBe(h + 1);
      expect(f32ToF16(f32FromBits(f32Bits(mid) - 1))).toBe(h);
    }
  });
  it('overflows to infinity past 65520 and keeps NaN a NaN', () => {
    expect(f32ToF16(65519)).toBe(0x7bff);
    expect(f32ToF16(65520)).toBe(0x7c00);
    expect(f32ToF16(-1e9)).toBe(0xfc00);
    expect(f32ToF16(NaN) & 0x7c00).toBe(0x7c00);
    expect(f32ToF16(NaN) & 0x3ff).not.toBe(0);
  });
});

describe('bf16 conversion', () => {
  it('round-trips every finite bf16 and rounds midpoints to even', () => {
    for (let b = 0; b < 0x7f80; b += 7) {
      expect(f32ToBf16(bf16ToF32(b))).toBe(b);
      const midBits = ((b << 16) | 0x8000) >>> 0;
      expect(f32ToBf16(f32FromBits(midBits))).toBe(b % 2 === 0 ? b : b + 1);
      expect(f32ToBf16(f32FromBits(midBits + 1))).toBe(b + 1);
    }
    expect(Number.isNaN(bf16ToF32(f32ToBf16(NaN)))).toBe(true);
  });
});

describe('Q8_0 / Q4_0 blocks', () => {
  const random = seededRandom(42);
  const values = Float32Array.from({ length: 32 * 37 }, () => random() * 3);
  // d is stored as f16 (relative error ≤ 2^-11), which moves a level q·d by up to 127·2^-11 steps.
  it('dequantized Q8_0 is within half a step (+ f16 scale rounding) of the input', () => {
    const restored = dequantizeQ8_0(quantizeQ8_0(values), values.length);
    for (let b = 0; b < 37; b++) {
      const block = values.subarray(b * 32, b * 32 + 32);
      const step = Math.max(...block.map(Math.abs)) / 127;
      for (let j = 0; j < 32; j++)
        expect(Math.abs(restored[b * 32 + j]! - block[j]!)).toBeLessThanOrEqual(step * (0.5 + 127 * 2 ** -11));
    }
  });
  // Q4_0 levels are -8..7 with d = max/-8: the signed max maps to level 0 exactly, but values
  // of the opposite sign near |max| clamp at level 15 (7·|d|), an error of up to one step.
  it('dequantized Q4_0 is within one step (+ f16 scale rounding) of the input', () => {
    const restored = dequantizeQ4_0(quantizeQ4_0(values), values.length);
    for (let b = 0; b < 37; b++) {
      const block = values.subarray(b * 32, b * 32 + 32);
      const step = Math.max(...block.map(Math.abs)) / 8;
      for (let j = 0; j < 32; j++)
        expect(Math.abs(restored[b * 32 + j]! - block[j]!)).toBeLessThanOrEqual(step * (1 + 8 * 2 ** -11));
    }
  });
  it('dot products agree with dequantize-then-dot', () => {
    const x = Float32Array.from({ length: values.length }, () => random());
    const exact = (w: Float32Array) => w.reduce((s, v, i) => s + v * x[i]!, 0);
    const q8 = quantizeQ8_0(values);
    const q4 = quantizeQ4_0(values);
    const DOT_F32_TOLERANCE = 1e-9; // both sides accumulate exactly representable products in f64
    expect(dotQ8_0F32(q8, 0, x, values.length)).toBeCloseTo(
      exact(dequantizeQ8_0(q8, values.length)),
      -Math.log10(DOT_F32_TOLERANCE),
    );
    expect(dotQ4_0F32(q4, 0, x, values.length)).toBeCloseTo(
      exact(dequantizeQ4_0(q4, values.length)),
      -Math.log10(DOT_F32_TOLERANCE),
    );
    const xq = quantizeQ8_0(x);
    const xDeq = dequantizeQ8_0(xq, x.length);
    const exactQ = (w: Float32Array) => w.reduce((s, v, i) => s + v * xDeq[i]!, 0);
    const GGML_DOT_RELATIVE_TOLERANCE = 1e-5; // ggml accumulates per-block sums in f32
    const q8q8 = exactQ(dequantizeQ8_0(q8, values.length));
    expect(Math.abs(dotQ8_0Q8_0(q8, xq, values.length) - q8q8)).toBeLessThan(
      GGML_DOT_RELATIVE_TOLERANCE * Math.abs(q8q8) + 1e-6,
    );
    const q4q8 = exactQ(dequantizeQ4_0(q4, values.length));
    expect(Math.abs(dotQ4_0Q8_0(q4, xq, values.length) - q4q8)).toBeLessThan(
      GGML_DOT_RELATIVE_TOLERANCE * Math.abs(q4q8) + 1e-6,
    );
  });
});

describe('dtype traits, quantize and dequantize', () => {
  it('computes byte lengths from the traits table', () => {
    expect(tensorByteLength('q4_0', [3, 64])).toBe(3 * 2 * DTYPE_TRAITS.q4_0.bytesPerBlock);
    expect(tensorByteLength('bf16', [5, 7])).toBe(70);
    expect(tensorByteLength('i64', [])).toBe(8);
    expect(() => tensorByteLength('q8_0', [2, 33])).toThrow(FormatError);
    expect(() => tensorByteLength('f32', [2, -1])).toThrow(/non-negative/);
  });
  it('round-trips every float dtype through quantize/dequantize', () => {
    const random = seededRandom(7);
    const values = Float32Array.from({ length: 4 * 64 }, () => random());
    for (const dtype of ['f32', 'f16', 'bf16', 'q8_0', 'q4_0'] as const) {
      const t = quantize('w', values, [4, 64], dtype);
      expect(t.data.byteLength).toBe(tensorByteLength(dtype, [4, 64]));
      const again = quantize('w', dequantize(t), [4, 64], dtype);
      expect(Buffer.from(again.data).equals(Buffer.from(t.data))).toBe(true); // quantization is idempotent
    }
  });
  it('dequantizes integer dtypes', () => {
    const data = new Uint8Array(16);
    new DataView(data.buffer).setBigInt64(8, -5n, true);
    expect(Array.from(dequantize({ name: 'i', dtype: 'i64', shape: [2], data }))).toEqual([0, -5]);
    expect(() => dequantize({ name: 'i', dtype: 'i32', shape: [5], data })).toThrow(/needs 20/);
  });
});

describe('dequantize of f16 and bf16 (aligned fast paths, into a given output)', () => {
  it('agrees with the element-wise conversion on fresh random bits, aligned and at an odd offset, into and not', () => {
    const count = 10_001;
    const buffer = new Uint8Array(count * 2 + 1).map(() => (Math.random() * 256) | 0);
    for (const [dtype, toF32] of [
      ['f16', f16ToF32],
      ['bf16', bf16ToF32],
    ] as const)
      for (const offset of [0, 1]) {
        const data = buffer.subarray(offset, offset + count * 2);
        const expected = Float32Array.from({ length: count }, (_, i) => toF32(data[2 * i]! | (data[2 * i + 1]! << 8)));
        const tensor = { name: 't', dtype, shape: [count], data };
        expect(dequantize(tensor)).toEqual(expected); // toEqual: NaN equals NaN
        const into = new Float32Array(count + 8).subarray(4, 4 + count);
        expect(dequantize(tensor, into)).toBe(into);
        expect(into).toEqual(expected);
      }
  });

  it('refuses an output of the wrong length', () => {
    const tensor = { name: 't', dtype: 'f16' as const, shape: [4], data: new Uint8Array(8) };
    expect(() => dequantize(tensor, new Float32Array(3))).toThrow("tensor 't': 4 values do not fit an output of 3");
  });
});
