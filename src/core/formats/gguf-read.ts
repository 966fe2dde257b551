/**
 * GGUF reader (layout: see gguf.ts). The header is parsed synchronously from a buffer that
 * grows on demand (never past the file size or GGUF_LIMITS.maxHeaderBytes); every count and
 * length is checked against the bytes that remain and a named cap before anything is
 * allocated. Errors are FormatErrors naming the file and the field.
 */
import { FormatError } from '../errors.ts';
import type { ByteSource } from '../io/byte-source.ts';
import { tensorByteLengthBig } from '../quant/dtype-traits.ts';
import {
  GGUF_ALIGNMENT_KEY,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_LIMITS,
  GGUF_MAGIC,
  GGUF_VALUE_TYPES,
  dtypeFromGgmlType,
  ggmlTypeLabel,
  ggufValueTypeFromId,
  type GgufMetadataValue,
  type GgufScalarType,
  type GgufFile,
  type GgufTensorInfo,
} from './gguf-types.ts';

/** Thrown inside the parser when the buffer (not the file) ends; the caller re-reads more. */
class NeedMoreBytes {
  constructor(readonly needed: number) {}
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export class GgufCursor {
  pos = 0;
  private readonly view: DataView;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly fileSize: number,
    readonly file: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  fail(message: string): never {
    throw new FormatError(`gguf: ${this.file}: ${message}`);
  }
  remaining(): number {
    return this.fileSize - this.pos;
  }
  /** Claims n bytes for `field`; returns their start. */
  take(n: number, field: string): number {
    if (this.pos + n > this.fileSize)
      this.fail(`truncated: ${field} needs ${n} bytes at offset ${this.pos}, but the file is ${this.fileSize} bytes`);
    if (this.pos + n > this.bytes.byteLength) throw new NeedMoreBytes(this.pos + n);
    const at = this.pos;
    this.pos += n;
    return at;
  }
  u32(field: string): number {
    return this.view.getUint32(this.take(4, field), true);
  }
  u64(field: string): bigint {
    return this.view.getBigUint64(this.take(8, field), true);
  }
  /** A u64 count checked against a named cap and against the bytes left (each item ≥ minItemBytes). */
  count(field: string, cap: number, minItemBytes: number): number {
    const n = this.u64(field);
    if (n > BigInt(cap)) this.fail(`${field} ${n} exceeds the cap of ${cap}`);
    if (n * BigInt(minItemBytes) > BigInt(this.remaining()))
      this.fail(`${field} ${n} cannot fit in the ${this.remaining()} bytes left in the file`);
    return Number(n);
  }
  string(field: string): string {
    const length = this.u64(`${field} length`);
    if (length > BigInt(this.remaining()))
      this.fail(`${field} length ${length} runs past the end of the file (${this.remaining()} bytes left)`);
    if (length > BigInt(GGUF_LIMITS.maxStringBytes))
      this.fail(`${field} length ${length} exceeds the cap of ${GGUF_LIMITS.maxStringBytes} bytes`);
    const at = this.take(Number(length), field);
    try {
      return utf8.decode(this.bytes.subarray(at, at + Number(length)));
    } catch {
      return this.fail(`${field} is not valid UTF-8`);
    }
  }
  scalar(type: GgufScalarType, field: string): number | bigint | boolean | string {
    const at = type === 'string' ? -1 : this.take(GGUF_VALUE_TYPES[type].byteSize, field);
    const v = this.view;
    switch (type) {
      case 'u8':
        return v.getUint8(at);
      case 'i8':
        return v.getInt8(at);
      case 'u16':
        return v.getUint16(at, true);
      case 'i16':
        return v.getInt16(at, true);
      case 'u32':
        return v.getUint32(at, true);
      case 'i32':
        return v.getInt32(at, true);
      case 'f32':
        return v.getFloat32(at, true);
      case 'u64':
        return v.getBigUint64(at, true);
      case 'i64':
        return v.getBigInt64(at, true);
      case 'f64':
        return v.getFloat64(at, true);
      case 'bool': {
        const b = v.getUint8(at);
        if (b > 1) this.fail(`${field} bool byte is ${b}, not 0 or 1`);
        return b === 1;
      }
      case 'string':
        return this.string(field);
      default: {
        const never: never = type;
        return this.fail(`${field}: unknown type ${String(never)}`);
      }
    }
  }
}

function readValue(cursor: GgufCursor, key: string): GgufMetadataValue {
  const field = `metadata '${key}'`;
  const typeId = cursor.u32(`${field} value type`);
  const type = ggufValueTypeFromId(typeId);
  if (type === undefined) cursor.fail(`${field} has unknown value type ${typeId}`);
  if (type !== 'array') return { type, value: cursor.scalar(type, field) } as GgufMetadataValue;
  const itemId = cursor.u32(`${field} array item type`);
  const itemType = ggufValueTypeFromId(itemId);
  if (itemType === undefined) cursor.fail(`${field} array has unknown item type ${itemId}`);
  if (itemType === 'array') cursor.fail(`${field} is an array of arrays, which ggml does not support`);
  const length = cursor.count(`${field} array length`, GGUF_LIMITS.maxArrayLength, GGUF_VALUE_TYPES[itemType].byteSize);
  const items = new Array(length);
  for (let i = 0; i < length; i++) items[i] = cursor.scalar(itemType, `${field}[${i}]`);
  return { type: 'array', itemType, value: items } as GgufMetadataValue;
}

function readAlignment(file: string, metadata: Map<string, GgufMetadataValue>): number {
  const entry = metadata.get(GGUF_ALIGNMENT_KEY);
  if (!entry) return GGUF_DEFAULT_ALIGNMENT;
  if (entry.type !== 'u32')
    throw new FormatError(`gguf: ${file}: ${GGUF_ALIGNMENT_KEY} has type ${entry.type}, expected u32`);
  const alignment = entry.value;
  if (alignment === 0 || (alignment & (alignment - 1)) !== 0 || alignment > GGUF_LIMITS.maxAlignment) {
    throw new FormatError(
      `gguf: ${file}: ${GGUF_ALIGNMENT_KEY} ${alignment} is not a power of two in [1, ${GGUF_LIMITS.maxAlignment}]`,
    );
  }
  return alignment;
}

interface RawTensorInfo {
  name: string;
  ne: number[];
  typeId: number;
  offset: bigint;
}

function readTensorInfo(cursor: GgufCursor, index: number): RawTensorInfo {
  const name = cursor.string(`tensor #${index} name`);
  const field = `tensor '${name}'`;
  const nDims = cursor.u32(`${field} n_dims`);
  if (nDims < 1 || nDims > GGUF_LIMITS.maxDims)
    cursor.fail(`${field} n_dims ${nDims} is outside [1, ${GGUF_LIMITS.maxDims}]`);
  const ne: number[] = [];
  for (let d = 0; d < nDims; d++) {
    const dim = cursor.u64(`${field} ne[${d}]`);
    if (dim > BigInt(Number.MAX_SAFE_INTEGER)) cursor.fail(`${field} ne[${d}] ${dim} is too large`);
    ne.push(Number(dim));
  }
  const typeId = cursor.u32(`${field} type`);
  const offset = cursor.u64(`${field} offset`);
  return { name, ne, typeId, offset };
}

interface ParsedHeader {
  version: number;
  metadata: Map<string, GgufMetadataValue>;
  infos: RawTensorInfo[];
  headerEnd: number;
}

function parsePreamble(cursor: GgufCursor): { version: number; tensorCount: number; kvCount: number } {
  const magic = cursor.u32('magic');
  if (magic !== GGUF_MAGIC) cursor.fail(`bad magic 0x${magic.toString(16).padStart(8, '0')} (expected "GGUF")`);
  const version = cursor.u32('version');
  if (version === 0x03000000 || version === 0x02000000)
    cursor.fail(`version field reads ${version}: a big-endian GGUF, which is not supported`);
  if (version !== 2 && version !== 3) cursor.fail(`unsupported version ${version} (supported: 2, 3)`);
  const tensorCount = cursor.count('tensor_count', GGUF_LIMITS.maxTensorCount, 24);
  const kvCount = cursor.count('metadata_kv_count', GGUF_LIMITS.maxKvCount, 13);
  return { version, tensorCount, kvCount };
}

function parseHeader(cursor: GgufCursor): ParsedHeader {
  const { version, tensorCount, kvCount } = parsePreamble(cursor);
  const metadata = new Map<string, GgufMetadataValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = cursor.string(`metadata key #${i}`);
    if (metadata.has(key)) cursor.fail(`duplicate metadata key '${key}'`);
    metadata.set(key, readValue(cursor, key));
  }
  const infos: RawTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const info = readTensorInfo(cursor, i);
    if (names.has(info.name)) cursor.fail(`duplicate tensor name '${info.name}'`);
    names.add(info.name);
    infos.push(info);
  }
  return { version, metadata, infos, headerEnd: cursor.pos };
}

