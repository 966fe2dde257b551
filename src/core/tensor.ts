/**
 * Tensors as the core passes them around. Shapes are PyTorch order (slowest-varying
 * first): a Linear weight is [out, in], so y = W x reads row `o` for output `o`.
 * GGUF lists dims the other way round (ne[0] fastest); formats/gguf.ts converts.
 *
 * Quant parameters (block size, scale type) belong to the dtype, never to a global
 * (STYLE habit 2): see quant/dtype-traits.ts for the per-dtype table.
 */

/** Storage dtypes the core understands. Quantized types are ggml's 32-weight blocks. */
export type DType = WeightDType | 'i8' | 'u8' | 'i32' | 'i64';

/** The dtypes a weight matrix may be stored in (every backend reads all five). */
export type WeightDType = 'f32' | 'f16' | 'bf16' | 'q8_0' | 'q4_0';

/** A tensor's raw bytes plus what they mean. Quantized rows are blocked along the last dim. */
export interface RawTensor {
  name: string;
  dtype: DType;
  /** PyTorch order, e.g. [out, in] for a Linear weight. */
  shape: number[];
  /** Exactly `tensorByteLength(dtype, shape)` bytes, little-endian. */
  data: Uint8Array;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
