/**
 * ggml Q4_0: blocks of 32 weights along a row, 18 bytes each (4.5 bits per weight).
 *
 *   block_q4_0 { ggml_half d; uint8_t qs[16]; }
 *   weight[j]      = ((qs[j] & 0x0F) - 8) * d      j = 0..15   (low nibbles)
 *   weight[j + 16] = ((qs[j] >>   4) - 8) * d      j = 0..15   (high nibbles)
 *
 * quantizeQ4_0 follows ggml's `quantize_row_q4_0_ref` in f32 arithmetic:
 *   max = the signed value of largest |x| (first one wins on ties);  d = max / -8;
 *   id = d ? 1/d : 0;  q = min(15, (int8_t)(x * id + 8.5f))
 * and d stored as f16 (RNE); q uses the f32 d, exactly as ggml does.
 */
import { assert } from '../errors.ts';
import { f16ToF32, f32ToF16 } from './float-bits.ts';
import { Q8_0_BLOCK_BYTES } from './q8_0.ts';

export const Q4_0_BLOCK_SIZE = 32;
export const Q4_0_BLOCK_BYTES = 18;

function quantizeNibble(x: number, id: number): number {
  const shifted = Math.fround(Math.fround(x * id) + 8.5);
  return Math.min(15, Math.trunc(shifted)); // C (int8_t) cast truncates toward zero
}

/** values // [n] with n % 32 == 0  →  n/32 blocks of 18 bytes. */
export function quantizeQ4_0(values: Float32Array): Uint8Array {
  assert(values.length % Q4_0_BLOCK_SIZE === 0, `q4_0: ${values.length} values is not a multiple of 32`);
  const blocks = values.length / Q4_0_BLOCK_SIZE;
  const out = new Uint8Array(blocks * Q4_0_BLOCK_BYTES);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    const base = b * Q4_0_BLOCK_SIZE;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < Q4_0_BLOCK_SIZE; j++) {
      const v = values[base + j]!;
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = Math.fround(max / -8);
    const id = d ? Math.fround(1 / d) : 0;
    const at = b * Q4_0_BLOCK_BYTES;
    view.setUint16(at, f32ToF16(d), true);
    for (let j = 0; j < Q4_0_BLOCK_SIZE / 2; j++) {
      const low = quantizeNibble(values[base + j]!, id);
      const high = quantizeNibble(values[base + 16 + j]!, id);
      out[at + 2 + j] = low | (high << 4);
    }
  }
  return out;
}

/** data // [count/32 blocks]  →  values // [count] */
export function dequantizeQ4_0(data: Uint8Array, count: number): Float32Array {
  assert(count % Q4_0_BLOCK_SIZE === 0 && data.byteLength >= (count / 32) * Q4_0_BLOCK_BYTES, 'q4_0: short data');
  const out = new Float32Array(count);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let b = 0; b < count / Q4_0_BLOCK_SIZE; b++) {
    const at = b * Q4_0_BLOCK_BYTES;
    const d = f16ToF32(view.getUint16(at, true));
    for (let j = 0; j < 16; j++) {
      const packed = data[at + 2 + j]!;
      out[b * 32 + j] = ((packed & 0x0f) - 8) * d;
      out[b * 32 + 16 + j] = ((packed >> 4) - 8) * d;
    }
  }
  return out;
}

/**
 * Dot of one Q4_0 row with an f32 vector, accumulated in f64.
 * rowBytes // Q4_0 blocks of the row starting at byteOffset;  x // [length]
 */
export function dotQ4_0F32(rowBytes: Uint8Array, byteOffset: number, x: Float32Array, length: number): number {
  const view = new DataView(rowBytes.buffer, rowBytes.byteOffset, rowBytes.byteLength);
  let sum = 0;
  for (let b = 0; b < length / Q4_0_BLOCK_SIZE; b++) {
    const at = byteOffset + b * Q4_0_BLOCK_BYTES;
    let blockSum = 0;
    for (let j = 0; j < 16; j++) {
      const packed = rowBytes[at + 2 + j]!;
      blockSum += ((packed & 0x0f) - 8) * x[b * 32 + j]! + ((packed >> 4) - 8) * x[b * 32 + 16 + j]!;
    }
    sum += blockSum * f16ToF32(view.getUint16(at, true));
  }
  return sum;
}

/**
 * ggml's `ggml_vec_dot_q4_0_q8_0` (generic C path): weights in Q4_0, activations quantized
 * to Q8_0; integer sums per block scaled by d_w·d_x, accumulated in f32.
 * weights // [length/32 Q4_0 blocks];  activations // [length/32 Q8_0 blocks]
 */
export function dotQ4_0Q8_0(weights: Uint8Array, activations: Uint8Array, length: number): number {
  const vw = new DataView(weights.buffer, weights.byteOffset, weights.byteLength);
  const va = new DataView(activations.buffer, activations.byteOffset, activations.byteLength);
  let sumf = 0;
  for (let b = 0; b < length / Q4_0_BLOCK_SIZE; b++) {
    const wAt = b * Q4_0_BLOCK_BYTES;
    const aAt = b * Q8_0_BLOCK_BYTES;
    let sumi = 0;
    for (let j = 0; j < 16; j++) {
      const packed = weights[wAt + 2 + j]!;
      sumi += ((packed & 0x0f) - 8) * va.getInt8(aAt + 2 + j) + ((packed >> 4) - 8) * va.getInt8(aAt + 2 + 16 + j);
    }
    const scale = Math.fround(f16ToF32(vw.getUint16(wAt, true)) * f16ToF32(va.getUint16(aAt, true)));
    sumf = Math.fround(sumf + Math.fround(sumi * scale));
  }
  return sumf;
}
