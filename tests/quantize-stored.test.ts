/**
 * Quantize-on-import streams the GGUF into the store (quantizeStoredModel): the stored
 * model.gguf is byte-identical to exportGguf into a MemorySink, and the GGUF is never held
 * whole — its chunks reach the store while the source tensors are still being read.
 * The store is the in-memory KvStore (the IndexedDB one runs in merge-host.browser.test.ts);
 * a recording wrapper logs every source-chunk read and GGUF-chunk write in order.
 */
import { describe, expect, it } from 'vitest';
import { encodeGgufHeader } from '../src/core/formats/gguf.ts';
import { MemorySink } from '../src/core/io/byte-source.ts';
import { randomHfFolder, testingDenseSpec } from '../src/core/merge/models.testing.ts';
import { exportGguf, ggufExportInput } from '../src/core/model/gguf-model.ts';
import { QUANTIZED_FILE, loadModel, loadModelLazy } from '../src/core/model/load.ts';
import { modelStoreImportFileSet } from '../src/core/store/import-files.ts';
import { type KvStore, memoryKvStore } from '../src/core/store/kv.ts';
import { chunkPrefix, manifestKey, pendingKey } from '../src/core/store/manifest.ts';
import { modelStoreGet } from '../src/core/store/model-store.ts';
import { modelStoreFileSet } from '../src/core/store/store-file-set.ts';
import type { TokenizerJson } from '../src/core/tokenizer/types.ts';
import { quantizeStoredModel } from '../workers/engine/quantize-stored.ts';

const CHUNK = 8 * 1024;
/** 8 layers of 64-wide blocks: many tensors, none larger than a few chunks. */
const SPEC = testingDenseSpec({ hidden: 64, heads: 4, kvHeads: 2, headDim: 16, intermediate: 96, layers: 8 });

type Event = { op: 'read-source'; ggufStored: number } | { op: 'store-gguf'; bytes: number };

/** `inner`, logging reads of `sourceId`'s safetensors chunks and writes of `targetId`'s GGUF chunks. */
function recordingKv(inner: KvStore, sourceId: string, targetId: string) {
  const events: Event[] = [];
  let ggufStored = 0;
  const source = `${chunkPrefix(sourceId)}model.safetensors/`;
  const target = `${chunkPrefix(targetId)}${QUANTIZED_FILE}/`;
  const kv: KvStore = {
    async get<T>(key: string) {
      if (key.startsWith(source)) events.push({ op: 'read-source', ggufStored });
      return inner.get<T>(key);
    },
    async set(key, value) {
      if (key.startsWith(target) && value instanceof Uint8Array) {
        ggufStored += value.byteLength;
        events.push({ op: 'store-gguf', bytes: value.byteLength });
      }
      return inner.set(key, value);
    },
    del: (keys) => inner.del(keys),
    keys: (prefix) => inner.keys(prefix),
  };
  return { kv, events };
}

async function storedSource(kv: KvStore, id: string) {
  const { files } = await randomHfFolder(id, 20261204, SPEC);
  await modelStoreImportFileSet(kv, {
    id,
    title: id,
    source: { kind: 'local', folderName: id },
    files,
    chunkBytes: CHUNK,
  });
  return modelStoreFileSet(kv, (await modelStoreGet(kv, id))!);
}

async function tokenizerOf(files: Awaited<ReturnType<typeof storedSource>>) {
  const read = async (name: string) =>
    JSON.parse(
      new TextDecoder().decode(await (await files.open(name)).read(0, (await files.open(name)).size)),
    ) as TokenizerJson;
  return { tokenizerJson: await read('tokenizer.json'), tokenizerConfig: await read('tokenizer_config.json') };
}

describe('quantize-on-import streams the GGUF into the store', () => {
  it('stores a model.gguf byte-identical to exportGguf into a MemorySink (q8_0)', async () => {
    const inner = memoryKvStore();
    const files = await storedSource(inner, 'src');
    const expected = new MemorySink();
    await exportGguf(expected, (await loadModel(files)).weights, await tokenizerOf(files), 'q8_0');
    const converted = await quantizeStoredModel(inner, 'src', 'q8_0');
    expect(converted.id).toBe('src:q8_0');
    const stored = modelStoreFileSet(inner, converted);
    const gguf = await stored.open(QUANTIZED_FILE);
    expect(gguf.size).toBe(expected.size);
    expect(Buffer.from(await gguf.read(0, gguf.size)).equals(Buffer.from(expected.bytes()))).toBe(true);
    expect(await stored.list()).toEqual(['config.json', QUANTIZED_FILE, 'tokenizer.json', 'tokenizer_config.json']);
    expect(await modelStoreGet(inner, 'src')).toBeUndefined(); // the original is replaced
  });

  it('never holds the whole GGUF: all but the tensor in flight is stored when the last source chunk is read', async () => {
    const inner = memoryKvStore();
    const files = await storedSource(inner, 'src');
    const layout = encodeGgufHeader(
      ggufExportInput((await loadModelLazy(files)).weights, await tokenizerOf(files), 'q8_0'),
    );
    const largestTensor = Math.max(...layout.byteLengths);
    // In flight at the last source read: the tensor being converted, the one after it, one chunk.
    const bound = 2 * largestTensor + CHUNK;
    expect(layout.fileBytes, 'the model is large enough for the bound to mean something').toBeGreaterThan(4 * bound);
    const { kv, events } = recordingKv(inner, 'src', 'src:q8_0');
    await quantizeStoredModel(kv, 'src', 'q8_0');
    const reads = events.filter((e) => e.op === 'read-source');
    const stores = events.filter((e) => e.op === 'store-gguf');
    expect(reads.length).toBeGreaterThan(10);
    expect(stores.reduce((s, e) => s + e.bytes, 0)).toBe(layout.fileBytes);
    for (const e of stores) expect(e.bytes).toBeLessThanOrEqual(CHUNK); // the store's sink holds one chunk
    const firstStore = events.findIndex((e) => e.op === 'store-gguf');
    expect(firstStore, 'GGUF chunks are stored before the source is read to the end').toBeLessThan(
      events.lastIndexOf(reads[reads.length - 1]!),
    );
    const unstoredAtLastRead = layout.fileBytes - reads[reads.length - 1]!.ggufStored;
    expect(unstoredAtLastRead).toBeLessThanOrEqual(bound);
  });

  it('a conversion that fails midway leaves no half-written model and keeps the original', async () => {
    const inner = memoryKvStore();
    await storedSource(inner, 'src');
    let stored = 0;
    const failing: KvStore = {
      ...inner,
      get: (key) => inner.get(key),
      async set(key, value) {
        if (key.startsWith(`${chunkPrefix('src:q8_0')}${QUANTIZED_FILE}/`) && ++stored === 3)
          throw new Error('disk full (test)');
        return inner.set(key, value);
      },
    };
    await expect(quantizeStoredModel(failing, 'src', 'q8_0')).rejects.toThrow('disk full (test)');
    expect(await inner.keys(chunkPrefix('src:q8_0'))).toEqual([]);
    expect(await inner.get(pendingKey('src:q8_0'))).toBeUndefined();
    expect(await inner.get(manifestKey('src:q8_0'))).toBeUndefined();
    expect(await modelStoreGet(inner, 'src')).toBeDefined();
  });
});
