/**
 * Reading a model for the engine from any FileSet: an HF folder (config.json + safetensors,
 * area B1's loadHfModel) or a quantized import (model.gguf, area A's loadGgufModel, with the
 * HF tokenizer files kept beside it). And the import-time quantization itself: HF folder in
 * the store → GGUF (f16 / q8_0 / q4_0, area A's exportGguf) → a new stored model.
 */
import { MemorySink, memoryFileSet, readText, type FileSet } from '../../core/io/byte-source.ts';
import type { OnLoadProgress } from '../../core/hub/progress.ts';
import { exportGguf, loadGgufModel } from '../../core/model/gguf-model.ts';
import { loadHfModel, type LoadedModel } from '../../core/model/load-hf.ts';
import { loadHfTokenizer } from '../../core/tokenizer/hf.ts';
import { modelStoreImportFileSet } from '../../core/store/import-files.ts';
import type { KvStore } from '../../core/store/kv.ts';
import type { ModelManifest } from '../../core/store/manifest.ts';
import { modelStoreDelete, modelStoreGet } from '../../core/store/model-store.ts';
import { modelStoreFileSet } from '../../core/store/store-file-set.ts';

export const QUANTIZED_FILE = 'model.gguf';

export async function loadAnyModel(files: FileSet): Promise<LoadedModel> {
  const list = await files.list();
  if (!list.includes(QUANTIZED_FILE)) return loadHfModel(files);
  const { weights } = await loadGgufModel(await files.open(QUANTIZED_FILE));
  const tokenizer = list.includes('tokenizer.json') ? await loadHfTokenizer(files) : undefined;
  const config = list.includes('config.json') ? JSON.parse(await readText(await files.open('config.json'))) : {};
  return { spec: weights.spec, weights, tokenizer, config, files };
}

async function readJson(files: FileSet, list: string[], name: string): Promise<unknown> {
  return list.includes(name) ? JSON.parse(await readText(await files.open(name))) : undefined;
}

/** Converts stored model `id` to `quant` as a new stored model, then deletes the original. */
export async function quantizeStoredModel(
  kv: KvStore,
  id: string,
  quant: 'f16' | 'q8_0' | 'q4_0',
  onProgress?: OnLoadProgress,
): Promise<ModelManifest> {
  const manifest = await modelStoreGet(kv, id);
  if (!manifest) throw Object.assign(new Error(`store: no ready model '${id}'`), { name: 'StoreError' });
  const files = modelStoreFileSet(kv, manifest, onProgress);
  const list = await files.list();
  const model = await loadHfModel(files);
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
