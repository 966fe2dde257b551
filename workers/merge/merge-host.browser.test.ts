/**
 * The compose worker side in real Chromium: five seeded random dense donors stored in real
 * IndexedDB; live check (plan) → routing preview from recomputed hidden gates → build into
 * the store (loadable by the engine) → cancel leaves nothing behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clear, createStore } from 'idb-keyval';
import { randomHfFolder } from '../../src/core/merge/models.testing.ts';
import { idbKvStore } from '../../src/core/store/kv.ts';
import { modelStoreImportFileSet } from '../../src/core/store/import-files.ts';
import { chunkPrefix } from '../../src/core/store/manifest.ts';
import { modelStoreList, modelStoreListPending } from '../../src/core/store/model-store.ts';
import { EngineHost } from '../engine/engine-host.ts';
import { MergeHost } from './merge-host.ts';
import { dequantize } from '../../src/core/quant/convert.ts';
import { loadHfModel } from '../../src/core/model/load.ts';
import { modelStoreGet } from '../../src/core/store/model-store.ts';
import { modelStoreFileSet } from '../../src/core/store/store-file-set.ts';
import { loadModel } from '../../src/core/model/load.ts';
import { quantizeStoredModel } from '../engine/quantize-stored.ts';
import type { ModelSources } from './api.ts';
import { readZipEntries } from '../../src/core/formats/zip.ts';
import { openSafetensors } from '../../src/core/formats/safetensors.ts';
import { bytesSource } from '../../src/core/io/byte-source.ts';
import { DEFAULT_CALIBRATION } from '../../src/core/calibrate/merged.ts';

const DB = 'moe-studio-merge-test';
const NAMES = ['base', 'e0', 'e1', 'e2', 'e3'];
const sources: ModelSources = Object.fromEntries(NAMES.map((n) => [`org/${n}`, { kind: 'store', id: n, dbName: DB }]));
const yaml = (gateMode: string, k = 2) => `base_model: org/base
gate_mode: ${gateMode}
experts_per_token: ${k}
experts:
${NAMES.slice(1)
  .map((n, i) => `  - source_model: org/${n}\n    positive_prompts: ["prompt number ${i} about ${n}"]`)
  .join('\n')}
`;

beforeAll(async () => {
  await clear(createStore(DB, 'models'));
  const kv = idbKvStore(DB, 'models');
  const seed = (Math.random() * 1e6) | 0;
  for (const [i, n] of NAMES.entries()) {
    const { files } = await randomHfFolder(n, seed + i);
    await modelStoreImportFileSet(kv, { id: n, title: n, source: { kind: 'local', folderName: n }, files });
  }
});
afterAll(async () => {
  await clear(createStore(DB, 'models'));
});

describe('merge host', () => {
  it('checks live: a valid config plans a Mixtral; a bad experts_per_token and an unknown model are issues', async () => {
    const host = new MergeHost();
    expect(await host.check(yaml('hidden'), sources)).toMatchObject({ ok: true, arch: 'Mixtral' });
    const tooMany = await host.check(yaml('hidden', 9), sources);
    expect(tooMany.ok).toBe(false);
    expect(tooMany.issues[0].field).toMatch(/^experts/); // validateMergeConfig names the experts list (k > number of experts)
    const unknown = await host.check(yaml('hidden').replace('org/e3', 'org/missing'), sources);
    expect(unknown.issues[0].message).toMatch(/org\/missing.*not in the library/);
  });

  it('previews routing per token and layer from hidden gates without loading experts', async () => {
    const preview = await new MergeHost().preview(yaml('hidden'), sources, 'prompt number 2 about e2 and more');
    expect(preview.pieces.length).toBeGreaterThan(3);
    for (const r of preview.routing) {
      expect(r.layers.length).toBeGreaterThan(0);
      for (const l of r.layers) {
        expect(l.expertIds).toHaveLength(2);
        expect(l.moeProbs).toHaveLength(4);
        expect(l.expertWeights[0] + l.expertWeights[1]).toBeCloseTo(1, 5);
      }
    }
  });

  it('builds into the store with notes, and the engine runs the result', async () => {
    const progress: string[] = [];
    const result = await new MergeHost().build(
      {
        yaml: yaml('hidden'),
        sources,
        layout: 'classic',
        outputId: 'built',
        title: 'Built',
        notes: { experts: ['x'] },
        dbName: DB,
      },
      (p) => progress.push(p.phase),
    );
    expect(result.files).toContain('config.json');
    expect(progress).toContain('tensors');
    const stored = (await modelStoreList(idbKvStore(DB, 'models'))).find((m) => m.id === 'built')!;
    expect(stored.notes).toMatchObject({ experts: ['x'], arch: 'Mixtral' });
    expect(stored.source).toMatchObject({ kind: 'merge', yaml: yaml('hidden') });
    const { model } = await new EngineHost().load({ kind: 'store', id: 'built', dbName: DB }, 'cpu');
    expect(model).toMatchObject({ arch: 'mixtral', experts: 4, expertsPerToken: 2 });
  });

  it('cancel stops a build with CancelledError and stores nothing', async () => {
    const host = new MergeHost();
    const building = host.build(
      { yaml: yaml('hidden'), sources, layout: 'classic', outputId: 'cancelled', title: 'C', notes: {}, dbName: DB },
      () => {},
    );
    host.cancel();
    await expect(building).rejects.toMatchObject({ name: 'CancelledError' });
    expect((await modelStoreList(idbKvStore(DB, 'models'))).map((m) => m.id)).not.toContain('cancelled');
  });

  it('builds straight into the store: no import record is left, the same id again is refused before merging, and a cancel mid-merge deletes the chunks already written', async () => {
    const host = new MergeHost();
    const kv = idbKvStore(DB, 'models');
    const request = {
      yaml: yaml('hidden'),
      sources,
      layout: 'classic' as const,
      title: 'S',
      notes: {},
      dbName: DB,
      chunkBytes: 4096,
    };
    // (that the bytes reach the store during the merge, not after it, is store/streamed-write.test.ts's)
    await host.build({ ...request, outputId: 'streamed' }, () => {});
    const built = (await modelStoreList(kv)).find((m) => m.id === 'streamed')!;
    expect(built.files.map((f) => f.name)).toEqual(expect.arrayContaining(['model.safetensors', 'config.json']));
    expect(await modelStoreListPending(kv)).not.toContainEqual(expect.objectContaining({ id: 'streamed' }));
    // the same id again is refused before anything is merged, and the stored model stays
    await expect(host.build({ ...request, outputId: 'streamed' }, () => {})).rejects.toMatchObject({
      name: 'StoreError',
      message: expect.stringMatching(/already exists/),
    });
    expect((await modelStoreGet(kv, 'streamed'))?.createdAt).toBe(built.createdAt);

    let cancelled = false;
    const building = host.build({ ...request, outputId: 'cancel-storing' }, (p) => {
      if (p.phase === 'tensors' && p.bytesDone > p.bytesTotal / 2 && !cancelled) {
        cancelled = true;
        host.cancel();
      }
    });
    await expect(building).rejects.toMatchObject({ name: 'CancelledError' });
    expect(cancelled).toBe(true);
    expect(await kv.keys(chunkPrefix('cancel-storing'))).toEqual([]);
    expect(await modelStoreListPending(kv)).not.toContainEqual(expect.objectContaining({ id: 'cancel-storing' }));
    expect((await modelStoreList(kv)).map((m) => m.id)).not.toContain('cancel-storing');
  });

  it('an output the engine cannot open (DeepSeek MoE) is refused up front with the reason, and nothing is stored', async () => {
    const kv = idbKvStore(DB, 'models');
    // llama donors with a shared expert and architecture: deepseek → mergekit's DeepSeek MoE writer
    const deepseek = `base_model: org/base\ngate_mode: uniform_random\narchitecture: deepseek\nexperts:\n  - source_model: org/e0\n    positive_prompts: ["a"]\n  - source_model: org/e1\n    positive_prompts: ["b"]\nshared_experts:\n  - source_model: org/e2\n`;
    const host = new MergeHost();
    const check = await host.check(deepseek, sources);
    expect(check.issues).toEqual([]);
    expect(check).toMatchObject({ ok: true, arch: 'DeepSeek MoE' });
    expect(check.exportOnly).toMatch(/cannot open it/);
    const request = { yaml: deepseek, sources, layout: 'classic' as const, title: 'DS', notes: {}, dbName: DB };
    await expect(host.build({ ...request, outputId: 'ds-refused' }, () => {})).rejects.toMatchObject({
      name: 'ConfigError',
      message: expect.stringMatching(/^merge: a DeepSeek MoE model \(model_type deepseek\)/),
    });
    expect(await kv.keys(chunkPrefix('ds-refused'))).toEqual([]);
    // a Mixtral output is built as before
    expect((await host.check(yaml('hidden'), sources)).exportOnly).toBeUndefined();
  });

  it('Build for export only streams the HF folder as a zip into the given stream, stores nothing, and cancel aborts it', async () => {
    const kv = idbKvStore(DB, 'models');
    const before = (await modelStoreList(kv)).map((m) => m.id);
    const deepseek = `base_model: org/base\ngate_mode: uniform_random\narchitecture: deepseek\nexperts:\n  - source_model: org/e0\n    positive_prompts: ["a"]\n  - source_model: org/e1\n    positive_prompts: ["b"]\nshared_experts:\n  - source_model: org/e2\n`;
    const request = { yaml: deepseek, sources, layout: 'classic' as const, title: 'DS export', folder: 'DS-export' };
    const host = new MergeHost();
    const chunks: BlobPart[] = [];
    const out = new WritableStream<Uint8Array>({ write: (c) => void chunks.push(c.slice()) });
    const result = await host.buildExport(request, out, () => {});
    expect(result.arch).toBe('DeepSeek MoE');
    const entries = readZipEntries(new Uint8Array(await new Blob(chunks).arrayBuffer()));
    expect([...entries.keys()].sort()).toEqual(result.files.map((f) => `DS-export/${f}`).sort());
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'mergekit_moe_config.yml', 'README.md'])
      expect(entries.has(`DS-export/${f}`)).toBe(true);
    expect(JSON.parse(new TextDecoder().decode(entries.get('DS-export/config.json'))).model_type).toBe('deepseek');
    const tensors = await openSafetensors(bytesSource(entries.get('DS-export/model.safetensors')!, 'zip'));
    expect(tensors.tensors.some((t) => t.name.includes('.mlp.shared_experts.'))).toBe(true);
    expect((await modelStoreList(kv)).map((m) => m.id)).toEqual(before);

    // cancel once tensors flow: the call rejects as cancelled and the stream it wrote into is aborted
    let aborted: unknown;
    const cancelOut = new WritableStream<Uint8Array>({ abort: (reason) => void (aborted = reason) });
    let cancelled = false;
    const exporting = host.buildExport(request, cancelOut, (p) => {
      if (p.phase === 'tensors' && !cancelled) {
        cancelled = true;
        host.cancel();
      }
    });
    await expect(exporting).rejects.toMatchObject({ name: 'CancelledError' });
    expect((aborted as Error | undefined)?.name).toBe('CancelledError');
    // a Mixtral output opens here: it is built into the library, not exported
    await expect(
      host.buildExport({ ...request, yaml: yaml('uniform_random') }, new WritableStream(), () => {}),
    ).rejects.toMatchObject({ name: 'ConfigError', message: expect.stringMatching(/opens here/) });
    expect((await modelStoreList(kv)).map((m) => m.id)).toEqual(before);
  });

  it('a quantized import (q8_0 GGUF in the store) is a donor: merged from its dequantized weights, with a warning', async () => {
    const kv = idbKvStore(DB, 'models');
    const { files } = await randomHfFolder('quantized donor', (Math.random() * 1e6) | 0);
    await modelStoreImportFileSet(kv, {
      id: 'qd',
      title: 'quantized donor',
      source: { kind: 'local', folderName: 'qd' },
      files,
    });
    const quantized = await quantizeStoredModel(kv, 'qd', 'q8_0');
    const withQuantized: ModelSources = { ...sources, 'org/e3': { kind: 'store', id: quantized.id, dbName: DB } };
    const host = new MergeHost();
    const check = await host.check(yaml('hidden'), withQuantized);
    expect(check.ok).toBe(true);
    expect(check.warnings.join('\n')).toMatch(/'quantized donor \(q8_0\)' is stored quantized \(q8_0\)/);
    const result = await host.build(
      {
        yaml: yaml('hidden'),
        sources: withQuantized,
        layout: 'classic',
        outputId: 'with-quantized',
        title: 'Q',
        notes: {},
        dbName: DB,
      },
      () => {},
    );
    expect(result.warnings.join('\n')).toMatch(/dequantized/);
    const merged = await loadHfModel(modelStoreFileSet(kv, (await modelStoreGet(kv, 'with-quantized'))!));
    const donor = await loadModel(modelStoreFileSet(kv, (await modelStoreGet(kv, quantized.id))!));
    for (const role of ['gate', 'up', 'down'] as const) {
      const got = merged.weights.layers[1]!.moe!.experts[3]![role];
      expect(got.dtype).toBe('f32');
      expect(Array.from(dequantize(got))).toEqual(Array.from(dequantize(donor.weights.layers[1]!.mlp![role])));
    }
    // The same model as the base: attention (q/k went through GGUF's RoPE permutation and back) is its own.
    const asBase: ModelSources = { ...sources, 'org/base': { kind: 'store', id: quantized.id, dbName: DB } };
    await host.build(
      {
        yaml: yaml('hidden'),
        sources: asBase,
        layout: 'classic',
        outputId: 'quantized-base',
        title: 'QB',
        notes: {},
        dbName: DB,
      },
      () => {},
    );
    const mergedOnBase = await loadHfModel(modelStoreFileSet(kv, (await modelStoreGet(kv, 'quantized-base'))!));
    expect(mergedOnBase.config.torch_dtype).toBe('float32');
    for (const role of ['wq', 'wk', 'wv', 'wo'] as const) {
      expect(Array.from(dequantize(mergedOnBase.weights.layers[0]![role]))).toEqual(
        Array.from(dequantize(donor.weights.layers[0]![role])),
      );
    }
  });

  describe('router calibration', () => {
    // Four experts, each with texts of its own words: the calibrated router separates them.
    const WORDS = [
      ['once', 'upon', 'a', 'time', 'little', 'cat'],
      ['def', 'return', 'import', 'class', 'self', 'print'],
      ['12', '+', '35', '=', '47', 'seven'],
      ['hello', 'how', 'are', 'you', 'today', 'thanks'],
    ];
    const texts = WORDS.flatMap((words, expert) =>
      Array.from({ length: 4 }, (_, i) => ({
        expert,
        text: Array.from({ length: 16 }, (_, j) => words[(i * 5 + j * 3) % words.length]).join(' '),
      })),
    );

    it('calibrate reports typed progress and before/after per expert and layer; a build reuses it and notes it', async () => {
      const host = new MergeHost();
      const progress: { phase: string; done: number; total: number }[] = [];
      const summary = await host.calibrate(yaml('hidden'), sources, { texts }, (p) => progress.push(p));
      expect(new Set(progress.map((p) => p.phase))).toEqual(new Set(['merge', 'forward', 'fit', 'done', 'evaluate']));
      for (const p of progress) expect(p.done).toBeLessThanOrEqual(p.total);
      expect(summary).toMatchObject({ method: DEFAULT_CALIBRATION.method, texts: 16, textsPerExpert: [4, 4, 4, 4] });
      expect(summary.dataSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(summary.before.ownShare).toHaveLength(4);
      expect(summary.after.ownShare[0]).toHaveLength(summary.before.ownShare[0].length);
      const mean = (m: (number | null)[][]) => m.flat().reduce<number>((a, b) => a + (b ?? 0), 0) / m.flat().length;
      expect(mean(summary.after.ownShare)).toBeGreaterThan(mean(summary.before.ownShare));
      expect(mean(summary.after.ownShare)).toBeGreaterThan(0.9);
      for (const v of [...summary.before.perplexity, ...summary.after.perplexity]) expect(v).toBeGreaterThan(1);

      const phases: string[] = [];
      await host.build(
        {
          yaml: yaml('hidden'),
          sources,
          layout: 'classic',
          outputId: 'calibrated',
          title: 'Calibrated',
          notes: {},
          dbName: DB,
          calibration: { texts },
        },
        (p) => phases.push(p.phase),
      );
      expect(phases).not.toContain('gates'); // the kept fit is written; no gate_mode gates are computed
      const kv = idbKvStore(DB, 'models');
      const stored = (await modelStoreGet(kv, 'calibrated'))!;
      expect(stored.notes?.calibration).toMatchObject({
        method: DEFAULT_CALIBRATION.method,
        texts: 16,
        dataSha256: summary.dataSha256,
      });
      const files = modelStoreFileSet(kv, stored);
      const card = await files.open('README.md');
      expect(new TextDecoder().decode(await card.read(0, card.size))).toMatch(
        new RegExp(`Router calibration[\\s\\S]*method: ${DEFAULT_CALIBRATION.method}`),
      );
    });

    it('cancel stops a calibration with CancelledError and keeps the previous fit for the build', async () => {
      const host = new MergeHost();
      const first = await host.calibrate(yaml('hidden'), sources, { texts }, () => {});
      let cancelled = false;
      const second = host.calibrate(
        yaml('hidden'),
        sources,
        { texts: texts.slice(0, 12).concat(texts.slice(13)) },
        (p) => {
          if (p.phase === 'forward' && !cancelled) {
            cancelled = true;
            host.cancel();
          }
        },
      );
      await expect(second).rejects.toMatchObject({ name: 'CancelledError' });
      // The first fit is still the kept one: calibrating its texts again answers at once with the same figures.
      expect(await host.calibrate(yaml('hidden'), sources, { texts }, () => expect.unreachable())).toEqual(first);
    });
  });
});
