/**
 * Where a merge goes. The executor streams tensors into a writer one at a time, then the
 * small files; `finish()` commits. Two writers:
 *   folderWriter  HF folder: model.safetensors or model-0000k-of-0000N shards + index
 *                 (writeSafetensorsSharded), then config.json, tokenizer files and
 *                 mergekit_moe_config.yml, written after the tensors so an interrupted
 *                 merge leaves no loadable config.json behind.
 *   memoryWriter  keeps every tensor and file in memory (tests, chat without exporting).
 */
import type { TensorEntry } from '../formats/safetensors.ts';
import { type SinkOpener, writeSafetensorsSharded } from '../formats/safetensors-folder.ts';
import type { RawTensor } from '../tensor.ts';

export interface MergeWriter {
  /** Calls getData once per entry, in order, and writes the tensor before asking for the next. */
  writeTensors(entries: TensorEntry[], getData: (name: string) => Promise<RawTensor>): Promise<void>;
  writeFile(name: string, bytes: Uint8Array): Promise<void>;
  /** Commits; returns the written file names. */
  finish(): Promise<string[]>;
}

/** mergekit's default --out-shard-size (5B, bytes). */
export const DEFAULT_SHARD_BYTES = 5_000_000_000;

export function folderWriter(openSink: SinkOpener, options: { maxShardBytes?: number } = {}): MergeWriter {
  const files: string[] = [];
  return {
    async writeTensors(entries, getData) {
      const result = await writeSafetensorsSharded(openSink, entries, async (name) => (await getData(name)).data, {
        maxShardBytes: options.maxShardBytes ?? DEFAULT_SHARD_BYTES,
        metadata: { format: 'pt' },
      });
      files.push(...result.files);
    },
    async writeFile(name, bytes) {
      const sink = await openSink(name, bytes.byteLength);
      await sink.write(bytes);
      await sink.close();
      files.push(name);
    },
    async finish() {
      return [...files];
    },
  };
}

export interface MemoryMergeOutput {
  tensors: Map<string, RawTensor>;
  files: Map<string, Uint8Array>;
}

export function memoryWriter(): MergeWriter & { output: MemoryMergeOutput } {
  const output: MemoryMergeOutput = { tensors: new Map(), files: new Map() };
  return {
    output,
    async writeTensors(entries, getData) {
      for (const e of entries) output.tensors.set(e.name, await getData(e.name));
    },
    async writeFile(name, bytes) {
      output.files.set(name, bytes);
    },
    async finish() {
      return [...output.tensors.keys(), ...output.files.keys()];
    },
  };
}