async function readHeader(src: ByteSource): Promise<ParsedHeader> {
  let length = Math.min(src.size, 1 << 20);
  for (;;) {
    const cursor = new GgufCursor(await src.read(0, length), src.size, src.name);
    try {
      return parseHeader(cursor);
    } catch (error) {
      if (!(error instanceof NeedMoreBytes)) throw error;
      if (error.needed > GGUF_LIMITS.maxHeaderBytes) {
        throw new FormatError(
          `gguf: ${src.name}: header is larger than the cap of ${GGUF_LIMITS.maxHeaderBytes} bytes`,
        );
      }
      length = Math.min(src.size, Math.max(error.needed, length * 2));
    }
  }
}

function layoutTensors(src: ByteSource, header: ParsedHeader, alignment: number, dataStart: number): GgufTensorInfo[] {
  const fail = (message: string): never => {
    throw new FormatError(`gguf: ${src.name}: ${message}`);
  };
  let expected = 0n;
  return header.infos.map(({ name, ne, typeId, offset }) => {
    const dtype = dtypeFromGgmlType(typeId);
    if (!dtype)
      fail(
        `tensor '${name}' has unsupported type ${ggmlTypeLabel(typeId)} (supported: F32, F16, BF16, Q8_0, Q4_0, I8, I32, I64)`,
      );
    const shape = [...ne].reverse();
    const byteLength = tensorByteLengthBig(dtype!, shape, `gguf: ${src.name}: tensor '${name}'`);
    if (offset % BigInt(alignment) !== 0n) fail(`tensor '${name}' offset ${offset} is not aligned to ${alignment}`);
    if (offset < expected)
      fail(`tensor '${name}' offset ${offset} overlaps the previous tensor (which ends at ${expected})`);
    if (offset > expected) fail(`tensor '${name}' offset ${offset} leaves a gap: ggml expects ${expected}`);
    if (BigInt(dataStart) + offset + byteLength > BigInt(src.size)) {
      fail(
        `tensor '${name}' data [${offset}, ${offset + byteLength}) ends past the end of the file (data section is ${src.size - dataStart} bytes)`,
      );
    }
    expected = offset + ((byteLength + BigInt(alignment) - 1n) / BigInt(alignment)) * BigInt(alignment);
    return {
      name,
      dtype: dtype!,
      shape,
      offset: Number(offset),
      dataOffset: dataStart + Number(offset),
      byteLength: Number(byteLength),
    };
  });
}

