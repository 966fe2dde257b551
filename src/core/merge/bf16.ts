/**
 * bfloat16 emulation for `hidden` gates (specs/mergekit-moe.md §4.2): upstream runs the
 * whole gate computation in bf16 tensors, and each PyTorch op accumulates in fp32 and
 * rounds its result to bf16 once. These helpers do exactly that, op by op.
 */
import { bf16ToF32, f32ToBf16 } from '../quant/convert.ts';

/** Rounds one number to the nearest bf16 value (RNE), returned as a number. */
export function roundBf16(x: number): number {
  return bf16ToF32(f32ToBf16(x));
}

/** In place: every element rounded to bf16. */
export function roundBf16Array(values: Float32Array): Float32Array {
  for (let i = 0; i < values.length; i++) values[i] = roundBf16(values[i]!);
  return values;
}

/** torch.mean(stack(rows), dim=0) on bf16 rows: fp32 sum in row order, divide, round once. */
export function meanBf16(rows: Float32Array[]): Float32Array {
  const out = new Float32Array(rows[0]!.length);
  for (const row of rows) for (let i = 0; i < out.length; i++) out[i] = out[i]! + row[i]!;
  for (let i = 0; i < out.length; i++) out[i] = roundBf16(out[i]! / rows.length);
  return out;
}

/** a − b on bf16 tensors: exact difference, rounded to bf16. */
export function subtractBf16(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = roundBf16(a[i]! - b[i]!);
  return out;
}

/** The f32 value closest to PyTorch's 1e-8 clamp bound, as the dtype at hand stores it. */
export const NORM_CLAMP_MIN = 1e-8;

/**
 * v / clamp(‖v‖₂, min=1e-8). With `bf16`, the norm (fp32 accumulation) is rounded to bf16,
 * the clamp bound is the bf16 value of 1e-8, and each quotient is rounded to bf16; without
 * it everything is fp32 (cheap_embed, Float32Array stores round each op).
 */
export function normalizeRow(v: Float32Array, bf16: boolean): Float32Array {
  let sumSquares = 0;
  for (let i = 0; i < v.length; i++) sumSquares = Math.fround(sumSquares + Math.fround(v[i]! * v[i]!));
  let norm = Math.fround(Math.sqrt(sumSquares));
  const clampMin = bf16 ? roundBf16(NORM_CLAMP_MIN) : Math.fround(NORM_CLAMP_MIN);
  if (bf16) norm = roundBf16(norm);
  norm = Math.max(norm, clampMin);
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = bf16 ? roundBf16(v[i]! / norm) : v[i]! / norm;
  return out;
}
