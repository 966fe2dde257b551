/**
 * Import = validation, against real IndexedDB in Chromium: a folder that would not load is
 * refused with the folder and the file named and leaves nothing behind; a good one is ready
 * with its summary; Re-verify runs the same check on the stored bytes.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clear, createStore } from 'idb-keyval';
import { memoryFileSet } from '../io/byte-source.ts';
import { exportHfToMemory } from '../model/hf.testing.ts';
import { randomModelWeights, tinyDenseSpec, tinyMoeSpec } from '../model/random.ts';
import { hubDownloadToStore } from '../hub/download-to-store.ts';
import type { FetchFn } from '../hub/hub.ts';
import { idbKvStore, type KvStore } from './kv.ts';
import {
  chunkKey,
  manifestKey,
  modelStoreGet,
  modelStoreImportFileSet,
  modelStoreList,
  modelStoreListPending,
  modelStoreVerify,
} from './index.ts';

const DB = 'moe-studio-check-test';
let kv: KvStore;

beforeEach(async () => {
  await clear(createStore(DB, 'models'));
  kv = idbKvStore(DB, 'models');
});
afterEach(async () => {
  await clear(createStore(DB, 'models'));
});

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let at = 0; at < n; at += 65536) crypto.getRandomValues(out.subarray(at, Math.min(n, at + 65536)));
  out[7] = 0xff; // the header length reads as more than any cap
  return out;
}

const importFolder = (files: Record<string, Uint8Array>, title: string) =>
  modelStoreImportFileSet(kv, {
    id: `local:${title}`,
    title,
    source: { kind: 'local', folderName: title },
    files: memoryFileSet(files, title),
    chunkBytes: 4096,
  });

async function expectNothingStored(): Promise<void> {
  expect(await modelStoreList(kv)).toEqual([]);
  expect(await modelStoreListPending(kv)).toEqual([]);
  expect(await kv.keys('chunk/')).toEqual([]);
}

describe('import = validation', () => {
  it('refuses config.json {"foo": 1} with random bytes as weights, naming the folder and file, storing nothing', async () => {
    const files = { 'config.json': new TextEncoder().encode('{"foo": 1}'), 'model.safetensors': randomBytes(20_000) };
    await expect(importFolder(files, 'broken')).rejects.toMatchObject({
      name: 'ConfigError',
      message: expect.stringMatching(/^'broken' was not added \(.*\): config\.json: .*Nothing was stored\.$/),
    });
    await expectNothingStored();
  });

  it('refuses a good config.json beside random bytes, naming broken/model.safetensors', async () => {
    const { files } = await exportHfToMemory(randomModelWeights(tinyDenseSpec(), 1));
    files['model.safetensors'] = randomBytes(files['model.safetensors']!.byteLength);
    await expect(importFolder(files, 'broken')).rejects.toMatchObject({
      name: 'FormatError',
      message: expect.stringMatching(/^'broken' was not added \(.*\): safetensors: broken\/model\.safetensors: /),
    });
    await expectNothingStored();
  });

  it('refuses a hub download whose files would not load, after downloading, and keeps nothing', async () => {
    const files: Record<string, Uint8Array> = {
      'config.json': new TextEncoder().encode('{"model_type": "llama"}'),
      'model.safetensors': randomBytes(30_000),
    };
    // A real Response per file (the hub's HTTP layer is tested in hub.browser.test.ts).
    const hubFetch: FetchFn = async (url) =>
      new Response(files[url.split('/').pop()!]!.slice(), { headers: { 'content-type': 'application/octet-stream' } });
    const ref = { baseUrl: 'http://hub.test', repo: 'org/broken', rev: 'main' };
    const listed = Object.entries(files).map(([name, bytes]) => ({ name, size: bytes.byteLength }));
    await expect(
      hubDownloadToStore(hubFetch, kv, ref, { id: 'hub:org/broken@main', title: 'org/broken', files: listed }),
    ).rejects.toMatchObject({
      name: 'ConfigError',
      message: expect.stringMatching(/^'org\/broken' was not added \(.*\): config\.json: /),
    });
    await expectNothingStored();
  });

  it('stores a good folder as ready with the summary the Library shows', async () => {
    const { files } = await exportHfToMemory(randomModelWeights(tinyMoeSpec(), 2), { dtype: 'bf16' });
    const manifest = await importFolder(files, 'tiny-moe');
    expect(manifest.summary).toMatchObject({
      format: 'hf',
      arch: 'mixtral',
      experts: 4,
      expertsPerToken: 2,
      dtype: 'bf16',
      contextLength: 64,
    });
    expect((await modelStoreGet(kv, 'local:tiny-moe'))?.summary).toEqual(manifest.summary);
  });

  it('Re-verify reports stored weights whose header was damaged, though every chunk is present', async () => {
    const { files } = await exportHfToMemory(randomModelWeights(tinyDenseSpec(), 3));
    await importFolder(files, 'good');
    expect(await modelStoreVerify(kv, 'local:good')).toMatchObject({ ok: true, problems: [] });
    const key = chunkKey('local:good', 'model.safetensors', 0);
    const chunk = (await kv.get<Uint8Array>(key))!;
    await kv.set(key, randomBytes(chunk.byteLength));
    const result = await modelStoreVerify(kv, 'local:good');
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual([
      expect.stringMatching(/^'good' would not load \(.*\): safetensors: good\/model\.safetensors: header length/),
    ]);
  });

  it('migrates a version-1 manifest (no summary) and Re-verify fills the summary in', async () => {
    const { files } = await exportHfToMemory(randomModelWeights(tinyDenseSpec(), 4));
    const manifest = await importFolder(files, 'old');
    const { summary, ...v1 } = { ...manifest, schemaVersion: 1 };
    await kv.set(manifestKey('local:old'), v1);
    const listed = await modelStoreList(kv);
    expect(listed.map((m) => [m.id, m.schemaVersion, m.summary])).toEqual([['local:old', 2, undefined]]);
    expect((await modelStoreVerify(kv, 'local:old')).ok).toBe(true);
    expect((await modelStoreGet(kv, 'local:old'))?.summary).toEqual(summary);
  });
});
