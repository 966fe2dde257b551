/**
 * A merge written straight into the store (streamedFileOpener): the bytes reach chunk records
 * while the merge runs, not after it, the stored folder is byte for byte the folder a plain
 * folderWriter writes, the manifest is the last write, and a failed merge leaves nothing.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { parseMergeYaml } from '../formats/mergekit-yaml.ts';
import { memoryFolder, type FileSet } from '../io/byte-source.ts';
import { createMergeRuntime } from '../merge/default-runtime.ts';
import { mapResolver, randomHfFolder, testingDenseSpec } from '../merge/models.testing.ts';
import { planMerge } from '../merge/plan.ts';
import { runMerge } from '../merge/run.ts';
import { openMergeInputs } from '../merge/sources.ts';
import { folderWriter } from '../merge/writer.ts';
import { modelStoreCommitChecked } from './commit-checked.ts';
import { memoryKvStore, type KvStore } from './kv.ts';
import { chunkPrefix, manifestKey, pendingKey } from './manifest.ts';
import { modelStoreBeginWrite, modelStoreListPending, streamedFileOpener } from './model-store.ts';
import { modelStoreFileSet } from './store-file-set.ts';

const spec = testingDenseSpec();
let folders: Record<string, FileSet>;
const YAML = `base_model: org/base
gate_mode: random
experts:
  - source_model: org/a
  - source_model: org/b
`;
const CHUNK = 1024;

beforeAll(async () => {
  folders = {
    'org/base': (await randomHfFolder('org/base', 31, spec, 'bf16')).files,
    'org/a': (await randomHfFolder('org/a', 32, spec, 'bf16')).files,
    'org/b': (await randomHfFolder('org/b', 33, spec, 'bf16')).files,
  };
});

async function plan(resolve = mapResolver(folders)) {
  const parsed = parseMergeYaml(YAML);
  if (!parsed.ok) throw new Error('parse');
  const inputs = await openMergeInputs(parsed.config, resolve);
  const planned = planMerge(parsed.config, inputs);
  if (!planned.ok) throw new Error(planned.issues[0]!.message);
  return { plan: planned.plan, inputs };
}

/** The kv, with every set() logged in order. */
function loggedKv(): { kv: KvStore & { map: Map<string, unknown> }; log: string[] } {
  const kv = memoryKvStore();
  const log: string[] = [];
  const set = kv.set.bind(kv);
  kv.set = async (key, value) => {
    log.push(`set ${key}`);
    await set(key, value);
  };
  return { kv, log };
}

describe('a merge streamed into the store', () => {
  it('stores chunks while it merges, the same bytes as a folder write, and the manifest last', async () => {
    const { kv, log } = loggedKv();
    const { plan: merge, inputs } = await plan();
    const store = await modelStoreBeginWrite(kv, {
      id: 'moe',
      title: 'MoE',
      source: { kind: 'merge', yaml: YAML },
      files: [],
      chunkBytes: CHUNK,
    });
    await runMerge(merge, inputs, folderWriter(streamedFileOpener(store)), {
      runtime: createMergeRuntime(),
      onProgress: (p) => {
        if (p.phase === 'tensors') log.push(`tensor ${p.tensor} ${p.bytesDone}`);
      },
    });
    await modelStoreCommitChecked(kv, store, { note: 1 });

    // Interleaved: when the last tensor was produced, every tensor before it was already in
    // chunk records (all but the one chunk still being filled).
    const tensorLines = log.flatMap((line, at) => (line.startsWith('tensor ') ? [at] : []));
    const lastAt = tensorLines.at(-1)!;
    const bytesBeforeLast = Number(log[tensorLines.at(-2)!]!.split(' ')[2]);
    const chunksBeforeLast = log.slice(0, lastAt).filter((line) => line.startsWith('set chunk/moe/')).length;
    expect(merge.totalBytes).toBeGreaterThan(100 * CHUNK);
    expect(chunksBeforeLast).toBeGreaterThanOrEqual(Math.floor(bytesBeforeLast / CHUNK));
    expect(log.at(-1)).toBe(`set ${manifestKey('moe')}`);
    expect(kv.map.has(pendingKey('moe'))).toBe(false);

    // The stored folder is the folder a plain folderWriter writes, byte for byte.
    const reference = memoryFolder();
    const again = await plan();
    await runMerge(again.plan, again.inputs, folderWriter(reference.open), { runtime: createMergeRuntime() });
    const manifest = (await kv.get(manifestKey('moe'))) as Parameters<typeof modelStoreFileSet>[1];
    const stored = modelStoreFileSet(kv, manifest);
    const expected = reference.bytes();
    expect((await stored.list()).sort()).toEqual(Object.keys(expected).sort());
    for (const [name, bytes] of Object.entries(expected)) {
      const source = await stored.open(name);
      expect(source.size, name).toBe(bytes.byteLength);
      expect(Buffer.from(await source.read(0, source.size)).equals(Buffer.from(bytes)), name).toBe(true);
    }
    expect(manifest.notes).toEqual({ note: 1 });
  });

  it('a donor that fails mid-merge leaves no chunk and no import record once the write is aborted', async () => {
    const { kv } = loggedKv();
    let reads = 0;
    const failing = mapResolver({
      ...folders,
      'org/b': {
        ...folders['org/b']!,
        open: async (name: string) => {
          const source = await folders['org/b']!.open(name);
          return {
            ...source,
            read: async (offset: number, length: number) => {
              // headers are read when the inputs open; a later read is a tensor's
              if (++reads > 3) throw new Error('org/b: the disk went away');
              return source.read(offset, length);
            },
          };
        },
      },
    });
    const { plan: merge, inputs } = await plan(failing);
    const store = await modelStoreBeginWrite(kv, {
      id: 'broken',
      title: 'Broken',
      source: { kind: 'merge', yaml: YAML },
      files: [],
      chunkBytes: CHUNK,
    });
    const merging = runMerge(merge, inputs, folderWriter(streamedFileOpener(store)), {
      runtime: createMergeRuntime(),
    });
    await expect(merging).rejects.toThrow(/the disk went away/);
    expect((await kv.keys(chunkPrefix('broken'))).length).toBeGreaterThan(0); // it had started storing
    await store.abort();
    expect(await kv.keys(chunkPrefix('broken'))).toEqual([]);
    expect(await modelStoreListPending(kv)).toEqual([]);
  });

  it('addFile refuses a name listed twice and a size that is not a byte count', async () => {
    const { kv } = loggedKv();
    const store = await modelStoreBeginWrite(kv, {
      id: 'x',
      title: 'X',
      source: { kind: 'merge', yaml: '' },
      files: [],
    });
    await store.addFile('a.json', 3);
    await expect(store.addFile('a.json', 3)).rejects.toThrow(/already lists a file 'a.json'/);
    await expect(store.addFile('b.json', -1)).rejects.toThrow(/no valid size/);
    await expect(store.addFile('c.json', 1.5)).rejects.toThrow(/no valid size/);
    const sink = store.openFile('a.json');
    await expect(sink.write(new Uint8Array(4))).rejects.toThrow(/more than its 3 bytes/);
  });
});
