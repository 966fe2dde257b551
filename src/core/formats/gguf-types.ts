/**
 * GGUF enum tables (STYLE habit 7: no magic numbers such as `ggmlType === 2`). Ids are
 * ggml's (ggml.h `enum ggml_type`, gguf.h `enum gguf_type`); every table is exhaustive over
 * its union and checked with `satisfies`.
 */
import type { DType, RawTensor } from '../tensor.ts';

/** Metadata value types (gguf.h GGUF_TYPE_*). */
export type GgufValueType =
  | 'u8'
  | 'i8'
  | 'u16'
  | 'i16'
  | 'u32'
  | 'i32'
  | 'f32'
  | 'bool'
  | 'string'
  | 'array'
  | 'u64'
  | 'i64'
  | 'f64';

export const GGUF_VALUE_TYPES = {
  u8: { id: 0, byteSize: 1 },
  i8: { id: 1, byteSize: 1 },
  u16: { id: 2, byteSize: 2 },
  i16: { id: 3, byteSize: 2 },
  u32: { id: 4, byteSize: 4 },
  i32: { id: 5, byteSize: 4 },
  f32: { id: 6, byteSize: 4 },
  bool: { id: 7, byteSize: 1 },
  string: { id: 8, byteSize: 8 }, // minimum: the u64 length prefix
  array: { id: 9, byteSize: 12 }, // minimum: u32 item type + u64 count
  u64: { id: 10, byteSize: 8 },
  i64: { id: 11, byteSize: 8 },
  f64: { id: 12, byteSize: 8 },
} as const satisfies Record<GgufValueType, { id: number; byteSize: number }>;

const VALUE_TYPE_BY_ID = new Map<number, GgufValueType>(
  (Object.entries(GGUF_VALUE_TYPES) as [GgufValueType, { id: number }][]).map(([name, row]) => [row.id, name]),
);
export function ggufValueTypeFromId(id: number): GgufValueType | undefined {
  return VALUE_TYPE_BY_ID.get(id);
}

export type GgufScalarType = Exclude<GgufValueType, 'array'>;
export type GgufNumberType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64';
export type GgufBigIntType = 'u64' | 'i64';

/** One metadata value with its wire type, so a file reads and writes back byte-identically. */
export type GgufMetadataValue =
  | { type: GgufNumberType; value: number }
  | { type: GgufBigIntType; value: bigint }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | GgufArrayValue;

export type GgufArrayValue =
  | { type: 'array'; itemType: GgufNumberType; value: number[] }
  | { type: 'array'; itemType: GgufBigIntType; value: bigint[] }
  | { type: 'array'; itemType: 'bool'; value: boolean[] }
  | { type: 'array'; itemType: 'string'; value: string[] };

/**
 * ggml tensor types by name → id (ggml.h). Only those with a DType are readable; the rest
 * are listed so errors can name what a file holds ("Q4_K (12)").
 */
export const GGML_TYPE_IDS = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q8_1: 9,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  Q8_K: 15,
  IQ2_XXS: 16,
  IQ2_XS: 17,
  IQ3_XXS: 18,
  IQ1_S: 19,
  IQ4_NL: 20,
  IQ3_S: 21,
  IQ2_S: 22,
  IQ4_XS: 23,
  I8: 24,
  I16: 25,
  I32: 26,
  I64: 27,
  F64: 28,
  IQ1_M: 29,
  BF16: 30,
  TQ1_0: 34,
  TQ2_0: 35,
  MXFP4: 39,
} as const;
export type GgmlTypeName = keyof typeof GGML_TYPE_IDS;

/** DType → ggml type; null where ggml has no such type (u8). */
export const GGML_TYPE_OF_DTYPE = {
  f32: 'F32',
  f16: 'F16',
  bf16: 'BF16',
  q8_0: 'Q8_0',
  q4_0: 'Q4_0',
  i8: 'I8',
  i32: 'I32',
  i64: 'I64',
  u8: null,
} as const satisfies Record<DType, GgmlTypeName | null>;

const DTYPE_BY_GGML_ID = new Map<number, DType>(
  (Object.entries(GGML_TYPE_OF_DTYPE) as [DType, GgmlTypeName | null][])
    .filter((row): row is [DType, GgmlTypeName] => row[1] !== null)
    .map(([dtype, name]) => [GGML_TYPE_IDS[name], dtype]),
);
const GGML_NAME_BY_ID = new Map<number, string>(Object.entries(GGML_TYPE_IDS).map(([name, id]) => [id, name]));

export function dtypeFromGgmlType(id: number): DType | undefined {
  return DTYPE_BY_GGML_ID.get(id);
}
export function ggmlTypeLabel(id: number): string {
  return `${GGML_NAME_BY_ID.get(id) ?? 'unknown type'} (${id})`;
}

/** Named caps, each with its reason (STYLE habit 4). */
export const GGUF_LIMITS = {
  /** ggml tensors have at most 4 dims (GGML_MAX_DIMS). */
  maxDims: 4,
  /** Real headers (a 256k vocabulary plus merges) are tens of MB; beyond this it is not a model. */
  maxHeaderBytes: 512 * 1024 * 1024,
  /** Longest legitimate strings are chat templates (tens of KB). */
  maxStringBytes: 16 * 1024 * 1024,
  /** Largest legitimate arrays are vocabularies and merges (< 1M entries). */
  maxArrayLength: 16 * 1024 * 1024,
  /** The largest MoE checkpoints have tens of thousands of tensors. */
  maxTensorCount: 1 << 20,
  maxKvCount: 1 << 20,
  /** Alignments beyond 1 MiB only waste space; ggml requires a power of two. */
  maxAlignment: 1 << 20,
} as const;

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;
export const GGUF_ALIGNMENT_KEY = 'general.alignment';

export interface GgufTensorInfo {
  name: string;
  dtype: DType;
  /** PyTorch order (the reverse of ggml's ne). */
  shape: number[];
  /** Offset relative to the data section (tensor_info.offset). */
  offset: number;
  /** Absolute offset in the file. */
  dataOffset: number;
  byteLength: number;
}

export interface GgufFile {
  /** Source name, for messages. */
  name: string;
  version: number;
  /** In file order. */
  metadata: Map<string, GgufMetadataValue>;
  /** In file order. */
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Absolute offset of the data section. */
  dataStart: number;
  readTensor(name: string): Promise<RawTensor>;
  /** Bytes [from, from + length) of one tensor's data (one expert of a stacked tensor), read alone. */
  readTensorSlice(name: string, from: number, length: number): Promise<Uint8Array>;
}

/** A tensor to write: its bytes now (`data`) or on demand (`getData`, streamed one at a time). */
export interface GgufWriteTensor {
  name: string;
  dtype: DType;
  /** PyTorch order; 1..4 dims. */
  shape: number[];
  data?: Uint8Array;
  getData?: () => Promise<Uint8Array>;
}

export interface GgufWriteInput {
  metadata: Map<string, GgufMetadataValue> | Record<string, GgufMetadataValue>;
  tensors: GgufWriteTensor[];
  /** Default 3. */
  version?: number;
}
