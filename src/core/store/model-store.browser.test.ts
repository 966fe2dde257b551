/**
 * The model store against real IndexedDB in Chromium: chunking, manifest-last, an
 * interrupted write never listed as ready (and resumed), quota errors that say what to delete.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clear, createStore } from 'idb-keyval';
import { memoryFileSet, readText } from '../io/byte-source.ts';
import { idbKvStore, quotaLimitedKvStore, type KvStore } from './kv.ts';
import {
  modelStoreBeginWrite,
  modelStoreDelete,
  modelStoreFileSet,
  modelStoreGet,
  modelStoreImportFileSet,
  modelStoreList,
  modelStoreListPending,
  modelStoreVerify,
} from './index.ts';
import { sha256Hex } from '../io/sha256.ts';
import { exportHfToMemory } from '../model/hf.testing.ts';
import { randomModelWeights, tinyDenseSpec } from '../model/random.ts';

/** A model of a few kB: one layer, hidden 8, vocab 16. */
const SMALL = tinyDenseSpec({ layers: 1, hidden: 8, heads: 2, kvHeads: 1, headDim: 4, intermediate: 8, vocab: 16 });

const DB = 'moe-studio-test';
let kv: KvStore;

function seededBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

beforeEach(async () => {
  await clear(createStore(DB, 'models'));
  kv = idbKvStore(DB, 'models');
});
afterEach(async () => {
  await clear(createStore(DB, 'models'));
});

describe('model store (IndexedDB)', () => {
  it('stores a folder in chunks and reads every byte back through the FileSet', async () => {
    const layers = 1 + Math.floor(Math.random() * 3);
    const folder = await exportHfToMemory(randomModelWeights(tinyDenseSpec({ layers }), Date.now()));
    const weights = folder.files['model.safetensors']!;
    const configText = new TextDecoder().decode(folder.files['config.json']);
    const files = folder.fileSet;
    const progress: number[] = [];
    const manifest = await modelStoreImportFileSet(kv, {
      id: 'm1',
      title: 'M1',
      source: { kind: 'local', folderName: 'm1' },
      files,
      chunkBytes: 1024,
      readBytes: 700,
      onProgress: (p) => progress.push(p.totalDone),
    });
    expect(manifest.files.find((f) => f.name === 'model.safetensors')!.chunks).toBe(
      Math.ceil(weights.byteLength / 1024),
    );
    expect(progress.at(-1)).toBe(manifest.totalBytes);
    const fs = modelStoreFileSet(kv, manifest);
    const src = await fs.open('model.safetensors');
    expect(src.size).toBe(weights.byteLength);
    expect(await src.read(0, src.size)).toEqual(weights);
    expect(await src.read(1000, 3000)).toEqual(weights.subarray(1000, 4000)); // spans chunk borders
    expect(await readText(await fs.open('config.json'))).toBe(configText);
    expect((await modelStoreList(kv)).map((m) => m.id)).toEqual(['m1']);
  });

  it('writes the manifest last: an interrupted write is pending, not ready, and resumes', async () => {
    const weights = seededBytes(5000, 42);
    const init = {
      id: 'm2',
      title: 'M2',
      source: { kind: 'local' as const, folderName: 'm2' },
      files: [{ name: 'w.bin', size: weights.byteLength, sha256: sha256Hex(weights) }],
      chunkBytes: 1000,
    };
    const writer = await modelStoreBeginWrite(kv, init);
    const sink = writer.openFile('w.bin');
    await sink.write(weights.subarray(0, 2500)); // 2 whole chunks stored, 500 bytes buffered — then "reload"
    expect(await modelStoreList(kv)).toEqual([]);
    expect(await modelStoreGet(kv, 'm2')).toBeUndefined();
    const pending = await modelStoreListPending(kv);
    expect(pending.map((p) => [p.id, p.files[0].chunksDone])).toEqual([['m2', 2]]);
    await expect(writer.commit()).rejects.toThrow(/incomplete/);

    const resumed = await modelStoreBeginWrite(kv, init);
    expect(resumed.resumeOffset('w.bin')).toBe(2000);
    const sink2 = resumed.openFile('w.bin');
    await sink2.write(weights.subarray(2000));
    await sink2.close();
    const manifest = await resumed.commit();
    expect(await modelStoreListPending(kv)).toEqual([]);
    expect(await (await modelStoreFileSet(kv, manifest).open('w.bin')).read(0, 5000)).toEqual(weights);
    // Every chunk is there; what fails is the model check (w.bin is bytes, not a model).
    expect(await modelStoreVerify(kv, 'm2')).toEqual({
      ok: false,
      problems: [expect.stringMatching(/^'M2' would not load \(.*\): llama2c: M2\/w\.bin header/)],
    });
  });

  it('re-verify reports a missing chunk and a sha256 mismatch', async () => {
    const weights = seededBytes(3000, 7);
    const init = {
      id: 'm3',
      title: 'M3',
      source: { kind: 'local' as const, folderName: 'm3' },
      files: [{ name: 'w.bin', size: 3000, sha256: sha256Hex(weights) }],
      chunkBytes: 1000,
    };
    const writer = await modelStoreBeginWrite(kv, init);
    const sink = writer.openFile('w.bin');
    const corrupted = weights.slice();
    corrupted[1500] ^= 1;
    await sink.write(corrupted);
    await sink.close();
    await writer.commit();
    const bad = await modelStoreVerify(kv, 'm3');
    expect(bad.ok).toBe(false);
    expect(bad.problems[0]).toMatch(/sha256/);
    await kv.del([(await kv.keys('chunk/m3/'))[0]]);
    expect((await modelStoreVerify(kv, 'm3')).problems[0]).toMatch(/missing/);
  });

  it('a quota failure says what to delete and leaves nothing marked ready', async () => {
    await modelStoreImportFileSet(kv, {
      id: 'small',
      title: 'Small model',
      source: { kind: 'local', folderName: 's' },
      files: (await exportHfToMemory(randomModelWeights(SMALL, 1))).fileSet,
      chunkBytes: 1024,
    });
    const limited = quotaLimitedKvStore(kv, 6000);
    const big = memoryFileSet({ 'model.safetensors': seededBytes(20_000, 2) });
    await expect(
      modelStoreImportFileSet(limited, {
        id: 'big',
        title: 'Big',
        source: { kind: 'local', folderName: 'b' },
        files: big,
        chunkBytes: 1024,
      }),
    ).rejects.toMatchObject({ name: 'StoreError', message: expect.stringMatching(/quota.*'Small model'/) });
    expect((await modelStoreList(kv)).map((m) => m.id)).toEqual(['small']);
    expect((await modelStoreListPending(kv)).map((p) => p.id)).toEqual(['big']);
    await modelStoreDelete(kv, 'big');
    expect(await kv.keys('chunk/big/')).toEqual([]);
    expect(await modelStoreListPending(kv)).toEqual([]);
  });
});
