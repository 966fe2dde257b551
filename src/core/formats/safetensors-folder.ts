/**
 * Folders of safetensors (HF / mergekit layout):
 *   model.safetensors                                   one file, or
 *   model-0000k-of-0000N.safetensors + model.safetensors.index.json
 *     index: { "metadata": { "total_size": <sum of tensor bytes> }, "weight_map": { tensor: shardFile } }
 */
import { FormatError } from '../errors.ts';
import type { ByteSink, FileSet } from '../io/byte-source.ts';
import type { RawTensor } from '../tensor.ts';
import { tensorByteLengthBig } from '../quant/dtype-traits.ts';
import {
  openSafetensors,
  safetensorsFileSize,
  writeSafetensors,
  type SafetensorsFile,
  type SafetensorsTensorInfo,
  type TensorEntry,
} from './safetensors.ts';

export const SAFETENSORS_INDEX_FILE = 'model.safetensors.index.json';
export const SAFETENSORS_SINGLE_FILE = 'model.safetensors';

export interface TensorDirectoryInfo extends SafetensorsTensorInfo {
  /** The file inside the folder that holds the tensor. */
  file: string;
}

export interface TensorDirectory {
  /** Tensor names, shard by shard in file order. */
  names(): string[];
  /** undefined when the folder has no such tensor. */
  info(name: string): TensorDirectoryInfo | undefined;
  readTensor(name: string): Promise<RawTensor>;
}

async function readJson(files: FileSet, file: string): Promise<unknown> {
  const src = await files.open(file);
  const text = new TextDecoder().decode(await src.read(0, src.size));
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new FormatError(`safetensors: ${files.name}/${file}: not valid JSON (${(error as Error).message})`);
  }
}

async function parseWeightMap(files: FileSet, available: Set<string>): Promise<Map<string, string>> {
  const where = `safetensors: ${files.name}/${SAFETENSORS_INDEX_FILE}`;
  const index = await readJson(files, SAFETENSORS_INDEX_FILE);
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new FormatError(`${where}: weight_map is missing or not an object`);
  }
  const map = new Map<string, string>();
  for (const [tensor, file] of Object.entries(weightMap)) {
    if (typeof file !== 'string') throw new FormatError(`${where}: weight_map['${tensor}'] is not a file name`);
    if (!available.has(file))
      throw new FormatError(`${where}: weight_map['${tensor}'] names shard '${file}', which is not in the folder`);
    map.set(tensor, file);
  }
  return map;
}

function buildDirectory(shards: Map<string, SafetensorsFile>, wanted?: Map<string, string>): TensorDirectory {
  const infos = new Map<string, TensorDirectoryInfo>();
  for (const [file, shard] of shards) {
    for (const t of shard.tensors) {
      if (wanted && wanted.get(t.name) !== file) continue;
      infos.set(t.name, { ...t, file });
    }
  }
  return {
    names: () => [...infos.keys()],
    info: (name) => infos.get(name),
    async readTensor(name) {
      const info = infos.get(name);
      if (!info) throw new FormatError(`safetensors: no tensor '${name}' in the folder`);
      return shards.get(info.file)!.readTensor(name);
    },
  };
}

/** Opens `model.safetensors`, or the shards listed by `model.safetensors.index.json`. */
export async function openSafetensorsFolder(files: FileSet): Promise<TensorDirectory> {
  const listed = await files.list();
  const available = new Set(listed);
  const shards = new Map<string, SafetensorsFile>();
  if (available.has(SAFETENSORS_INDEX_FILE)) {
    const weightMap = await parseWeightMap(files, available);
    for (const file of [...new Set(weightMap.values())].sort())
      shards.set(file, await openSafetensors(await files.open(file)));
    for (const [tensor, file] of weightMap) {
      if (!shards.get(file)!.tensors.some((t) => t.name === tensor)) {
        throw new FormatError(
          `safetensors: ${files.name}/${SAFETENSORS_INDEX_FILE}: weight_map['${tensor}'] points to '${file}', which has no such tensor`,
        );
      }
    }
    return buildDirectory(shards, weightMap);
  }
  const singles = available.has(SAFETENSORS_SINGLE_FILE)
    ? [SAFETENSORS_SINGLE_FILE]
    : listed.filter((f) => f.endsWith('.safetensors'));
  if (singles.length !== 1) {
    throw new FormatError(
      `safetensors: ${files.name}: expected ${SAFETENSORS_SINGLE_FILE} or ${SAFETENSORS_INDEX_FILE}, found ${singles.length ? singles.join(', ') : 'no .safetensors file'}`,
    );
  }
  shards.set(singles[0]!, await openSafetensors(await files.open(singles[0]!)));
  return buildDirectory(shards);
}

/** Splits entries greedily into shards of at most maxShardBytes (a bigger tensor gets a shard of its own), as HF does. */
export function planShards(entries: TensorEntry[], maxShardBytes: number): TensorEntry[][] {
  const shards: TensorEntry[][] = [];
  let current: TensorEntry[] = [];
  let currentBytes = 0;
  for (const entry of entries) {
    const bytes = Number(tensorByteLengthBig(entry.dtype, entry.shape, `safetensors: tensor '${entry.name}'`));
    if (current.length > 0 && currentBytes + bytes > maxShardBytes) {
      shards.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(entry);
    currentBytes += bytes;
  }
  if (current.length > 0 || shards.length === 0) shards.push(current);
  return shards;
}

export function shardFileName(k: number, n: number): string {
  return `model-${String(k).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`;
}

/**
 * Opens the sink of one file of a folder being written; `size` is the file's exact length, known
 * before its first byte (a store that chunks it checks the bytes against it).
 */
export type SinkOpener = (fileName: string, size: number) => Promise<ByteSink>;

/**
 * Writes model.safetensors when everything fits in one shard, else
 * model-0000k-of-0000N.safetensors files plus model.safetensors.index.json (written last).
 */
export async function writeSafetensorsSharded(
  openSink: SinkOpener,
  entries: TensorEntry[],
  getData: (name: string) => Promise<Uint8Array>,
  options: { maxShardBytes: number; metadata?: Record<string, string> },
): Promise<{ files: string[]; index?: object }> {
  const shards = planShards(entries, options.maxShardBytes);
  if (shards.length === 1) {
    const size = safetensorsFileSize(entries, options.metadata);
    await writeSafetensors(await openSink(SAFETENSORS_SINGLE_FILE, size), entries, getData, options.metadata);
    return { files: [SAFETENSORS_SINGLE_FILE] };
  }
  const files: string[] = [];
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  for (let k = 0; k < shards.length; k++) {
    const file = shardFileName(k + 1, shards.length);
    for (const entry of shards[k]!) {
      weightMap[entry.name] = file;
      totalSize += Number(tensorByteLengthBig(entry.dtype, entry.shape));
    }
    const size = safetensorsFileSize(shards[k]!, options.metadata);
    await writeSafetensors(await openSink(file, size), shards[k]!, getData, options.metadata);
    files.push(file);
  }
  const sortedMap = Object.fromEntries(
    Object.keys(weightMap)
      .sort()
      .map((name) => [name, weightMap[name]!]),
  );
  const index = { metadata: { total_size: totalSize }, weight_map: sortedMap };
  const indexBytes = new TextEncoder().encode(`${JSON.stringify(index, null, 2)}\n`);
  const sink = await openSink(SAFETENSORS_INDEX_FILE, indexBytes.byteLength);
  await sink.write(indexBytes);
  await sink.close();
  files.push(SAFETENSORS_INDEX_FILE);
  return { files, index };
}
