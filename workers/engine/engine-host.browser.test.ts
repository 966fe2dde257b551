/**
 * The engine host in real Chromium: a tiny 4-expert MoE (merged by runMerge from seeded
 * random dense donors) is stored in real IndexedDB, loaded from the store with fromCache
 * progress, and generates a streamed answer with routing on the CPU reference and on the
 * automatically chosen backend; overrides change the routing; stop aborts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clear, createStore } from 'idb-keyval';
import { storeTestingMoe } from './testing-moe.testing.ts';
import { idbKvStore } from '../../src/core/store/kv.ts';
import { modelStoreImportFileSet } from '../../src/core/store/import-files.ts';
import type { LoadProgress } from '../../src/core/io/progress.ts';
import { EngineHost } from './engine-host.ts';
import { cpuBackend } from '../../src/core/runtime/cpu/backend.ts';
import { BackendError } from '../../src/core/errors.ts';
import type { EngineEvent } from './api.ts';

const DB = 'moe-studio-engine-test';
beforeAll(async () => {
  await clear(createStore(DB, 'models'));
  await storeTestingMoe(DB, 'moe', (Math.random() * 1e6) | 0);
});
afterAll(async () => {
  await clear(createStore(DB, 'models'));
});

describe('engine host', () => {
  it('a preload in warmUp is the answer to the same load, and any other load waits for it and then runs', async () => {
    const ref = { kind: 'store', id: 'moe', dbName: DB } as const;
    const host = new EngineHost();
    await host.warmUp({ ref, choice: 'cpu' });
    const progress: LoadProgress[] = [];
    const same = await host.load(ref, 'cpu', (p) => progress.push(p));
    expect(same.model.id).toBe('moe');
    expect(progress).toEqual([]); // nothing read again: the preloaded model answered
    expect(host.stats().state).toEqual({ kind: 'ready', modelId: 'moe' });

    const other = new EngineHost();
    await other.warmUp({ ref, choice: 'cpu' });
    const reread: LoadProgress[] = [];
    const wasm = await other.load(ref, 'wasm', (p) => reread.push(p)); // another choice: loaded again
    expect(wasm.backend.name).toBe('wasm');
    expect(reread.some((p) => p.phase === 'reading')).toBe(true);
  });

  it('warmUp ahead of a load (kernels compiled, spare pool workers started) gives the same greedy answer as a cold load', async () => {
    const answer = async (host: EngineHost) => {
      await host.load({ kind: 'store', id: 'moe', dbName: DB }, 'wasm', undefined, { threads: 2 });
      const ids: number[] = [];
      await host.generate(
        { messages: [{ role: 'user', content: 'hello there' }], sampling: { temperature: 0, maxTokens: 6 } },
        (batch) => {
          for (const e of batch) if (e.type === 'token') ids.push(e.id);
        },
      );
      host.reset();
      return ids;
    };
    const warm = new EngineHost();
    await warm.warmUp();
    const warmIds = await answer(warm);
    expect(warmIds.length).toBeGreaterThan(0);
    expect(warmIds).toEqual(await answer(new EngineHost()));
  });

  it('loads from the store with typed fromCache progress and streams tokens with routing', async () => {
    const host = new EngineHost();
    const progress: LoadProgress[] = [];
    const { model, backend } = await host.load({ kind: 'store', id: 'moe', dbName: DB }, 'cpu', (p) =>
      progress.push(p),
    );
    expect(model).toMatchObject({ experts: 4, expertsPerToken: 2, layers: model.layers });
    expect(backend.name).toBe('cpu');
    expect(progress.some((p) => p.phase === 'reading' && p.fromCache && p.totalBytes > 0)).toBe(true);

    const events: EngineEvent[] = [];
    const summary = await host.generate(
      { messages: [{ role: 'user', content: 'hello there' }], sampling: { temperature: 0, maxTokens: 6 } },
      (batch) => events.push(...batch),
    );
    const tokens = events.filter((e) => e.type === 'token');
    expect(tokens.length).toBe(summary.tokens);
    expect(summary.tokens).toBeGreaterThan(0);
    for (const t of tokens) {
      expect(t.routing!.layers).toHaveLength(model.layers);
      for (const l of t.routing!.layers) expect(l.expertIds).toHaveLength(2);
    }
    expect(host.stats().state).toEqual({ kind: 'ready', modelId: 'moe' });

    // Banning expert 0 everywhere: it never appears among chosen experts.
    const banned: EngineEvent[] = [];
    await host.generate(
      {
        messages: [{ role: 'user', content: 'hello there' }],
        sampling: { temperature: 0, maxTokens: 6 },
        routing: { ban: { experts: [0] } },
      },
      (b) => banned.push(...b),
    );
    for (const e of banned)
      if (e.type === 'token') for (const l of e.routing!.layers) expect(l.expertIds).not.toContain(0);

    const analyzed = await host.analyze('abc abc', { force: { experts: [3] } });
    expect(analyzed.pieces.length).toBe(analyzed.routing.length);
    for (const r of analyzed.routing) for (const l of r.layers) expect(l.expertIds).toContain(3);

    // Dynamic routing in the request: the fewest experts reaching p = 0.5, at most 3.
    const dynamic: EngineEvent[] = [];
    await host.generate(
      {
        messages: [{ role: 'user', content: 'hello there' }],
        sampling: { temperature: 0, maxTokens: 6 },
        routing: { expertsTopP: { p: 0.5, maxExperts: 3 } },
      },
      (b) => dynamic.push(...b),
    );
    expect(dynamic.some((e) => e.type === 'token')).toBe(true);
    for (const e of dynamic)
      if (e.type === 'token')
        for (const l of e.routing!.layers) {
          expect(l.expertIds.length).toBeGreaterThanOrEqual(1);
          expect(l.expertIds.length).toBeLessThanOrEqual(3);
          const mass = l.expertIds.reduce((sum, id) => sum + l.moeProbs[id]!, 0);
          if (l.expertIds.length < 3) expect(mass).toBeGreaterThanOrEqual(0.5 - 1e-6);
        }
    const refused = host.generate(
      {
        messages: [{ role: 'user', content: 'hello' }],
        sampling: { temperature: 0, maxTokens: 2 },
        routing: { expertsTopP: { p: 2 } },
      },
      () => {},
    );
    await expect(refused).rejects.toMatchObject({
      name: 'ConfigError',
      message: expect.stringContaining('expertsTopP.p 2'),
    });
  });

  it('stop aborts a running generation; auto picks a backend and says why', async () => {
    const host = new EngineHost();
    const { backend } = await host.load({ kind: 'store', id: 'moe', dbName: DB }, 'auto');
    expect(backend.reason.length).toBeGreaterThan(0);
    console.log('auto backend:', backend);
    let count = 0;
    const summary = await host.generate(
      {
        messages: [{ role: 'user', content: 'go' }],
        sampling: { temperature: 1, maxTokens: 500, seed: 1, stopIds: [] },
      },
      (b) => {
        count += b.length;
        if (count >= 1) host.stop(); // the first batch is flushed at the first token
      },
    );
    expect(summary.stoppedBy).toBe('abort');
    expect(summary.tokens).toBeLessThan(500);
  });

  it('a kernel failure mid-answer hands over to the CPU backend; the answer continues and says why', async () => {
    // No real GPU can be made to fail on demand here, so the failing backend is a stand-in:
    // the real CPU session, whose forward() throws a BackendError after 3 decode steps.
    const host = new EngineHost({
      openSession: async (weights, _choice, maxContext) => {
        const inner = await cpuBackend.createSession(weights, { maxContext });
        let calls = 0;
        const failing = Object.create(inner) as typeof inner;
        Object.defineProperty(failing, 'backend', { value: 'webgpu' });
        failing.forward = async (ids, options) => {
          if (++calls > 3) throw new BackendError('webgpu: device lost (test stand-in)');
          return inner.forward(ids, options);
        };
        return { session: failing, report: { name: 'webgpu', reason: 'test stand-in' } };
      },
    });
    await host.load({ kind: 'store', id: 'moe', dbName: DB }, 'auto');
    const events: EngineEvent[] = [];
    const summary = await host.generate(
      { messages: [{ role: 'user', content: 'hi' }], sampling: { temperature: 0, maxTokens: 8, stopIds: [] } },
      (b) => events.push(...b),
    );
    const switched = events.find((e) => e.type === 'backend');
    expect(switched).toMatchObject({
      type: 'backend',
      backend: {
        name: 'cpu',
        reason: expect.stringMatching(/webgpu failed: webgpu: device lost.*CPU backend took over/),
      },
    });
    expect(summary.backend.name).toBe('cpu');
    expect(summary.tokens).toBe(8);
    expect(host.stats().state.kind).toBe('ready');
    // Greedy decoding: the answer equals a CPU-only run of the same request.
    const reference = new EngineHost();
    await reference.load({ kind: 'store', id: 'moe', dbName: DB }, 'cpu');
    const ref: number[] = [];
    await reference.generate(
      { messages: [{ role: 'user', content: 'hi' }], sampling: { temperature: 0, maxTokens: 8, stopIds: [] } },
      (b) => b.forEach((e) => e.type === 'token' && ref.push(e.id)),
    );
    expect(events.flatMap((e) => (e.type === 'token' ? [e.id] : []))).toEqual(ref);
  });

  it('quantizes a stored model on import (q8_0 GGUF beside the tokenizer) and chats with it', async () => {
    const kv = idbKvStore(DB, 'models');
    const { modelStoreGet, modelStoreFileSet, modelStoreList } = await import('../../src/core/store/index.ts');
    const original = (await modelStoreGet(kv, 'moe'))!;
    const copyFiles = modelStoreFileSet(kv, original);
    await modelStoreImportFileSet(kv, {
      id: 'moe-copy',
      title: 'Copy',
      source: original.source,
      files: copyFiles,
      chunkBytes: 64 * 1024,
    });
    const host = new EngineHost();
    const newId = await host.quantizeStored('moe-copy', 'q8_0', DB);
    expect(newId).toBe('moe-copy:q8_0');
    const ids = (await modelStoreList(kv)).map((m) => m.id);
    expect(ids).toContain('moe-copy:q8_0');
    expect(ids).not.toContain('moe-copy');
    const converted = (await modelStoreGet(kv, newId))!;
    expect(converted.files.map((f) => f.name)).toContain('model.gguf');
    expect(converted.files.some((f) => f.name.endsWith('.safetensors'))).toBe(false);
    const ggufBytes = converted.files.find((f) => f.name === 'model.gguf')!.size;
    const safetensorsBytes = original.files
      .filter((f) => f.name.endsWith('.safetensors'))
      .reduce((s, f) => s + f.size, 0);
    expect(ggufBytes).toBeLessThan(safetensorsBytes); // f32 donors → q8_0 matrices
    const { model } = await host.load({ kind: 'store', id: newId, dbName: DB }, 'cpu');
    expect(model).toMatchObject({ experts: 4, expertsPerToken: 2 });
    const events: EngineEvent[] = [];
    const summary = await host.generate(
      { messages: [{ role: 'user', content: 'hello' }], sampling: { temperature: 0, maxTokens: 4, stopIds: [] } },
      (b) => events.push(...b),
    );
    expect(summary.tokens).toBe(4);
  });

  it('exports the loaded model as GGUF into a stream, paced by it; a stream that fails ends the export and a failed export aborts the stream', async () => {
    const host = new EngineHost();
    await host.load({ kind: 'store', id: 'moe', dbName: DB }, 'cpu');
    // a disk that stalls at the third chunk: the export waits for it instead of queueing the file
    const chunks: Uint8Array[] = [];
    let resume!: () => void;
    const stalled = new Promise<void>((resolve) => (resume = resolve));
    let handed = 0; // chunks the export gave the stream (its queuing strategy sizes each one)
    const out = new WritableStream<Uint8Array>(
      {
        async write(chunk) {
          if (chunks.length === 2) await stalled;
          chunks.push(chunk);
        },
      },
      { highWaterMark: 1, size: () => ++handed && 1 },
    );
    let settled = false;
    const exporting = host.exportGguf('q8_0', out).finally(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(settled).toBe(false);
    expect(chunks.length).toBe(2);
    expect(handed).toBe(3); // the stalled one, and nothing queued behind it
    resume();
    const { bytes } = await exporting;
    const file = new Uint8Array(await new Blob(chunks as BlobPart[]).arrayBuffer());
    expect(file.byteLength).toBe(bytes);
    const { readGguf } = await import('../../src/core/formats/gguf.ts');
    const { bytesSource } = await import('../../src/core/io/byte-source.ts');
    const gguf = await readGguf(bytesSource(file, 'export.gguf'));
    expect(gguf.metadata.get('llama.expert_count')?.value).toBe(4);
    // byte for byte what the core writer gives for the same stored model
    const { modelStoreGet, modelStoreFileSet } = await import('../../src/core/store/index.ts');
    const { loadModelLazy } = await import('../../src/core/model/load.ts');
    const { exportGguf } = await import('../../src/core/model/gguf-model.ts');
    const { MemorySink, readJsonFile } = await import('../../src/core/io/byte-source.ts');
    const files = modelStoreFileSet(idbKvStore(DB, 'models'), (await modelStoreGet(idbKvStore(DB, 'models'), 'moe'))!);
    const reference = new MemorySink();
    await exportGguf(
      reference,
      (await loadModelLazy(files)).weights,
      {
        tokenizerJson: await readJsonFile(files, 'tokenizer.json'),
        tokenizerConfig: await readJsonFile(files, 'tokenizer_config.json'),
      },
      'q8_0',
    );
    expect(file).toEqual(reference.bytes());

    // a save that fails (disk full) stops the export with its reason
    let writes = 0;
    const full = new WritableStream<Uint8Array>({
      write() {
        if (++writes > 3) throw new Error('disk full');
      },
    });
    await expect(host.exportGguf('q8_0', full)).rejects.toThrow(/disk full/);
    // an export that fails before its first tensor (a GGUF needs the tokenizer.json) aborts the stream
    let aborted: unknown;
    const noModel = new EngineHost();
    await expect(
      noModel.exportGguf('q8_0', new WritableStream({ abort: (reason) => void (aborted = reason) })),
    ).rejects.toThrow();
    expect(aborted).toBeInstanceOf(Error);
  });

  it('moves through the engine state union: empty → failed → loading → ready → generating → ready', async () => {
    const host = new EngineHost();
    expect(host.stats().state).toEqual({ kind: 'empty' });
    await expect(host.load({ kind: 'store', id: 'no-such-model', dbName: DB }, 'cpu')).rejects.toMatchObject({
      name: 'StoreError',
    });
    expect(host.stats().state).toMatchObject({ kind: 'failed', modelId: 'no-such-model', errorName: 'StoreError' });
    const loading = host.load({ kind: 'store', id: 'moe', dbName: DB }, 'cpu');
    expect(host.stats().state).toEqual({ kind: 'loading', modelId: 'moe' });
    await loading;
    expect(host.stats().state).toEqual({ kind: 'ready', modelId: 'moe' });
    const seen: string[] = [];
    await host.generate(
      { messages: [{ role: 'user', content: 'x' }], sampling: { temperature: 0, maxTokens: 2, stopIds: [] } },
      () => seen.push(host.stats().state.kind),
    );
    expect(seen.every((k) => k === 'generating')).toBe(true);
    expect(host.stats().state).toEqual({ kind: 'ready', modelId: 'moe' });
  });

  it('a conversation longer than the context drops its oldest turns and still answers', async () => {
    const host = new EngineHost();
    await host.load({ kind: 'store', id: 'moe', dbName: DB }, 'cpu');
    const turns = Array.from({ length: 40 }, (_, i) => ({
      role: (i % 2 ? 'assistant' : 'user') as 'user' | 'assistant',
      content: `turn ${i} says hello there friend`,
    }));
    const summary = await host.generate(
      {
        messages: [{ role: 'system', content: 'be brief' }, ...turns, { role: 'user', content: 'last' }],
        sampling: { temperature: 0, maxTokens: 4, stopIds: [] },
      },
      () => {},
    );
    expect(summary.tokens).toBe(4);
    expect(summary.promptTokens).toBeLessThanOrEqual(128 - 64);
  });

  it('a turn that extends the last one prefills only its new tokens, and answers as a fresh engine does', async () => {
    const turn = async (host: EngineHost, messages: { role: 'user' | 'assistant'; content: string }[]) => {
      const events: EngineEvent[] = [];
      // stopIds: [] so each answer has its 4 tokens: with the random model's seed, a greedy answer
      // could end on the end token at once, and an answer of no tokens leaves the cache unused.
      const summary = await host.generate({ messages, sampling: { temperature: 0, maxTokens: 4, stopIds: [] } }, (b) =>
        events.push(...b),
      );
      const tokens = events.filter((e) => e.type === 'token');
      return { summary, ids: tokens.map((t) => t.id), text: tokens.map((t) => t.text).join('') };
    };
    const reusing = new EngineHost();
    await reusing.load({ kind: 'store', id: 'moe', dbName: DB }, 'cpu');
    // Short turns: the testing model's context is 128 tokens with 64 kept for the answer, and a
    // longer conversation would drop its oldest turn (then nothing is a prefix).
    const first = await turn(reusing, [{ role: 'user', content: 'hi' }]);
    expect(first.summary.cachedTokens).toBe(0);
    const conversation = [
      { role: 'user' as const, content: 'hi' },
      { role: 'assistant' as const, content: first.text },
      { role: 'user' as const, content: 'ok?' },
    ];
    const second = await turn(reusing, conversation);
    // The whole first prompt is reused (and the answer's tokens, where they retokenize the same).
    expect(second.summary.cachedTokens).toBeGreaterThanOrEqual(first.summary.promptTokens);
    expect(second.summary.cachedTokens).toBeLessThan(second.summary.promptTokens);

    const fresh = new EngineHost();
    await fresh.load({ kind: 'store', id: 'moe', dbName: DB }, 'cpu');
    const direct = await turn(fresh, conversation);
    expect(direct.summary.cachedTokens).toBe(0);
    expect(second.ids).toEqual(direct.ids); // the reused cache gives the same greedy answer

    // Regenerate (the same request again) forks before the answer: all but the last prompt token reused.
    const again = await turn(reusing, conversation);
    expect(again.summary.cachedTokens).toBe(second.summary.promptTokens - 1);
    expect(again.ids).toEqual(direct.ids);
  });

  it('an answer of no tokens (the first sample is a stop) keeps its prefilled prompt for the next turn', async () => {
    const host = new EngineHost();
    await host.load({ kind: 'store', id: 'moe', dbName: DB }, 'cpu');
    const everyId = Array.from({ length: 1 << 16 }, (_, i) => i); // whatever is sampled first stops the answer
    const events: EngineEvent[] = [];
    const empty = await host.generate(
      { messages: [{ role: 'user', content: 'hi' }], sampling: { temperature: 0, maxTokens: 4, stopIds: everyId } },
      (b) => events.push(...b),
    );
    expect(empty.tokens).toBe(0);
    expect(events.filter((e) => e.type === 'token')).toEqual([]);
    const next = await host.generate(
      {
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: '' },
          { role: 'user', content: 'ok?' },
        ],
        sampling: { temperature: 0, maxTokens: 2, stopIds: [] },
      },
      () => {},
    );
    expect(next.cachedTokens).toBeGreaterThan(0);
    expect(next.cachedTokens).toBeLessThan(next.promptTokens);
  });
});
