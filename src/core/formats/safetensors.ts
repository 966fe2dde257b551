/**
 * safetensors reader and writer (one header-documented pair, STYLE habit 3).
 *
 * Byte layout:
 *   [0, 8)          u64 LE  N = header length in bytes
 *   [8, 8+N)        UTF-8 JSON object, right-padded with spaces (' ') so data starts 8-aligned:
 *                     { "__metadata__"?: { string: string },
 *                       "<tensor>": { "dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end] }, ... }
 *   [8+N, size)     tensor data; offsets are relative to 8+N, end-exclusive; tensors are
 *                   contiguous in file order with no gaps or overlaps and the last ends at EOF.
 *
 * The writer emits what the reference Rust implementation emits (compact JSON, `__metadata__`
 * first, keys dtype/shape/data_offsets, space padding to 8 bytes), so a file read and written
 * again comes out byte-identical. Every length/offset/shape is checked against the file size
 * and a named cap before anything is allocated (STYLE habit 4).
 */
import { FormatError } from '../errors.ts';
import { type ByteSink, type ByteSource, checkRead } from '../io/byte-source.ts';
import type { DType, RawTensor } from '../tensor.ts';
import { tensorByteLengthBig } from '../quant/dtype-traits.ts';
import { parseSafetensorsHeader, type SafetensorsTensorInfo } from './safetensors-header.ts';

export { SAFETENSORS_LIMITS, type SafetensorsTensorInfo } from './safetensors-header.ts';

/** safetensors dtype strings for our DTypes; null = not representable (ggml block quants). */
export const SAFETENSORS_DTYPE_NAMES = {
  f32: 'F32',
  f16: 'F16',
  bf16: 'BF16',
  i8: 'I8',
  u8: 'U8',
  i32: 'I32',
  i64: 'I64',
  q8_0: null,
  q4_0: null,
} as const satisfies Record<DType, string | null>;

export interface SafetensorsFile {
  /** In file (data offset) order. */
  tensors: SafetensorsTensorInfo[];
  metadata: Record<string, string>;
  readTensor(name: string): Promise<RawTensor>;
}

export interface TensorEntry {
  name: string;
  dtype: DType;
  shape: number[];
}

/** Reads and validates the header; tensor data is read lazily by readTensor. */
export async function openSafetensors(src: ByteSource): Promise<SafetensorsFile> {
  const file = src.name;
  const header = await parseSafetensorsHeader(src);
  const byName = new Map(header.tensors.map((t) => [t.name, t]));
  return {
    tensors: header.tensors,
    metadata: header.metadata,
    async readTensor(name: string): Promise<RawTensor> {
      const info = byName.get(name);
      if (!info) throw new FormatError(`safetensors: ${file}: no tensor '${name}'`);
      const data = await src.read(info.dataOffset, info.byteLength);
      return { name, dtype: info.dtype, shape: [...info.shape], data };
    },
  };
}

const encoder = new TextEncoder();

function safetensorsDtypeName(entry: TensorEntry): string {
  const name = SAFETENSORS_DTYPE_NAMES[entry.dtype];
  if (name === null)
    throw new FormatError(
      `safetensors: tensor '${entry.name}' has dtype ${entry.dtype}, which safetensors cannot store`,
    );
  return name;
}

/** The header bytes (length prefix + padded JSON) and each entry's byte length. */
export function encodeSafetensorsHeader(
  entries: TensorEntry[],
  metadata?: Record<string, string>,
): { bytes: Uint8Array; byteLengths: number[] } {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(metadata ?? {})) {
    if (typeof value !== 'string')
      throw new FormatError(`safetensors: __metadata__ '${key}' must be a string, got ${typeof value}`);
  }
  if (metadata) parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  const byteLengths: number[] = [];
  const seen = new Set<string>();
  let offset = 0;
  for (const entry of entries) {
    if (seen.has(entry.name) || entry.name === '__metadata__')
      throw new FormatError(`safetensors: duplicate or reserved tensor name '${entry.name}'`);
    seen.add(entry.name);
    const byteLength = Number(tensorByteLengthBig(entry.dtype, entry.shape, `safetensors: tensor '${entry.name}'`));
    const dtype = safetensorsDtypeName(entry);
    parts.push(
      `${JSON.stringify(entry.name)}:{"dtype":"${dtype}","shape":[${entry.shape.join(',')}],"data_offsets":[${offset},${offset + byteLength}]}`,
    );
    byteLengths.push(byteLength);
    offset += byteLength;
  }
  const json = encoder.encode(`{${parts.join(',')}}`);
  const paddedLength = Math.ceil(json.byteLength / 8) * 8;
  const bytes = new Uint8Array(8 + paddedLength).fill(0x20, 8 + json.byteLength);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(paddedLength), true);
  bytes.set(json, 8);
  return { bytes, byteLengths };
}

