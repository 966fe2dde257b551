/**
 * Repacks ModelWeights tensors into the kernels' layouts inside the wasm arena (see the
 * header of kernels.wat). ggml blocks interleave an f16 scale with the quants; the kernels
 * want quants contiguous per row and the scales widened to f32 beside them, so each
 * 32-block's quants start 16-byte aligned. f16 / bf16 widen to f32 exactly.
 */
import { FormatError } from '../../errors.ts';
import { bf16ToF32, dequantize, f16ToF32 } from '../../quant/convert.ts';
import { f16Table, HOST_IS_LITTLE_ENDIAN } from '../../quant/float-bits.ts';
import type { RawTensor } from '../../tensor.ts';
import type { WasmArena } from './arena.ts';

export type PackedDType = 'q8_0' | 'q4_0' | 'f32';

/** A Linear weight [n, k] in kernel layout. */
export interface PackedMatrix {
  name: string;
  dtype: PackedDType;
  n: number; // rows (out features)
  k: number; // columns (in features)
  quants: number; // q8_0: i8 [n, k]; q4_0: u8 [n, k/2] (ggml's nibble bytes), rows in 4-row groups interleaved by block (packedBlockIndex); f32: f32 [n, k]
  scales: number; // f32 [n, k/32] in the same block order (0 for f32)
  bytes: number; // bytes the kernel reads per full mat-vec
  memory: number; // which of the session's memories holds quants and scales (0: main; WasmArena.index)
}

const QK = 32; // weights per ggml block
const Q8_BLOCK_BYTES = 34;
const Q4_BLOCK_BYTES = 18;

function matrixDims(tensor: RawTensor): [number, number] {
  const shape = tensor.shape;
  if (shape.length === 1) return [1, shape[0]!];
  if (shape.length !== 2)
    throw new FormatError(`wasm: tensor '${tensor.name}' has shape [${shape.join(', ')}], expected a matrix`);
  return [shape[0]!, shape[1]!];
}

/** Any supported float dtype → f32 values (row-major, same shape). */
export function tensorToF32(tensor: RawTensor, into?: Float32Array): Float32Array {
  if (tensor.dtype === 'i8' || tensor.dtype === 'u8' || tensor.dtype === 'i32' || tensor.dtype === 'i64') {
    throw new FormatError(`wasm: tensor '${tensor.name}' has dtype ${tensor.dtype}, which is not a float type`);
  }
  return dequantize(tensor, into);
}

/** Dequantizes `nBlocks` ggml blocks starting at block `firstBlock` into out [nBlocks*32]. */
function dequantizeBlocks(
  tensor: RawTensor,
  view: DataView,
  firstBlock: number,
  nBlocks: number,
  out: Float32Array,
): void {
  const isQ8 = tensor.dtype === 'q8_0';
  const blockBytes = isQ8 ? Q8_BLOCK_BYTES : Q4_BLOCK_BYTES;
  for (let b = 0; b < nBlocks; b++) {
    const at = (firstBlock + b) * blockBytes;
    const scale = f16ToF32(view.getUint16(at, true));
    for (let j = 0; j < (isQ8 ? QK : QK / 2); j++) {
      if (isQ8) {
        out[b * QK + j] = scale * view.getInt8(at + 2 + j);
      } else {
        const byte = view.getUint8(at + 2 + j);
        out[b * QK + j] = scale * ((byte & 15) - 8);
        out[b * QK + j + 16] = scale * ((byte >> 4) - 8);
      }
    }
  }
}

