/**
 * safetensors header parsing and validation (layout: see safetensors.ts). Nothing is
 * allocated from a claimed size before that size is checked against the file size and a
 * named cap; every error names the file and the field.
 */
import { FormatError } from '../errors.ts';
import type { ByteSource } from '../io/byte-source.ts';
import type { DType } from '../tensor.ts';
import { tensorByteLengthBig } from '../quant/dtype-traits.ts';

export interface SafetensorsTensorInfo {
  name: string;
  dtype: DType;
  /** PyTorch order. */
  shape: number[];
  /** Absolute byte offset of the data in the file. */
  dataOffset: number;
  byteLength: number;
}

export const SAFETENSORS_LIMITS = {
  /** Same cap as the reference Rust reader (MAX_HEADER_SIZE): a header beyond it is an attack, not a model. */
  maxHeaderBytes: 100_000_000,
  /** No model tensor has more dims; bounds the per-dim work on hostile input. */
  maxDims: 16,
} as const;

/** safetensors dtype string → DType (the inverse of SAFETENSORS_DTYPE_NAMES). */
const DTYPE_BY_NAME: Record<string, DType> = {
  F32: 'f32',
  F16: 'f16',
  BF16: 'bf16',
  I8: 'i8',
  U8: 'u8',
  I32: 'i32',
  I64: 'i64',
};

export interface SafetensorsHeader {
  tensors: SafetensorsTensorInfo[];
  metadata: Record<string, string>;
  /** Absolute offset of the data section (8 + header length). */
  dataStart: number;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

async function readHeaderJson(src: ByteSource): Promise<{ json: unknown; dataStart: number }> {
  const file = src.name;
  if (src.size < 8)
    throw new FormatError(`safetensors: ${file}: file is ${src.size} bytes, too short for the 8-byte header length`);
  const headerLength = new DataView((await src.read(0, 8)).slice().buffer).getBigUint64(0, true);
  if (headerLength > BigInt(SAFETENSORS_LIMITS.maxHeaderBytes)) {
    throw new FormatError(
      `safetensors: ${file}: header length ${headerLength} exceeds the cap of ${SAFETENSORS_LIMITS.maxHeaderBytes} bytes`,
    );
  }
  if (8n + headerLength > BigInt(src.size)) {
    throw new FormatError(
      `safetensors: ${file}: header length ${headerLength} runs past the end of the file (${src.size} bytes)`,
    );
  }
  const bytes = await src.read(8, Number(headerLength));
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new FormatError(`safetensors: ${file}: header is not valid UTF-8`);
  }
  try {
    return { json: JSON.parse(text), dataStart: 8 + Number(headerLength) };
  } catch (error) {
    throw new FormatError(`safetensors: ${file}: header is not valid JSON (${(error as Error).message})`);
  }
}

function parseMetadata(file: string, value: unknown): Record<string, string> {
  if (!isPlainObject(value)) throw new FormatError(`safetensors: ${file}: __metadata__ is not an object`);
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new FormatError(`safetensors: ${file}: __metadata__ '${key}' is not a string`);
  }
  return value as Record<string, string>;
}

function parseShape(where: string, value: unknown): number[] {
  if (!Array.isArray(value)) throw new FormatError(`${where}: shape is not an array`);
  if (value.length > SAFETENSORS_LIMITS.maxDims) {
    throw new FormatError(
      `${where}: shape has ${value.length} dims, more than the cap of ${SAFETENSORS_LIMITS.maxDims}`,
    );
  }
  for (const dim of value) {
    if (typeof dim !== 'number' || !Number.isSafeInteger(dim) || dim < 0) {
      throw new FormatError(`${where}: shape dimension ${JSON.stringify(dim)} is not a non-negative integer`);
    }
  }
  return value as number[];
}

function parseTensorEntry(file: string, name: string, value: unknown, dataStart: number): SafetensorsTensorInfo {
  const where = `safetensors: ${file}: tensor '${name}'`;
  if (!isPlainObject(value)) throw new FormatError(`${where}: entry is not an object`);
  const dtypeName = value.dtype;
  const dtype =
    typeof dtypeName === 'string' && Object.hasOwn(DTYPE_BY_NAME, dtypeName) ? DTYPE_BY_NAME[dtypeName] : undefined;
  if (!dtype)
    throw new FormatError(
      `${where}: unknown dtype ${JSON.stringify(dtypeName)} (supported: ${Object.keys(DTYPE_BY_NAME).join(', ')})`,
    );
  const shape = parseShape(where, value.shape);
  const offsets = value.data_offsets;
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)
  ) {
    throw new FormatError(`${where}: data_offsets ${JSON.stringify(offsets)} is not a pair of non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw new FormatError(`${where}: data_offsets end ${end} is before begin ${begin}`);
  const expected = tensorByteLengthBig(dtype, shape, where);
  if (BigInt(end - begin) !== expected) {
    throw new FormatError(
      `${where}: data_offsets span ${end - begin} bytes, but ${dtypeName} [${shape.join(', ')}] needs ${expected}`,
    );
  }
  return { name, dtype, shape, dataOffset: dataStart + begin, byteLength: end - begin };
}

/** Checks that tensors tile the data section exactly: no overlap, no gap, nothing past EOF. */
function checkDataLayout(file: string, tensors: SafetensorsTensorInfo[], dataStart: number, size: number): void {
  let expectedOffset = dataStart;
  for (const t of tensors) {
    const begin = t.dataOffset - dataStart;
    if (t.dataOffset + t.byteLength > size) {
      throw new FormatError(
        `safetensors: ${file}: tensor '${t.name}' data_offsets [${begin}, ${begin + t.byteLength}] end past the end of the file (data section is ${size - dataStart} bytes)`,
      );
    }
    if (t.dataOffset < expectedOffset) {
      throw new FormatError(
        `safetensors: ${file}: tensor '${t.name}' data_offsets begin ${begin} overlaps the previous tensor (which ends at ${expectedOffset - dataStart})`,
      );
    }
    if (t.dataOffset > expectedOffset) {
      throw new FormatError(
        `safetensors: ${file}: tensor '${t.name}' data_offsets begin ${begin} leaves a gap after offset ${expectedOffset - dataStart}`,
      );
    }
    expectedOffset += t.byteLength;
  }
  if (expectedOffset !== size) {
    throw new FormatError(
      `safetensors: ${file}: ${size - expectedOffset} trailing bytes after the last tensor (data section is ${size - dataStart} bytes)`,
    );
  }
}

export async function parseSafetensorsHeader(src: ByteSource): Promise<SafetensorsHeader> {
  const file = src.name;
  const { json, dataStart } = await readHeaderJson(src);
  if (!isPlainObject(json)) throw new FormatError(`safetensors: ${file}: header is not a JSON object`);
  let metadata: Record<string, string> = {};
  const tensors: SafetensorsTensorInfo[] = [];
  for (const [name, value] of Object.entries(json)) {
    if (name === '__metadata__') metadata = parseMetadata(file, value);
    else tensors.push(parseTensorEntry(file, name, value, dataStart));
  }
  tensors.sort((a, b) => a.dataOffset - b.dataOffset || a.byteLength - b.byteLength);
  checkDataLayout(file, tensors, dataStart, src.size);
  return { tensors, metadata, dataStart };
}