/** The bytes writeSafetensors writes for these entries: the header and every tensor's data. */
export function safetensorsFileSize(entries: TensorEntry[], metadata?: Record<string, string>): number {
  const { bytes, byteLengths } = encodeSafetensorsHeader(entries, metadata);
  return byteLengths.reduce((sum, length) => sum + length, bytes.byteLength);
}

/** A tensor's data must be exactly the bytes its header entry promises. */
function checkTensorData(entry: TensorEntry, data: Uint8Array, byteLength: number): void {
  if (data.byteLength !== byteLength) {
    throw new FormatError(
      `safetensors: tensor '${entry.name}' data is ${data.byteLength} bytes, ${entry.dtype} [${entry.shape.join(', ')}] needs ${byteLength}`,
    );
  }
}

/**
 * Streams a safetensors file: header first, then one tensor at a time from getData (so only
 * one tensor needs to be resident). Closes the sink.
 */
export async function writeSafetensors(
  sink: ByteSink,
  entries: TensorEntry[],
  getData: (name: string) => Promise<Uint8Array>,
  metadata?: Record<string, string>,
): Promise<void> {
  const { bytes, byteLengths } = encodeSafetensorsHeader(entries, metadata);
  await sink.write(bytes);
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    const data = await getData(entry.name);
    checkTensorData(entry, data, byteLengths[i]!);
    await sink.write(data);
  }
  await sink.close();
}

/**
 * The bytes writeSafetensors would write, as a ByteSource that makes each tensor only when a
 * read reaches it (the last one made is kept, since readers fetch a tensor in one or a few
 * ranges). A 4-bit model seen as f32 this way costs its quantized size plus one tensor,
 * not the 4-7x a written file would.
 */
export function lazySafetensorsSource(
  name: string,
  entries: TensorEntry[],
  getData: (name: string) => Promise<Uint8Array> | Uint8Array,
  metadata?: Record<string, string>,
): ByteSource {
  const { bytes: header, byteLengths } = encodeSafetensorsHeader(entries, metadata);
  const starts: number[] = [];
  let size = header.byteLength;
  for (const length of byteLengths) {
    starts.push(size);
    size += length;
  }
  let cached: { index: number; data: Uint8Array } | undefined;
  const tensorData = async (index: number): Promise<Uint8Array> => {
    if (cached?.index === index) return cached.data;
    const entry = entries[index]!;
    const data = await getData(entry.name);
    checkTensorData(entry, data, byteLengths[index]!);
    cached = { index, data };
    return data;
  };
  return {
    name,
    size,
    async read(offset: number, length: number): Promise<Uint8Array> {
      checkRead(name, offset, length, size);
      const out = new Uint8Array(length);
      const end = offset + length;
      if (offset < header.byteLength) out.set(header.subarray(offset, Math.min(end, header.byteLength)));
      // First tensor whose data ends after `offset` (binary search: models have thousands).
      let lo = 0;
      let hi = entries.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (starts[mid]! + byteLengths[mid]! <= offset) lo = mid + 1;
        else hi = mid;
      }
      for (let i = lo; i < entries.length && starts[i]! < end; i++) {
        if (byteLengths[i] === 0) continue;
        const data = await tensorData(i);
        const from = Math.max(offset, starts[i]!);
        const to = Math.min(end, starts[i]! + byteLengths[i]!);
        out.set(data.subarray(from - starts[i]!, to - starts[i]!), from - offset);
      }
      return out;
    },
  };
}
