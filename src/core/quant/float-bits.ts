/**
 * Scalar float conversions on bit patterns. f32 → f16 and f32 → bf16 round to nearest,
 * ties to even (RNE), like ggml's GGML_FP32_TO_FP16 (F16C `_cvtss_sh`, mode 0) and torch's
 * `.to(bfloat16)`. NaN stays a quiet NaN with its sign; overflow becomes ±Inf; f16
 * subnormals are produced exactly.
 */

/** Typed-array views read the host's byte order; the formats are little-endian, so fast paths check this. */
export const HOST_IS_LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

export function f32Bits(value: number): number {
  scratchF32[0] = value;
  return scratchU32[0]!;
}

export function f32FromBits(bits: number): number {
  scratchU32[0] = bits >>> 0;
  return scratchF32[0]!;
}

let f16Values: Float32Array | undefined; // [65536], immutable once built

/**
 * [65536] the f32 value of every f16 bit pattern (f16ToF32 of each), built on first use: loaders,
 * checks and packers widen millions of halves (weights, block scales), one lookup each.
 */
export function f16Table(): Float32Array {
  if (!f16Values) {
    // Built on bits, not through f16ToF32's float maths: 12 → 7 ms in a cold Node (a cold
    // 65536-step loop alone is ~4), paid by each engine and merge worker before its first f16
    // load. The same values (tested on all 65536): a normal half's exponent rebiased by 127 - 15,
    // Inf, NaN as f16ToF32's (a plain quiet NaN), subnormals (m · 2^-24, exact) as floats.
    const values = new Float32Array(65536);
    const bits = new Uint32Array(values.buffer);
    for (let high = 0; high < 64; high++) {
      // the 1024 halves sharing a sign and an exponent: one tight loop each
      const sign = (high & 0x20) << 26;
      const exponent = high & 0x1f;
      const first = high << 10;
      if (exponent === 0) {
        for (let m = 0; m < 1024; m++) values[first + m] = (sign ? -m : m) * 2 ** -24;
      } else if (exponent === 0x1f) {
        bits[first] = (sign | 0x7f800000) >>> 0;
        bits.fill(0x7fc00000, first + 1, first + 1024);
      } else {
        const top = (sign | ((exponent + 112) << 23)) >>> 0;
        for (let m = 0; m < 1024; m++) bits[first + m] = top | (m << 13);
      }
    }
    f16Values = values;
  }
  return f16Values;
}

/** IEEE half (bit pattern) → number. Exact. */
export function f16ToF32(half: number): number {
  const sign = half & 0x8000 ? -1 : 1;
  const exponent = (half >>> 10) & 0x1f;
  const mantissa = half & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24; // zero or subnormal
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** number (rounded to f32 first) → IEEE half bit pattern, round-to-nearest-even. */
export function f32ToF16(value: number): number {
  return f16FromF32Bits(f32Bits(value));
}

/** f32 bit pattern → IEEE half bit pattern, round-to-nearest-even (integer-only, for bulk loops). */
export function f16FromF32Bits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exponent8 = (bits >>> 23) & 0xff;
  const mantissa23 = bits & 0x7fffff;
  if (exponent8 === 0xff) return sign | (mantissa23 ? 0x7e00 : 0x7c00);
  const exponent5 = exponent8 - 127 + 15;
  if (exponent5 >= 0x1f) return sign | 0x7c00; // overflow → Inf
  if (exponent5 >= 1) {
    let half = (exponent5 << 10) | (mantissa23 >>> 13);
    const rest = mantissa23 & 0x1fff; // 13 dropped bits; halfway = 0x1000
    if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++; // carry may reach Inf: correct
    return sign | half;
  }
  if (exponent5 < -10) return sign; // below half of the smallest subnormal: ±0
  const significand24 = mantissa23 | 0x800000;
  const shift = 14 - exponent5; // 14..24
  let half = significand24 >>> shift;
  const rest = significand24 & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  if (rest > halfway || (rest === halfway && half & 1)) half++;
  return sign | half;
}

/** bfloat16 (bit pattern) → number. Exact. */
export function bf16ToF32(value: number): number {
  return f32FromBits((value & 0xffff) << 16);
}

/** number (rounded to f32 first) → bfloat16 bit pattern, round-to-nearest-even. */
export function f32ToBf16(value: number): number {
  const bits = f32Bits(value);
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x40) & 0xffff; // quiet NaN
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}
