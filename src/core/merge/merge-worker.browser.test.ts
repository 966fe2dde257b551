import * as Comlink from 'comlink';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { MergeSource, MergeWorkerApi } from '../../../workers/merge.worker.ts';
import type { FileSet } from '../io/byte-source.ts';
import type { MergeProgress } from './run.ts';
import { randomHfFolder, testingDenseSpec } from './testing-models.ts';

let worker: Worker;
let api: Comlink.Remote<MergeWorkerApi>;
let sources: Record<string, MergeSource>;

async function filesOf(set: FileSet): Promise<Record<string, Uint8Array>> {
  const out: Record<string, Uint8Array> = {};
  for (const f of await set.list()) { const s = await set.open(f); out[f] = (await s.read(0, s.size)).slice(); }
  return out;
}

beforeAll(async () => {
  worker = new Worker(new URL('../../../workers/merge.worker.ts', import.meta.url), { type: 'module' });
  api = Comlink.wrap<MergeWorkerApi>(worker);
  const spec = testingDenseSpec();
  sources = {};
  for (const [name, seed] of [['org/base', 1], ['org/a', 2], ['org/b', 3]] as const) {
    sources[name] = { kind: 'files', files: await filesOf((await randomHfFolder(name, seed, spec, 'f32')).files) };
  }
});

afterAll(() => worker?.terminate());

const YAML = `base_model: org/base
experts:
  - source_model: org/a
    positive_prompts: ["Once upon a time"]
  - source_model: org/b
    positive_prompts: ["def add(a, b):"]
`;

describe('merge worker (comlink)', () => {
  it('builds in the worker with progress, then hands ModelWeights and files back', async () => {
    const events: MergeProgress[] = [];
    const handle = await api.build(YAML, sources, {}, Comlink.proxy((p: MergeProgress) => { events.push(p); }));
    expect(handle.arch).toBe('Mixtral');
    expect(handle.runnable).toBe(true);
    expect(events.some((e) => e.phase === 'tensors')).toBe(true);
    await vi.waitFor(() => expect(events[events.length - 1]!.phase).toBe('done')); // progress travels on its own channel
    const weights = await api.weights(handle.id);
    expect(weights.spec.moe).toMatchObject({ experts: 2, topK: 2 });
    expect(weights.layers[0]!.moe!.router.shape).toEqual([2, weights.spec.hidden]);
    expect(new TextDecoder().decode(await api.file(handle.id, 'mergekit_moe_config.yml'))).toBe(YAML);
    await api.release(handle.id);
    await expect(api.file(handle.id, 'config.json')).rejects.toThrow(/no file/);
  });

  it('cancel() rejects the running build with a CancelledError (kind kept across comlink)', async () => {
    // The cancel is sent when the worker's first progress event (gates) arrives, so it always
    // reaches the worker mid-build (gates + tensors take ~200 ms on these models); runMerge yields
    // a macrotask turn before committing, so it lands even if the tail of the build ran without a
    // yield. Cancelling right after build() raced the worker's start-up and was flaky.
    const spec = testingDenseSpec({ hidden: 256, intermediate: 704, layers: 8, heads: 4, kvHeads: 2, headDim: 64 });
    const bigSources: Record<string, MergeSource> = {};
    for (const [name, seed] of [['org/base', 11], ['org/a', 12], ['org/b', 13]] as const) {
      bigSources[name] = { kind: 'files', files: await filesOf((await randomHfFolder(name, seed, spec, 'f32')).files) };
    }
    let cancelSent = false;
    const run = api.build(YAML, bigSources, {}, Comlink.proxy((p: MergeProgress) => {
      if (!cancelSent) { cancelSent = true; void api.cancel(); }
    }));
    const error = await run.then(() => undefined, (e: Error) => e);
    expect(cancelSent).toBe(true);
    expect(error?.name).toBe('CancelledError');
  });

  it('a bad config is refused with a ConfigError naming mergekit rule', async () => {
    const error = await api.build(YAML.replace('source_model: org/b\n', 'source_model: org/a\n'), sources, {}).then(() => undefined, (e: Error) => e);
    expect(error?.name).toBe('ConfigError');
    expect(error?.message).toContain('All of your expert models are the same.');
  });
});
