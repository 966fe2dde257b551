/**
 * Small helpers to build and read typed GGUF metadata values.
 */
import { FormatError } from '../errors.ts';
import type { GgufFile } from './gguf-types.ts';
import type { GgufMetadataValue, GgufNumberType } from './gguf-types.ts';

export const ggufValue = {
  string: (value: string): GgufMetadataValue => ({ type: 'string', value }),
  u32: (value: number): GgufMetadataValue => ({ type: 'u32', value }),
  i32: (value: number): GgufMetadataValue => ({ type: 'i32', value }),
  f32: (value: number): GgufMetadataValue => ({ type: 'f32', value }),
  bool: (value: boolean): GgufMetadataValue => ({ type: 'bool', value }),
  strings: (value: string[]): GgufMetadataValue => ({ type: 'array', itemType: 'string', value }),
  numbers: (itemType: GgufNumberType, value: number[]): GgufMetadataValue => ({ type: 'array', itemType, value }),
};

type MetaSource = Pick<GgufFile, 'name' | 'metadata'>;

function missing(file: MetaSource, key: string, expected: string): never {
  throw new FormatError(`gguf: ${file.name}: required key '${key}' (${expected}) is missing`);
}

export function metaString(file: MetaSource, key: string): string | undefined {
  const v = file.metadata.get(key);
  if (v === undefined) return undefined;
  if (v.type !== 'string')
    throw new FormatError(`gguf: ${file.name}: key '${key}' has type ${v.type}, expected string`);
  return v.value;
}

/** Any scalar integer or float type, as a number. */
export function metaNumber(file: MetaSource, key: string): number | undefined {
  const v = file.metadata.get(key);
  if (v === undefined) return undefined;
  if (v.type === 'string' || v.type === 'array')
    throw new FormatError(`gguf: ${file.name}: key '${key}' has type ${v.type}, expected a number`);
  return Number(v.value);
}

export function requireString(file: MetaSource, key: string): string {
  return metaString(file, key) ?? missing(file, key, 'string');
}

export function requireNumber(file: MetaSource, key: string): number {
  return metaNumber(file, key) ?? missing(file, key, 'number');
}

export function metaArray(file: MetaSource, key: string): unknown[] | undefined {
  const v = file.metadata.get(key);
  if (v === undefined) return undefined;
  if (v.type !== 'array')
    throw new FormatError(`gguf: ${file.name}: key '${key}' has type ${v.type}, expected an array`);
  return v.value;
}

/** An array whose items are all strings (`'string'`) or all numbers (`'number'`); else a FormatError naming the key. */
export function metaArrayOf(file: MetaSource, key: string, item: 'string'): string[] | undefined;
export function metaArrayOf(file: MetaSource, key: string, item: 'number'): number[] | undefined;
export function metaArrayOf(file: MetaSource, key: string, item: 'string' | 'number'): unknown[] | undefined {
  const v = file.metadata.get(key);
  if (v === undefined) return undefined;
  const ok =
    v.type === 'array' &&
    (item === 'string' ? v.itemType === 'string' : v.itemType !== 'string' && v.itemType !== 'bool');
  if (!ok) {
    const got = v.type === 'array' ? `an array of ${v.itemType}` : v.type;
    throw new FormatError(`gguf: ${file.name}: key '${key}' is ${got}, expected an array of ${item}s`);
  }
  return item === 'number' ? (v.value as (number | bigint)[]).map(Number) : v.value;
}
