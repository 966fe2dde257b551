/**
 * The stored file's chunk cache: reads that alternate between a few places far apart (how the
 * WASM backend packs a GGUF's stacked experts) fetch each chunk once; a fifth place evicts the
 * least recently used; a pause drops every chunk. Real chunked store records (memoryKvStore).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { exportHfToMemory } from '../model/hf.testing.ts';
import { randomModelWeights, tinyDenseSpec } from '../model/random.ts';
import { memoryKvStore, type KvStore } from './kv.ts';
import { modelStoreFileSet, modelStoreImportFileSet } from './index.ts';
import { STORE_READ_CACHE_CHUNKS, STORE_READ_CACHE_IDLE_MS } from './store-file-set.ts';

const CHUNK = 1024;

async function storedWeights() {
  const folder = await exportHfToMemory(randomModelWeights(tinyDenseSpec({ layers: 2 }), 7));
  const kv = memoryKvStore();
  const manifest = await modelStoreImportFileSet(kv, {
    id: 'm',
    title: 'M',
    source: { kind: 'local', folderName: 'm' },
    files: folder.fileSet,
    chunkBytes: CHUNK,
  });
  const gets: string[] = [];
  const counted: KvStore = {
    ...kv,
    get: <T>(key: string) => {
      gets.push(key);
      return kv.get<T>(key);
    },
  };
  const source = await modelStoreFileSet(counted, manifest).open('model.safetensors');
  return { source, gets, weights: folder.files['model.safetensors']! };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('stored file chunk cache', () => {
  it(`reads alternating between ${STORE_READ_CACHE_CHUNKS} places fetch each chunk once, and return the right bytes`, async () => {
    const { source, gets, weights } = await storedWeights();
    expect(source.size).toBeGreaterThan(8 * CHUNK);
    const places = Array.from({ length: STORE_READ_CACHE_CHUNKS }, (_, i) => i * 2 * CHUNK);
    for (let step = 0; step < 8; step++) {
      for (const place of places) {
        const at = place + step * 100;
        expect(await source.read(at, 100)).toEqual(weights.subarray(at, at + 100));
      }
    }
    expect(gets.length).toBe(STORE_READ_CACHE_CHUNKS);
    expect(new Set(gets).size).toBe(STORE_READ_CACHE_CHUNKS);
  });

  it('one place more evicts the least recently used chunk', async () => {
    const { source, gets } = await storedWeights();
    const places = Array.from({ length: STORE_READ_CACHE_CHUNKS + 1 }, (_, i) => i * CHUNK);
    for (const place of places) await source.read(place, 10);
    await source.read(places[0]!, 10); // evicted by the last one: fetched again
    expect(gets.length).toBe(STORE_READ_CACHE_CHUNKS + 2);
    await source.read(places.at(-1)!, 10); // still kept
    expect(gets.length).toBe(STORE_READ_CACHE_CHUNKS + 2);
  });

  it(`a pause of ${STORE_READ_CACHE_IDLE_MS} ms drops the chunks`, async () => {
    vi.useFakeTimers();
    const { source, gets } = await storedWeights();
    await source.read(0, 10);
    await source.read(5, 10);
    expect(gets.length).toBe(1);
    vi.advanceTimersByTime(STORE_READ_CACHE_IDLE_MS + 1);
    await source.read(0, 10);
    expect(gets.length).toBe(2);
  });
});