/** Parses and validates the header; tensor data is read lazily by readTensor. */
export async function readGguf(src: ByteSource): Promise<GgufFile> {
  const header = await readHeader(src);
  const alignment = readAlignment(src.name, header.metadata);
  const dataStart = Math.ceil(header.headerEnd / alignment) * alignment;
  if (header.infos.length > 0 && dataStart > src.size) {
    throw new FormatError(
      `gguf: ${src.name}: data section starts at ${dataStart}, past the end of the file (${src.size} bytes)`,
    );
  }
  const tensors = layoutTensors(src, header, alignment, dataStart);
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const tensorInfo = (name: string) => {
    const info = byName.get(name);
    if (!info) throw new FormatError(`gguf: ${src.name}: no tensor '${name}'`);
    return info;
  };
  return {
    name: src.name,
    version: header.version,
    metadata: header.metadata,
    tensors,
    alignment,
    dataStart,
    async readTensor(name) {
      const info = tensorInfo(name);
      return {
        name,
        dtype: info.dtype,
        shape: [...info.shape],
        data: await src.read(info.dataOffset, info.byteLength),
      };
    },
    readTensorSlice(name, from, length) {
      const info = tensorInfo(name);
      if (
        !Number.isSafeInteger(from) ||
        !Number.isSafeInteger(length) ||
        from < 0 ||
        length < 0 ||
        from + length > info.byteLength
      )
        throw new RangeError(
          `gguf: ${src.name}: slice [${from}, ${from + length}) is outside tensor '${name}' (${info.byteLength} bytes)`,
        );
      return src.read(info.dataOffset + from, length);
    },
  };
}
