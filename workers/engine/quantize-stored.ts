/**
 * Import-time quantization: an HF folder in the store → GGUF (f16 / q8_0 / q4_0, exportGguf's
 * ggufExportInput) → a new stored model that keeps the original config and tokenizer files
 * beside model.gguf (loadModel reads that pair back).
 *
 * Bounded memory: the GGUF is laid out from its header alone (encodeGgufHeader's fileBytes), so
 * the store record is opened with the file's size before any tensor is converted; writeGguf then
 * streams into the store's chunked sink. Resident at a time: one source tensor (or one layer's
 * expert stack) being converted, and one store chunk — never the whole GGUF.
 */
import { encodeGgufHeader, writeGguf } from '../../src/core/formats/gguf.ts';
import type { GgufWriteInput } from '../../src/core/formats/gguf-types.ts';
import { type ByteSink, type FileSet, readJsonFile } from '../../src/core/io/byte-source.ts';
import type { OnLoadProgress } from '../../src/core/io/progress.ts';
import { ggufExportInput } from '../../src/core/model/gguf-model.ts';
import { QUANTIZED_FILE, loadModelLazy } from '../../src/core/model/load.ts';
import { modelStoreCommitChecked } from '../../src/core/store/commit-checked.ts';
import type { KvStore } from '../../src/core/store/kv.ts';
import type { ModelManifest, StoredQuant } from '../../src/core/store/manifest.ts';
import {
  type ModelWriter,
  modelStoreBeginWrite,
  modelStoreDelete,
  modelStoreGet,
} from '../../src/core/store/model-store.ts';
import { modelStoreFileSet } from '../../src/core/store/store-file-set.ts';
import type { TokenizerJson } from '../../src/core/tokenizer/types.ts';

async function readJson(files: FileSet, list: string[], name: string): Promise<TokenizerJson | undefined> {
  return list.includes(name) ? readJsonFile(files, name) : undefined;
}

/** One file of the new model: its size up front, and a writer that streams exactly that many bytes. */
interface ProducedFile {
  name: string;
  size: number;
  write: (sink: ByteSink) => Promise<void>;
}

/** A sink that reports 'storing' progress for `file` as bytes pass through to `inner`. */
function progressSink(
  inner: ByteSink,
  file: string,
  size: number,
  total: { done: number; bytes: number },
  onProgress?: OnLoadProgress,
): ByteSink {
  let done = 0;
  return {
    async write(chunk) {
      await inner.write(chunk);
      done += chunk.byteLength;
      total.done += chunk.byteLength;
      onProgress?.({
        phase: 'storing',
        file,
        bytesDone: done,
        bytesTotal: size,
        fromCache: false,
        totalDone: total.done,
        totalBytes: total.bytes,
      });
    },
    close: () => inner.close(),
  };
}

/**
 * Streams each produced file into `writer`. When a conversion was interrupted (the tab closed;
 * a failure deletes its partial model instead), its complete files are kept and a partly stored
 * one is produced again from the start (the writers are deterministic, but a GGUF cannot be
 * restarted mid-tensor).
 */
async function storeProduced(
  writer: ModelWriter,
  produced: ProducedFile[],
  onProgress?: OnLoadProgress,
): Promise<void> {
  const total = { done: 0, bytes: produced.reduce((s, f) => s + f.size, 0) };
  for (const f of produced) {
    if (writer.isComplete(f.name)) {
      total.done += f.size;
      continue;
    }
    if (writer.resumeOffset(f.name) > 0) await writer.discardFile(f.name);
    await f.write(progressSink(writer.openFile(f.name), f.name, f.size, total, onProgress));
  }
}

function bytesFile(name: string, bytes: Uint8Array): ProducedFile {
  return {
    name,
    size: bytes.byteLength,
    write: async (sink) => {
      await sink.write(bytes);
      await sink.close();
    },
  };
}

function ggufFile(input: GgufWriteInput): ProducedFile {
  return { name: QUANTIZED_FILE, size: encodeGgufHeader(input).fileBytes, write: (sink) => writeGguf(sink, input) };
}

/** Converts stored model `id` to `quant` as a new stored model, then deletes the original. */
export async function quantizeStoredModel(
  kv: KvStore,
  id: string,
  quant: StoredQuant,
  onProgress?: OnLoadProgress,
): Promise<ModelManifest> {
  const manifest = await modelStoreGet(kv, id);
  if (!manifest) throw Object.assign(new Error(`store: no ready model '${id}'`), { name: 'StoreError' });
  const files = modelStoreFileSet(kv, manifest, onProgress);
  const list = await files.list();
  // lazy: each tensor is read from the store when the GGUF writer reaches it, not all at once
  const model = await loadModelLazy(files);
  const tokenizerJson = await readJson(files, list, 'tokenizer.json');
  if (!tokenizerJson)
    throw Object.assign(
      new Error(
        `store: '${manifest.title}' has no tokenizer.json; quantized imports keep the tokenizer inside the GGUF`,
      ),
      { name: 'ConfigError' },
    );
  const gguf = ggufExportInput(
    model.weights,
    { tokenizerJson, tokenizerConfig: await readJson(files, list, 'tokenizer_config.json') },
    quant,
  );
  const produced = [ggufFile(gguf)];
  for (const name of list) {
    if (name.endsWith('.safetensors') || name === 'model.safetensors.index.json') continue;
    const src = await files.open(name); // config, tokenizer, card: small files
    produced.push(bytesFile(name, await src.read(0, src.size)));
  }
  produced.sort((a, b) => (a.name < b.name ? -1 : 1));
  const writer = await modelStoreBeginWrite(kv, {
    id: `${id}:${quant}`,
    title: `${manifest.title} (${quant})`,
    source: manifest.source,
    importQuant: quant,
    files: produced.map((f) => ({ name: f.name, size: f.size })),
    chunkBytes: manifest.chunkBytes,
  });
  try {
    await storeProduced(writer, produced, onProgress);
  } catch (e) {
    await writer.abort(); // no half-converted model is left behind (the original is untouched)
    throw e;
  }
  const converted = await modelStoreCommitChecked(kv, writer, manifest.notes);
  await modelStoreDelete(kv, id);
  return converted;
}
