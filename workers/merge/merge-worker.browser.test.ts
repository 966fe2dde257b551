/**
 * The studio's two real workers in Chromium, as the UI wires them (engine-client.ts): donors
 * stored by the page in real IndexedDB, a build in workers/merge.worker.ts (progress and
 * errors across comlink), the result loaded and run by workers/engine.worker.ts, chat tokens
 * streaming from the engine worker while a build is in flight, and a cancelled build leaving
 * nothing in the store.
 */
import * as Comlink from 'comlink';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clear, createStore } from 'idb-keyval';
import { randomHfFolder, testingDenseSpec } from '../../src/core/merge/models.testing.ts';
import { idbKvStore } from '../../src/core/store/kv.ts';
import { modelStoreImportFileSet } from '../../src/core/store/import-files.ts';
import { modelStoreList } from '../../src/core/store/model-store.ts';
import type { EngineApi, EngineEvent } from '../engine/api.ts';
import type { MergeApi, MergeBuildProgress, ModelSources } from './api.ts';

const DB = 'moe-studio-merge-worker-test';
const NAMES = ['base', 'e0', 'e1', 'e2'];
const SMALL = 'small/';
const LARGE = 'large/'; // 8 layers × hidden 256: the build takes long enough to overlap a chat turn
const sourcesOf = (prefix: string): ModelSources =>
  Object.fromEntries(NAMES.map((n) => [`org/${n}`, { kind: 'store', id: prefix + n, dbName: DB }]));
const yaml = `base_model: org/base
gate_mode: hidden
experts_per_token: 2
experts:
${NAMES.slice(1)
  .map((n, i) => `  - source_model: org/${n}\n    positive_prompts: ["prompt number ${i} about ${n}"]`)
  .join('\n')}
`;

let mergeWorker: Worker;
let engineWorker: Worker;
let merge: Comlink.Remote<MergeApi>;
let engine: Comlink.Remote<EngineApi>;

beforeAll(async () => {
  await clear(createStore(DB, 'models'));
  const kv = idbKvStore(DB, 'models');
  const seed = (Math.random() * 1e6) | 0;
  const large = testingDenseSpec({ hidden: 256, intermediate: 704, layers: 8, heads: 4, kvHeads: 2, headDim: 64 });
  for (const [i, n] of NAMES.entries()) {
    for (const [prefix, spec] of [
      [SMALL, testingDenseSpec()],
      [LARGE, large],
    ] as const) {
      const { files } = await randomHfFolder(n, seed + i, spec);
      await modelStoreImportFileSet(kv, { id: prefix + n, title: n, source: { kind: 'local', folderName: n }, files });
    }
  }
  mergeWorker = new Worker(new URL('../merge.worker.ts', import.meta.url), { type: 'module' });
  engineWorker = new Worker(new URL('../engine.worker.ts', import.meta.url), { type: 'module' });
  merge = Comlink.wrap<MergeApi>(mergeWorker);
  engine = Comlink.wrap<EngineApi>(engineWorker);
}, 120_000);

afterAll(async () => {
  mergeWorker?.terminate();
  engineWorker?.terminate();
  await clear(createStore(DB, 'models'));
});

const request = (prefix: string, outputId: string) => ({
  yaml,
  sources: sourcesOf(prefix),
  layout: 'classic' as const,
  outputId,
  title: outputId,
  notes: {},
  dbName: DB,
});

describe('merge worker + engine worker', () => {
  it('builds in the merge worker with progress; the engine worker loads and runs the stored result', async () => {
    expect(await merge.check(yaml, sourcesOf(SMALL))).toMatchObject({ ok: true, arch: 'Mixtral' });
    const phases = new Set<string>();
    const result = await merge.build(
      request(SMALL, 'built'),
      Comlink.proxy((p: MergeBuildProgress) => {
        phases.add(p.phase);
      }),
    );
    expect(result.files).toContain('config.json');
    expect([...phases]).toEqual(expect.arrayContaining(['gates', 'tensors', 'files']));
    const { model } = await engine.load({ kind: 'store', id: 'built', dbName: DB }, 'cpu');
    expect(model).toMatchObject({ arch: 'mixtral', experts: 3, expertsPerToken: 2 });
    const analyzed = await engine.analyze('prompt number 1 about e1');
    expect(analyzed.routing[0]!.layers[0]!.expertIds).toHaveLength(2);
  });

  it('streams chat tokens from the engine worker while a build runs in the merge worker', async () => {
    await engine.load({ kind: 'store', id: `${SMALL}base`, dbName: DB }, 'cpu');
    let building = true;
    let firstProgress!: () => void;
    const started = new Promise<void>((resolve) => {
      firstProgress = resolve;
    });
    const build = merge
      .build(
        request(LARGE, 'large-built'),
        Comlink.proxy(() => firstProgress()),
      )
      .finally(() => {
        building = false;
      });
    await started;
    const tokensDuringBuild: number[] = [];
    const summary = await engine.generate(
      { messages: [{ role: 'user', content: 'hello' }], sampling: { temperature: 0, maxTokens: 8 } },
      Comlink.proxy((events: EngineEvent[]) => {
        for (const e of events) if (e.type === 'token' && building) tokensDuringBuild.push(e.id);
      }),
    );
    expect(summary.tokens).toBeGreaterThan(0);
    expect(tokensDuringBuild.length).toBeGreaterThan(0);
    await build;
    expect((await modelStoreList(idbKvStore(DB, 'models'))).map((m) => m.id)).toContain('large-built');
  }, 120_000);

  it('cancel() sent on the first progress event rejects the build with CancelledError and stores nothing', async () => {
    let cancelSent = false;
    const run = merge.build(
      request(LARGE, 'cancelled'),
      Comlink.proxy(() => {
        if (!cancelSent) {
          cancelSent = true;
          void merge.cancel();
        }
      }),
    );
    const error = await run.then(
      () => undefined,
      (e: Error) => e,
    );
    expect(cancelSent).toBe(true);
    expect(error?.name).toBe('CancelledError');
    expect((await modelStoreList(idbKvStore(DB, 'models'))).map((m) => m.id)).not.toContain('cancelled');
  }, 60_000);

  it('a bad config is refused with a ConfigError (the name survives comlink)', async () => {
    const same = yaml
      .replace('source_model: org/e2', 'source_model: org/e1')
      .replace('source_model: org/e0', 'source_model: org/e1');
    const error = await merge
      .build(
        { ...request(SMALL, 'bad'), yaml: same },
        Comlink.proxy(() => {}),
      )
      .then(
        () => undefined,
        (e: Error) => e,
      );
    expect(error?.name).toBe('ConfigError');
    expect(error?.message).toContain('All of your expert models are the same.');
  });
});
