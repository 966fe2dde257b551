/**
 * GGUF writer (layout: see gguf.ts). One serialiser, `serializeHeader`, runs twice: first
 * into a counter to measure the header, then into the exact-size buffer it writes. Tensors
 * follow one at a time (a `getData` tensor is fetched only when its turn comes), each
 * zero-padded to the alignment, exactly as ggml's gguf_write and gguf-py lay them out.
 */
import { FormatError } from '../errors.ts';
import type { ByteSink } from '../io/byte-source.ts';
import { tensorByteLengthBig } from '../quant/dtype-traits.ts';
import {
  GGML_TYPE_IDS,
  GGML_TYPE_OF_DTYPE,
  GGUF_ALIGNMENT_KEY,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_LIMITS,
  GGUF_MAGIC,
  GGUF_VALUE_TYPES,
  GGUF_VERSION,
  type GgufMetadataValue,
  type GgufScalarType,
  type GgufWriteInput,
  type GgufWriteTensor,
} from './gguf-types.ts';

const encoder = new TextEncoder();

/** Where the serialiser puts bytes: a counter (measure) or a buffer (write). */
interface HeaderOut {
  pos: number;
  put(byteLength: number, fill: (view: DataView, at: number) => void): void;
}

class MeasureOut implements HeaderOut {
  pos = 0;
  put(byteLength: number): void {
    this.pos += byteLength;
  }
}

class BufferOut implements HeaderOut {
  pos = 0;
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }
  put(byteLength: number, fill: (view: DataView, at: number) => void): void {
    fill(this.view, this.pos);
    this.pos += byteLength;
  }
}

function putU32(out: HeaderOut, v: number): void {
  out.put(4, (d, at) => d.setUint32(at, v, true));
}
function putU64(out: HeaderOut, v: bigint | number): void {
  out.put(8, (d, at) => d.setBigUint64(at, BigInt(v), true));
}
function putString(out: HeaderOut, s: string): void {
  const bytes = encoder.encode(s);
  putU64(out, bytes.byteLength);
  out.put(bytes.byteLength, (d, at) => new Uint8Array(d.buffer, at, bytes.byteLength).set(bytes));
}

function putScalar(out: HeaderOut, type: GgufScalarType, v: unknown): void {
  const size = GGUF_VALUE_TYPES[type].byteSize;
  switch (type) {
    case 'u8':
      out.put(size, (d, at) => d.setUint8(at, v as number));
      break;
    case 'i8':
      out.put(size, (d, at) => d.setInt8(at, v as number));
      break;
    case 'u16':
      out.put(size, (d, at) => d.setUint16(at, v as number, true));
      break;
    case 'i16':
      out.put(size, (d, at) => d.setInt16(at, v as number, true));
      break;
    case 'u32':
      out.put(size, (d, at) => d.setUint32(at, v as number, true));
      break;
    case 'i32':
      out.put(size, (d, at) => d.setInt32(at, v as number, true));
      break;
    case 'f32':
      out.put(size, (d, at) => d.setFloat32(at, v as number, true));
      break;
    case 'u64':
      out.put(size, (d, at) => d.setBigUint64(at, v as bigint, true));
      break;
    case 'i64':
      out.put(size, (d, at) => d.setBigInt64(at, v as bigint, true));
      break;
    case 'f64':
      out.put(size, (d, at) => d.setFloat64(at, v as number, true));
      break;
    case 'bool':
      out.put(size, (d, at) => d.setUint8(at, v ? 1 : 0));
      break;
    case 'string':
      putString(out, v as string);
      break;
    default: {
      const never: never = type;
      throw new FormatError(`gguf: unknown value type ${String(never)}`);
    }
  }
}

function putValue(out: HeaderOut, value: GgufMetadataValue): void {
  putU32(out, GGUF_VALUE_TYPES[value.type].id);
  if (value.type !== 'array') {
    putScalar(out, value.type, value.value);
    return;
  }
  putU32(out, GGUF_VALUE_TYPES[value.itemType].id);
  putU64(out, value.value.length);
  for (const item of value.value) putScalar(out, value.itemType, item);
}

/** Integer ranges per wire type; a value outside would be silently wrapped by DataView. */
const INTEGER_RANGES: Partial<Record<GgufScalarType, [bigint, bigint]>> = {
  u8: [0n, 255n],
  i8: [-128n, 127n],
  u16: [0n, 65535n],
  i16: [-32768n, 32767n],
  u32: [0n, 4294967295n],
  i32: [-2147483648n, 2147483647n],
  u64: [0n, 2n ** 64n - 1n],
  i64: [-(2n ** 63n), 2n ** 63n - 1n],
};

function checkScalar(key: string, type: GgufScalarType, v: unknown): void {
  const range = INTEGER_RANGES[type];
  const expected =
    type === 'string' ? 'string' : type === 'bool' ? 'boolean' : type === 'u64' || type === 'i64' ? 'bigint' : 'number';
  if (typeof v !== expected)
    throw new FormatError(`gguf: metadata '${key}' value ${String(v)} is not a ${expected} (type ${type})`);
  if (
    range &&
    (typeof v === 'bigint' || Number.isInteger(v)) &&
    (BigInt(v as number | bigint) < range[0] || BigInt(v as number | bigint) > range[1])
  ) {
    throw new FormatError(
      `gguf: metadata '${key}' value ${String(v)} is outside the ${type} range [${range[0]}, ${range[1]}]`,
    );
  }
  if (range && typeof v === 'number' && !Number.isInteger(v))
    throw new FormatError(`gguf: metadata '${key}' value ${v} is not an integer (type ${type})`);
}

