/**
 * One row per storage dtype (STYLE habit 7: dtype facts are a table, not branches).
 *
 * Quantized dtypes are ggml's 32-weight blocks, blocked along the LAST (contiguous) dim:
 *   q8_0: { d: f16, qs: int8[32] }            34 bytes / 32 weights (8.5 bpw)
 *   q4_0: { d: f16, qs: uint8[16] (nibbles) } 18 bytes / 32 weights (4.5 bpw)
 * Element dtypes have blockSize 1 and bytesPerBlock = element size.
 *
 * The safetensors dtype strings and the ggml type ids live with their formats
 * (formats/safetensors.ts, formats/gguf-types.ts), each table exhaustive over DType.
 */
import { FormatError } from '../errors.ts';
import type { DType } from '../tensor.ts';

export interface DTypeTraits {
  /** Weights per block (1 for element types). */
  blockSize: number;
  /** Bytes per block (element size for element types). */
  bytesPerBlock: number;
  /** Holds real numbers (float or quantized) rather than integers. */
  isFloat: boolean;
  /** Blocked ggml quantization (row length must be a multiple of blockSize). */
  isQuantized: boolean;
}

export const DTYPE_TRAITS = {
  f32: { blockSize: 1, bytesPerBlock: 4, isFloat: true, isQuantized: false },
  f16: { blockSize: 1, bytesPerBlock: 2, isFloat: true, isQuantized: false },
  bf16: { blockSize: 1, bytesPerBlock: 2, isFloat: true, isQuantized: false },
  q8_0: { blockSize: 32, bytesPerBlock: 34, isFloat: true, isQuantized: true },
  q4_0: { blockSize: 32, bytesPerBlock: 18, isFloat: true, isQuantized: true },
  i8: { blockSize: 1, bytesPerBlock: 1, isFloat: false, isQuantized: false },
  u8: { blockSize: 1, bytesPerBlock: 1, isFloat: false, isQuantized: false },
  i32: { blockSize: 1, bytesPerBlock: 4, isFloat: false, isQuantized: false },
  i64: { blockSize: 1, bytesPerBlock: 8, isFloat: false, isQuantized: false },
} as const satisfies Record<DType, DTypeTraits>;

export const ALL_DTYPES = Object.keys(DTYPE_TRAITS) as DType[];

export function isDType(value: string): value is DType {
  return Object.hasOwn(DTYPE_TRAITS, value);
}

/**
 * Exact byte length of a tensor as BigInt, so readers can compare claimed sizes with a
 * file size before allocating (STYLE habit 4). Throws FormatError (prefixed with
 * `context`) on a negative/non-integer dim or a row length that is not a whole number of
 * blocks.
 */
export function tensorByteLengthBig(dtype: DType, shape: readonly number[], context = 'tensor'): bigint {
  const traits: DTypeTraits = DTYPE_TRAITS[dtype];
  let count = 1n;
  for (const dim of shape) {
    if (!Number.isSafeInteger(dim) || dim < 0) {
      throw new FormatError(
        `${context}: dimension ${dim} in shape [${shape.join(', ')}] is not a non-negative integer`,
      );
    }
    count *= BigInt(dim);
  }
  const rowLength = shape.length === 0 ? 1 : shape[shape.length - 1]!;
  if (rowLength % traits.blockSize !== 0) {
    throw new FormatError(
      `${context}: row length ${rowLength} of shape [${shape.join(', ')}] is not a multiple of the ${dtype} block size ${traits.blockSize}`,
    );
  }
  return (count / BigInt(traits.blockSize)) * BigInt(traits.bytesPerBlock);
}

/** Exact byte length of a tensor of `dtype` and `shape` (PyTorch order, blocks along the last dim). */
export function tensorByteLength(dtype: DType, shape: readonly number[]): number {
  const bytes = tensorByteLengthBig(dtype, shape);
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new FormatError(`tensor: byte length ${bytes} of ${dtype} [${shape.join(', ')}] exceeds 2^53`);
  }
  return Number(bytes);
}
