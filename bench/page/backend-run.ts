/**
 * Runs one of our backends on a GGUF (loadGgufModel) and times prefill + greedy
 * decode. Used inside engine-worker.ts: like the app (workers/engine.worker.ts), the engine
 * runs off the page's main thread, where the thread-pool driver may sleep in Atomics.wait.
 */
import { bytesSource } from '../../src/core/io/byte-source.ts';
import { loadGgufModel } from '../../src/core/model/gguf-model.ts';
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
  const { weights } = await loadGgufModel(bytesSource(await fetchBytes(request.ggufUrl), request.ggufUrl));
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
