/**
 * Weight storage formats the WebGPU kernels read, one row per dtype (STYLE habit 7).
 *
 * Decision (documented for the issue): quantized weights are uploaded byte for byte in
 * ggml's block layout (q8_0: 34-byte blocks, q4_0: 18-byte blocks) and read through u32
 * words; a 32-bit read at a 2-byte-aligned offset splices two words. No repack means the
 * GPU holds exactly the file's bytes (memory accounting = file size) and upload is a copy.
 * The extra word read per misaligned load hits the same cache line; bytes fetched from
 * memory stay the block bytes.
 *
 * Each `*.wgsl` reader works on a binding named WEIGHT (`array<u32>`) and defines the block
 * interface — WEIGHT_QUADS (quads of 4 elements per block, sharing one scale),
 * WEIGHT_BLOCK_STRIDE, WEIGHT_rowStart(row, K), WEIGHT_scaleAt(start), WEIGHT_quadAt(start, j) —
 * plus a bounds-checked WEIGHT_load4(row, k, K) for row tails and gathers.
 * rowdot.wgsl builds WEIGHT_dot / WEIGHT_dot4 (one / four activation rows) on top of it.
 * `weightDotSource(dtype, weight, activation)` renames all of it for one pair of bindings.
 */
import { WGSL_SOURCES } from './wgsl-sources.generated.ts';
import { BackendError } from '../../../errors.ts';
import type { DType, WeightDType } from '../../../tensor.ts';

const f32Source = WGSL_SOURCES['weights_f32.wgsl'];
const f16Source = WGSL_SOURCES['weights_f16.wgsl'];
const bf16Source = WGSL_SOURCES['weights_bf16.wgsl'];
const q8Source = WGSL_SOURCES['weights_q8_0.wgsl'];
const q4Source = WGSL_SOURCES['weights_q4_0.wgsl'];
const activationWgsl = WGSL_SOURCES['activation.wgsl'];
const rowDotWgsl = WGSL_SOURCES['rowdot.wgsl'];

export type GpuWeightDType = WeightDType;

interface WeightFormat {
  source: string;
  /** Elements per block along a row; K must be a multiple (1 = any K). */
  blockSize: number;
  bytesPerBlock: number;
}

export const WEIGHT_FORMATS = {
  f32: { source: f32Source, blockSize: 1, bytesPerBlock: 4 },
  f16: { source: f16Source, blockSize: 1, bytesPerBlock: 2 },
  bf16: { source: bf16Source, blockSize: 1, bytesPerBlock: 2 },
  q8_0: { source: q8Source, blockSize: 32, bytesPerBlock: 34 },
  q4_0: { source: q4Source, blockSize: 32, bytesPerBlock: 18 },
} as const satisfies Record<GpuWeightDType, WeightFormat>;

export function asGpuWeightDType(dtype: DType, tensorName: string): GpuWeightDType {
  if (dtype in WEIGHT_FORMATS) return dtype as GpuWeightDType;
  throw new BackendError(`webgpu: tensor '${tensorName}' has dtype ${dtype}, which the kernels cannot read`);
}

/** Bytes of one row of K elements. */
export function weightRowBytes(dtype: GpuWeightDType, K: number): number {
  const f = WEIGHT_FORMATS[dtype];
  if (K % f.blockSize !== 0)
    throw new BackendError(`webgpu: row length ${K} is not a multiple of ${dtype} block size ${f.blockSize}`);
  return (K / f.blockSize) * f.bytesPerBlock;
}

/** The reader functions for a binding called `bindingName` (e.g. `wGate_load4`). */
export function weightReaderSource(dtype: GpuWeightDType, bindingName: string): string {
  return WEIGHT_FORMATS[dtype].source.replaceAll('WEIGHT', bindingName);
}

/** f32 activation reads for a binding called `bindingName` (once per activation binding). */
export function activationSource(bindingName: string): string {
  return activationWgsl.replaceAll('ACTIVATION', bindingName);
}

/** Reader + `<weight>_dot` / `<weight>_dot4` against activation binding `activation`. */
export function weightDotSource(dtype: GpuWeightDType, weight: string, activation: string): string {
  return `${weightReaderSource(dtype, weight)}\n${rowDotWgsl.replaceAll('WEIGHT', weight).replaceAll('ACTIVATION', activation)}`;
}
