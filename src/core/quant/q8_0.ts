/**
 * ggml Q8_0: blocks of 32 weights along a row, 34 bytes each (8.5 bits per weight).
 *
 *   block_q8_0 { ggml_half d; int8_t qs[32]; }      weight[j] = qs[j] * d
 *
 * quantizeQ8_0 follows ggml's `quantize_row_q8_0_ref` step by step in f32 arithmetic
 * (Math.fround after every operation), so its bytes are identical to ggml's:
 *   amax = max |x|;  d = amax / 127;  id = d ? 1/d : 0;  qs[j] = roundf(x[j] * id)
 * with roundf = round half away from zero, and d stored as f16 (RNE) — note that qs uses
 * the f32 d, not the rounded f16 one, exactly as ggml does.
 */
import { assert } from '../errors.ts';
import { f16ToF32, f32ToF16 } from './float-bits.ts';

export const Q8_0_BLOCK_SIZE = 32;
export const Q8_0_BLOCK_BYTES = 34;

/** C roundf: round half away from zero (exact for f32 inputs). */
export function roundHalfAwayFromZero(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

/** values // [n] with n % 32 == 0  →  n/32 blocks of 34 bytes. */
export function quantizeQ8_0(values: Float32Array): Uint8Array {
  assert(values.length % Q8_0_BLOCK_SIZE === 0, `q8_0: ${values.length} values is not a multiple of 32`);
  const blocks = values.length / Q8_0_BLOCK_SIZE;
  const out = new Uint8Array(blocks * Q8_0_BLOCK_BYTES);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    const base = b * Q8_0_BLOCK_SIZE;
    let amax = 0;
    for (let j = 0; j < Q8_0_BLOCK_SIZE; j++) amax = Math.max(amax, Math.abs(values[base + j]!));
    const d = Math.fround(amax / 127);
    const id = d ? Math.fround(1 / d) : 0;
    const at = b * Q8_0_BLOCK_BYTES;
    view.setUint16(at, f32ToF16(d), true);
    for (let j = 0; j < Q8_0_BLOCK_SIZE; j++) {
      out[at + 2 + j] = roundHalfAwayFromZero(Math.fround(values[base + j]! * id)) & 0xff; // int8, two's complement
    }
  }
  return out;
}

/** data // [count/32 blocks]  →  values // [count] */
export function dequantizeQ8_0(data: Uint8Array, count: number): Float32Array {
  assert(count % Q8_0_BLOCK_SIZE === 0 && data.byteLength >= (count / 32) * Q8_0_BLOCK_BYTES, 'q8_0: short data');
  const out = new Float32Array(count);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let b = 0; b < count / Q8_0_BLOCK_SIZE; b++) {
    const at = b * Q8_0_BLOCK_BYTES;
    const d = f16ToF32(view.getUint16(at, true));
    for (let j = 0; j < Q8_0_BLOCK_SIZE; j++) out[b * 32 + j] = ((data[at + 2 + j]! << 24) >> 24) * d; // int8
  }
  return out;
}

/**
 * Dot of one Q8_0 row with an f32 vector: Σ_j weight[j] · x[j], accumulated in f64.
 * rowBytes // Q8_0 blocks of the row starting at byteOffset;  x // [length]
 */
export function dotQ8_0F32(rowBytes: Uint8Array, byteOffset: number, x: Float32Array, length: number): number {
  const view = new DataView(rowBytes.buffer, rowBytes.byteOffset, rowBytes.byteLength);
  let sum = 0;
  for (let b = 0; b < length / Q8_0_BLOCK_SIZE; b++) {
    const at = byteOffset + b * Q8_0_BLOCK_BYTES;
    let blockSum = 0;
    for (let j = 0; j < Q8_0_BLOCK_SIZE; j++) blockSum += view.getInt8(at + 2 + j) * x[b * 32 + j]!;
    sum += blockSum * f16ToF32(view.getUint16(at, true));
  }
  return sum;
}

/**
 * ggml's `ggml_vec_dot_q8_0_q8_0` (generic C path): integer sums per block, scaled by
 * d_a·d_b and accumulated in f32. a, b // [length/32 blocks each]
 */
export function dotQ8_0Q8_0(a: Uint8Array, b: Uint8Array, length: number): number {
  const va = new DataView(a.buffer, a.byteOffset, a.byteLength);
  const vb = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let sumf = 0;
  for (let blk = 0; blk < length / Q8_0_BLOCK_SIZE; blk++) {
    const at = blk * Q8_0_BLOCK_BYTES;
    let sumi = 0;
    for (let j = 0; j < Q8_0_BLOCK_SIZE; j++) sumi += va.getInt8(at + 2 + j) * vb.getInt8(at + 2 + j);
    const scale = Math.fround(f16ToF32(va.getUint16(at, true)) * f16ToF32(vb.getUint16(at, true)));
    sumf = Math.fround(sumf + Math.fround(sumi * scale));
  }
  return sumf;
}