/** Rejects values the wire type cannot hold, naming the key (before anything is written). */
function checkMetadata(metadata: [string, GgufMetadataValue][]): void {
  for (const [key, value] of metadata) {
    if (value.type !== 'array') {
      checkScalar(key, value.type, value.value);
      continue;
    }
    if (value.value.length > GGUF_LIMITS.maxArrayLength)
      throw new FormatError(
        `gguf: metadata '${key}' has ${value.value.length} items, more than the cap of ${GGUF_LIMITS.maxArrayLength}`,
      );
    value.value.forEach((item: unknown, i: number) => checkScalar(`${key}[${i}]`, value.itemType, item));
  }
}

interface PlannedTensor {
  tensor: GgufWriteTensor;
  ggmlType: number;
  byteLength: number;
  offset: number;
}

function serializeHeader(
  out: HeaderOut,
  version: number,
  metadata: [string, GgufMetadataValue][],
  planned: PlannedTensor[],
): void {
  putU32(out, GGUF_MAGIC);
  putU32(out, version);
  putU64(out, planned.length);
  putU64(out, metadata.length);
  for (const [key, value] of metadata) {
    putString(out, key);
    putValue(out, value);
  }
  for (const { tensor, ggmlType, offset } of planned) {
    putString(out, tensor.name);
    putU32(out, tensor.shape.length);
    for (let d = tensor.shape.length - 1; d >= 0; d--) putU64(out, tensor.shape[d]!); // ne[0] = last PyTorch dim
    putU32(out, ggmlType);
    putU64(out, offset);
  }
}

function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

function alignmentOf(metadata: [string, GgufMetadataValue][]): number {
  const entry = metadata.find(([key]) => key === GGUF_ALIGNMENT_KEY)?.[1];
  if (!entry) return GGUF_DEFAULT_ALIGNMENT;
  const a = entry.type === 'u32' ? entry.value : 0;
  if (a === 0 || (a & (a - 1)) !== 0 || a > GGUF_LIMITS.maxAlignment)
    throw new FormatError(
      `gguf: ${GGUF_ALIGNMENT_KEY} must be a u32 power of two, got ${entry.type} ${String(entry.value)}`,
    );
  return a;
}

function planTensors(tensors: GgufWriteTensor[], alignment: number): PlannedTensor[] {
  const seen = new Set<string>();
  let offset = 0;
  return tensors.map((tensor) => {
    const where = `gguf: tensor '${tensor.name}'`;
    if (seen.has(tensor.name)) throw new FormatError(`${where} is written twice`);
    seen.add(tensor.name);
    const typeName = GGML_TYPE_OF_DTYPE[tensor.dtype];
    if (typeName === null) throw new FormatError(`${where} has dtype ${tensor.dtype}, which ggml cannot store`);
    if (tensor.shape.length < 1 || tensor.shape.length > GGUF_LIMITS.maxDims)
      throw new FormatError(`${where} has ${tensor.shape.length} dims; GGUF takes 1..${GGUF_LIMITS.maxDims}`);
    const byteLength = Number(tensorByteLengthBig(tensor.dtype, tensor.shape, where));
    const planned = { tensor, ggmlType: GGML_TYPE_IDS[typeName], byteLength, offset };
    offset += alignUp(byteLength, alignment);
    return planned;
  });
}

/**
 * Header bytes (padded to the alignment) and the tensor layout; `fileBytes` is the size of the
 * whole file writeGguf will write (header + each tensor padded), known before any tensor data
 * exists, so a sink that needs the size up front (the model store) can be opened first.
 */
export function encodeGgufHeader(input: GgufWriteInput): {
  header: Uint8Array;
  alignment: number;
  byteLengths: number[];
  fileBytes: number;
} {
  const metadata = input.metadata instanceof Map ? [...input.metadata] : Object.entries(input.metadata);
  checkMetadata(metadata);
  const alignment = alignmentOf(metadata);
  const planned = planTensors(input.tensors, alignment);
  const version = input.version ?? GGUF_VERSION;
  const measure = new MeasureOut();
  serializeHeader(measure, version, metadata, planned);
  const out = new BufferOut(alignUp(measure.pos, alignment));
  serializeHeader(out, version, metadata, planned);
  const last = planned[planned.length - 1];
  const dataBytes = last ? last.offset + alignUp(last.byteLength, alignment) : 0;
  const fileBytes = out.bytes.byteLength + dataBytes;
  if (!Number.isSafeInteger(fileBytes))
    throw new FormatError(`gguf: file of ${fileBytes} bytes is past the safe-integer range`);
  return { header: out.bytes, alignment, byteLengths: planned.map((p) => p.byteLength), fileBytes };
}

/** Streams a GGUF file: header, then each tensor padded to the alignment. Closes the sink. */
export async function writeGguf(sink: ByteSink, input: GgufWriteInput): Promise<void> {
  const { header, alignment, byteLengths } = encodeGgufHeader(input);
  await sink.write(header);
  for (let i = 0; i < input.tensors.length; i++) {
    const tensor = input.tensors[i]!;
    const data = tensor.data ?? (await tensor.getData?.());
    if (!data || data.byteLength !== byteLengths[i]) {
      throw new FormatError(
        `gguf: tensor '${tensor.name}' data is ${data?.byteLength ?? 'missing'} bytes, ${tensor.dtype} [${tensor.shape.join(', ')}] needs ${byteLengths[i]}`,
      );
    }
    await sink.write(data);
    const padding = alignUp(data.byteLength, alignment) - data.byteLength;
    if (padding > 0) await sink.write(new Uint8Array(padding));
  }
  await sink.close();
}
