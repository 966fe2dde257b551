/**
 * The bench page (served by bench/server.ts with COOP/COEP, so cross-origin isolated).
 * Exposes one async function per engine on window; bench/run.ts calls them through
 * Playwright, one engine per fresh browser so the renderer's peak RSS is that engine's.
 */
import { Wllama } from '@wllama/wllama';
import wllamaWasmUrl from '@wllama/wllama/esm/wasm/wllama.wasm?url';
import { bytesSource } from '../../src/core/io/byte-source.ts';
import { loadGgufModel } from '../../src/core/model/gguf-model.ts';
import { argmax } from '../../src/core/runtime/cpu/ops.ts';
import type { Backend } from '../../src/core/runtime/types.ts';
import { createWasmBackend } from '../../src/core/runtime/wasm/backend.ts';
import type { EngineRun, PageRequest } from './engines.ts';

async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`bench: GET ${url} → ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** Our backends: the GGUF through area A's loadGgufModel, then greedy decode. */
async function runBackend(engine: string, backend: Backend, request: PageRequest, threads: number): Promise<EngineRun> {
  const loadStart = performance.now();
  const { weights } = await loadGgufModel(bytesSource(await fetchBytes(request.ggufUrl), request.ggufUrl));
  const session = await backend.createSession(weights, { maxContext: 512 });
  const loadMs = performance.now() - loadStart;
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
  const effectiveThreads = (session as unknown as { threads?: number }).threads ?? threads;
  const counters = webGpuCounters(session);
  session.dispose();
  return { engine, ttftMs, decodeMs, loadMs, threads: effectiveThreads, crossOriginIsolated, ...(counters ? { counters } : {}) };
}

/** Area E's per-forward counters of the last (decode) forward, when the session has them. */
function webGpuCounters(session: unknown): Record<string, number> | undefined {
  const last = (session as { stats?: { last?: Record<string, number> } }).stats?.last;
  if (!last) return undefined;
  return {
    dispatches: last.dispatches ?? NaN,
    submits: last.submits ?? NaN,
    syncs: last.syncs ?? NaN,
    weightBytesRead: last.weightBytesRead ?? NaN,
    activeWeightBytesPerToken: last.activeWeightBytesPerToken ?? NaN,
  };
}

async function benchWasm(request: PageRequest): Promise<EngineRun> {
  return runBackend('moe-studio wasm', await createWasmBackend({ threads: request.threads }), request, request.threads);
}

async function benchWebgpu(request: PageRequest): Promise<EngineRun> {
  const { createWebGpuBackend } = await import('../../src/core/runtime/webgpu/backend.ts');
  return runBackend('moe-studio webgpu', await createWebGpuBackend(), request, 1);
}

async function benchWllama(request: PageRequest): Promise<EngineRun> {
  const loadStart = performance.now();
  const wllama = new Wllama({ default: wllamaWasmUrl }, { suppressNativeLog: true });
  const blob = new Blob([await fetchBytes(request.ggufUrl) as BlobPart]);
  await wllama.loadModel([blob], { n_threads: request.threads, n_ctx: 512, n_batch: 512 });
  const loadMs = performance.now() - loadStart;
  const stamps: number[] = [];
  let timings: unknown;
  const started = performance.now();
  await wllama.createCompletion({
    prompt: request.promptText,
    max_tokens: request.decodeTokens + 1,
    temp: 0,
    ignore_eos: true,
    logit_bias: request.bannedIds.map((token) => ({ token, bias: -1e9 })),
    stream: true,
    onData: (chunk: { choices: { text?: string }[]; timings?: unknown }) => {
      if (chunk.choices.some((choice) => choice.text)) stamps.push(performance.now()); // one char piece per token
      if (chunk.timings) timings = chunk.timings;
    },
  } as never);
  const threads = wllama.getNumThreads();
  await wllama.exit();
  const decodeMs = stamps.slice(1).map((t, i) => t - stamps[i]!);
  return {
    engine: 'wllama', ttftMs: (stamps[0] ?? NaN) - started, decodeMs, loadMs, threads, crossOriginIsolated,
    note: `llama.cpp timings: ${JSON.stringify(timings)}; chunks ${stamps.length}`,
  };
}

declare global {
  interface Window { bench: Record<string, (request: PageRequest) => Promise<EngineRun>>; benchReady: boolean }
}
window.bench = { wasm: benchWasm, webgpu: benchWebgpu, wllama: benchWllama };
window.benchReady = true;
document.getElementById('status')!.textContent = `ready (crossOriginIsolated: ${crossOriginIsolated})`;
