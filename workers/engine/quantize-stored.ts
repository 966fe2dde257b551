/**
 * Import-time quantization: an HF folder in the store → GGUF (f16 / q8_0 / q4_0, exportGguf)
 * → a new stored model that keeps the original config and tokenizer files beside model.gguf
 * (loadModel reads that pair back).
 */
import { type FileSet, MemorySink, memoryFileSet, readJsonFile } from '../../src/core/io/byte-source.ts';
import type { OnLoadProgress } from '../../src/core/io/progress.ts';
import { exportGguf } from '../../src/core/model/gguf-model.ts';
import { QUANTIZED_FILE, loadModelLazy } from '../../src/core/model/load.ts';
import { modelStoreImportFileSet } from '../../src/core/store/import-files.ts';
import type { KvStore } from '../../src/core/store/kv.ts';
import type { ModelManifest, StoredQuant } from '../../src/core/store/manifest.ts';
import { modelStoreDelete, modelStoreGet } from '../../src/core/store/model-store.ts';
import { modelStoreFileSet } from '../../src/core/store/store-file-set.ts';
import type { TokenizerJson } from '../../src/core/tokenizer/types.ts';

async function readJson(files: FileSet, list: string[], name: string): Promise<TokenizerJson | undefined> {
  return list.includes(name) ? readJsonFile(files, name) : undefined;
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
  const sink = new MemorySink();
  await exportGguf(
    sink,
    model.weights,
    { tokenizerJson, tokenizerConfig: await readJson(files, list, 'tokenizer_config.json') },
    quant,
  );
  const kept: Record<string, Uint8Array> = { [QUANTIZED_FILE]: sink.bytes() };
  for (const name of list) {
    if (name.endsWith('.safetensors') || name === 'model.safetensors.index.json') continue;
    const src = await files.open(name);
    kept[name] = await src.read(0, src.size);
  }
  const converted = await modelStoreImportFileSet(kv, {
    id: `${id}:${quant}`,
    title: `${manifest.title} (${quant})`,
    source: manifest.source,
    importQuant: quant,
    files: memoryFileSet(kept, manifest.title),
    chunkBytes: manifest.chunkBytes,
    notes: manifest.notes,
    onProgress,
  });
  await modelStoreDelete(kv, id);
  return converted;
}