/** Row `row` of a [rows, k] tensor as f32 (embedding lookup without widening the table). */
export function tensorRowToF32(tensor: RawTensor, row: number, out: Float32Array): void {
  const k = tensor.shape[tensor.shape.length - 1]!;
  const view = new DataView(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  switch (tensor.dtype) {
    case 'f32':
      for (let i = 0; i < k; i++) out[i] = view.getFloat32(4 * (row * k + i), true);
      break;
    case 'f16':
      for (let i = 0; i < k; i++) out[i] = f16ToF32(view.getUint16(2 * (row * k + i), true));
      break;
    case 'bf16':
      for (let i = 0; i < k; i++) out[i] = bf16ToF32(view.getUint16(2 * (row * k + i), true));
      break;
    case 'q8_0':
    case 'q4_0':
      dequantizeBlocks(tensor, view, (row * k) / QK, k / QK, out);
      break;
    default:
      throw new FormatError(`wasm: tensor '${tensor.name}' has dtype ${tensor.dtype}, which is not a float type`);
  }
}

/**
 * The arena allocations (bytes each) packMatrix makes for a [n, k] matrix stored as `dtype`:
 * quants and f32 scales for q8_0 / q4_0, f32 values otherwise. Sizing a session before
 * reading any tensor (wasmSessionBytes) uses the same numbers.
 */
export function packedMatrixAllocations(dtype: RawTensor['dtype'], n: number, k: number): number[] {
  if (dtype === 'q8_0' || dtype === 'q4_0') {
    const nBlocks = (n * k) / QK;
    return [nBlocks * (dtype === 'q8_0' ? QK : QK / 2), nBlocks * 4];
  }
  return [n * k * 4];
}

/** Copies a Linear weight [n, k] into the arena in kernel layout. */
export function packMatrix(arena: WasmArena, tensor: RawTensor): PackedMatrix {
  const [n, k] = matrixDims(tensor);
  if (tensor.dtype === 'q8_0' || tensor.dtype === 'q4_0') return packQuantized(arena, tensor, n, k);
  // widened straight into the arena: no f32 copy of the matrix on the JS heap
  const quants = arena.alloc(n * k * 4, tensor.name);
  tensorToF32(tensor, arena.f32(quants, n * k));
  return { name: tensor.name, dtype: 'f32', n, k, quants, scales: 0, bytes: n * k * 4, memory: arena.index };
}

function packQuantized(arena: WasmArena, tensor: RawTensor, n: number, k: number): PackedMatrix {
  if (k % QK !== 0) throw new FormatError(`wasm: tensor '${tensor.name}' row length ${k} is not a multiple of ${QK}`);
  const isQ8 = tensor.dtype === 'q8_0';
  const blockBytes = isQ8 ? Q8_BLOCK_BYTES : Q4_BLOCK_BYTES;
  const quantBytes = isQ8 ? QK : QK / 2;
  const nBlocks = (n * k) / QK;
  if (tensor.data.byteLength !== nBlocks * blockBytes) {
    throw new FormatError(
      `wasm: tensor '${tensor.name}' has ${tensor.data.byteLength} bytes, expected ${nBlocks * blockBytes}`,
    );
  }
  const [quantsBytes, scalesBytes] = packedMatrixAllocations(tensor.dtype, n, k) as [number, number];
  const quants = arena.alloc(quantsBytes, tensor.name);
  const scales = arena.alloc(scalesBytes, `${tensor.name} scales`);
  const quantView = arena.u8(quants, nBlocks * quantBytes);
  const scaleView = arena.f32(scales, nBlocks);
  const src = tensor.data;
  const halfToFloat = f16Table();
  const rowBlocks = k / QK;
  // Blocks are 18 or 34 bytes and the arena 64-aligned: every block's quants start on an even
  // byte at both ends, so they move as u16 halves (half the operations of bytes) when the
  // source is even-aligned and the host little-endian (a byte copy otherwise).
  const halves = HOST_IS_LITTLE_ENDIAN && src.byteOffset % 2 === 0 && quants % 2 === 0;
  const src16 = halves ? new Uint16Array(src.buffer, src.byteOffset, src.byteLength >> 1) : undefined;
  const quant16 = halves ? arena.u16(quants, (nBlocks * quantBytes) >> 1) : undefined;
  // Row by row, the destination of each next block one step on (packedBlockIndex's layout: +4
  // inside a full 4-row group, +1 in the rows after the groups); no call or allocation per
  // block, since a model has millions of them.
  for (let row = 0; row < n; row++) {
    let to = packedBlockIndex(row, 0, n, rowBlocks);
    const step = packedBlockIndex(row, Math.min(1, rowBlocks - 1), n, rowBlocks) - to || 1;
    let at = row * rowBlocks * blockBytes;
    for (let block = 0; block < rowBlocks; block++, to += step, at += blockBytes) {
      scaleView[to] = halfToFloat[src[at]! | (src[at + 1]! << 8)]!;
      // q8_0's i8 quants and q4_0's nibble bytes (ggml's order, kernels.wat's header) as stored
      const into = to * quantBytes;
      if (src16 && quant16) {
        const from16 = (at + 2) >> 1;
        const into16 = into >> 1;
        for (let j = 0; j < quantBytes >> 1; j++) quant16[into16 + j] = src16[from16 + j]!;
      } else {
        for (let j = 0; j < quantBytes; j++) quantView[into + j] = src[at + 2 + j]!;
      }
    }
  }
  return {
    name: tensor.name,
    dtype: tensor.dtype as PackedDType,
    n,
    k,
    quants,
    scales,
    bytes: nBlocks * (quantBytes + 4),
    memory: arena.index,
  };
}

/**
 * Where block `block` of row `row` goes (kernels.wat's header): rows of a full 4-row group are
 * interleaved block by block within the group's own bytes, so the 4-row kernels read one
 * sequential stream; the last n % 4 rows stay in row order after the groups.
 */
export function packedBlockIndex(row: number, block: number, n: number, rowBlocks: number): number {
  const groupStart = row - (row % 4);
  if (groupStart + 4 > n) return row * rowBlocks + block;
  return groupStart * rowBlocks + block * 4 + (row % 4);
}

/** Copies a vector (norm weight, bias) into the arena as f32; returns the pointer. */
export function packVector(arena: WasmArena, tensor: RawTensor): number {
  const values = tensorToF32(tensor);
  const ptr = arena.alloc(values.byteLength, tensor.name);
  arena.f32(ptr, values.length).set(values);
  return ptr;
}
