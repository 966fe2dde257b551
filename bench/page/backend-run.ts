/**
 * Runs one of our backends on a GGUF (loadGgufModel) and times prefill + greedy
 * decode. Used inside engine-worker.ts: like the app (workers/engine.worker.ts), the engine
 * runs off the page's main thread, where the thread-pool driver may sleep in Atomics.wait.
 */
import { fetchFileSet, RANGE_READ_MIN_BYTES } from '../../src/core/hub/fetch-file-set.ts';
import { bytesSource, type ByteSource } from '../../src/core/io/byte-source.ts';
import { loadGgufModelLazy } from '../../src/core/model/gguf-model-import.ts';
import { argmax } from '../../src/core/runtime/cpu/ops.ts';
import type { Backend } from '../../src/core/runtime/types.ts';
import { createWasmBackend } from '../../src/core/runtime/wasm/backend.ts';
import type { EngineRun, PageRequest } from './engines.ts';

export type BackendEngine = 'wasm' | 'webgpu';

export async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`bench: GET ${url} → ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/**
 * The GGUF as a ByteSource: fetched whole, or, from RANGE_READ_MIN_BYTES on (the 4×TinyLlama-
 * dims files, 1.8–3.6 GB), read by Range requests a tensor at a time as the app's URL loads
 * do. With the lazy loader the page then holds no second copy of the weights beside the
 * backend's (the tiny22 block of 2026-12-07 06:51 still loaded eagerly: its peak RSS has it).
 */
async function ggufSource(url: string): Promise<ByteSource> {
  const head = await fetch(url, { method: 'HEAD' });
  const size = Number(head.headers.get('content-length'));
  if (!head.ok || !Number.isSafeInteger(size) || size < RANGE_READ_MIN_BYTES)
    return bytesSource(await fetchBytes(url), url);
  const name = url.slice(url.lastIndexOf('/') + 1);
  return fetchFileSet(fetch, url.slice(0, url.lastIndexOf('/')), [{ name, size }], name).open(name);
}

/** The WebGPU session's per-forward counters of the last (decode) forward, when the session has them. */
function webGpuCounters(session: unknown): Record<string, number> | undefined {
  const last = (session as { stats?: { last?: Record<string, number> } }).stats?.last;
  if (!last) return undefined;
  const { dispatches, submits, syncs, weightBytesRead, activeWeightBytesPerToken } = last;
  return {
    dispatches: dispatches ?? NaN,
    submits: submits ?? NaN,
    syncs: syncs ?? NaN,
    weightBytesRead: weightBytesRead ?? NaN,
    activeWeightBytesPerToken: activeWeightBytesPerToken ?? NaN,
  };
}

async function createBackend(engine: BackendEngine, threads: number): Promise<Backend> {
  if (engine === 'wasm') return createWasmBackend({ threads });
  const { createWebGpuBackend } = await import('../../src/core/runtime/webgpu/backend.ts');
  return createWebGpuBackend();
}

/** `mark` brackets the timed part so bench/measure.ts can read the renderer's CPU time over it. */
export async function runBackend(
  engine: BackendEngine,
  request: PageRequest,
  mark: (name: 'start' | 'end') => Promise<void> = async () => {},
): Promise<EngineRun> {
  const loadStart = performance.now();
  const backend = await createBackend(engine, request.threads);
  // lazy: each tensor is read when the backend packs (or uploads) it, as the app loads
  const { weights } = await loadGgufModelLazy(await ggufSource(request.ggufUrl));
  const session = await backend.createSession(weights, { maxContext: 512 });
  const loadMs = performance.now() - loadStart;
  await mark('start');
  const started = performance.now();
  let { logits } = await session.forward(request.promptIds);
  let next = argmax(logits);
  const ttftMs = performance.now() - started;
  const decodeMs: number[] = [];
  for (let i = 0; i < request.decodeTokens; i++) {
    const t0 = performance.now();
    ({ logits } = await session.forward([next]));
    next = argmax(logits);
    decodeMs.push(performance.now() - t0);
  }
  await mark('end');
  const threads = (session as unknown as { threads?: number }).threads ?? 1;
  const counters = webGpuCounters(session);
  const weightBytesPerToken = (session as unknown as { activeBytesPerToken?: number }).activeBytesPerToken;
  session.dispose();
  return {
    engine: `moe-studio ${engine}`,
    ttftMs,
    decodeMs,
    loadMs,
    threads,
    crossOriginIsolated,
    note: 'run in a dedicated worker',
    ...(counters ? { counters } : {}),
    ...(weightBytesPerToken ? { weightBytesPerToken } : {}),
  };
}
