/**
 * wllama, the llama.cpp-in-WASM peer, in three builds on its CPU path, each run the way its
 * README runs it (loadModelFromUrl, createCompletion, n_threads set explicitly):
 *   wllama          3.8.1 default build: Memory64 + JSPI + wasm exceptions, `n_gpu_layers: 0`
 *                   (which also makes the worker's requestAdapter() resolve to null: no WebGPU adapter)
 *   wllama-compat   3.8.1's compat build (@wllama/wllama-compat): wasm32 + Asyncify, the same
 *                   llama.cpp commit and flags otherwise, `n_gpu_layers: 0` — forced on Chromium,
 *                   where wllama would only use it without JSPI or Memory64
 *   wllama-2.3      2.3.7, the last wasm32 release line (llama.cpp b7179, -flto=full), no WebGPU at all
 * Each returns the engine label with its version and settings, so every table row and ratio names them.
 */
import { Wllama } from '@wllama/wllama';
import compatWasmUrl from '@wllama/wllama-compat/wasm/wllama.wasm?url';
import compatWorkerCode from '@wllama/wllama-compat/wasm/wllama.js?raw';
import wllamaWasmUrl from '@wllama/wllama/esm/wasm/wllama.wasm?url';
import { Wllama as Wllama2 } from 'wllama-2.3';
import wllama2MultiUrl from 'wllama-2.3/esm/multi-thread/wllama.wasm?url';
import wllama2SingleUrl from 'wllama-2.3/esm/single-thread/wllama.wasm?url';
import { version as compatVersion } from '@wllama/wllama-compat/package.json';
import { version as wllama3Version } from '@wllama/wllama/package.json';
import { version as wllama2Version } from 'wllama-2.3/package.json';
import type { EngineRun, PageRequest } from './engines.ts';

export type WllamaPeer = 'wllama' | 'wllama-compat' | 'wllama-2.3';

/** Tells bench/measure.ts to sample the renderer's CPU time (exposed by Playwright; absent when run by hand). */
export async function cpuMark(name: 'start' | 'end'): Promise<void> {
  await (window as { benchCpuMark?: (name: string) => Promise<void> }).benchCpuMark?.(name);
}

interface TokenClock {
  stamps: number[];
  started: number;
}

function runResult(engine: string, clock: TokenClock, loadMs: number, threads: number, note: string): EngineRun {
  const { stamps, started } = clock;
  return {
    engine,
    ttftMs: (stamps[0] ?? NaN) - started,
    decodeMs: stamps.slice(1).map((t, i) => t - stamps[i]!),
    loadMs,
    threads,
    crossOriginIsolated,
    note,
  };
}

async function benchWllama3(request: PageRequest, compat: boolean): Promise<EngineRun> {
  const loadStart = performance.now();
  const wllama = new Wllama({ default: wllamaWasmUrl }, { suppressNativeLog: true });
  if (compat) {
    // wllama picks compat only where JSPI or Memory64 is missing; here it is forced (the same
    // resources its setCompat() would hand the worker, served locally instead of from a CDN).
    wllama.getWorkerResources = () => ({
      wasmPath: new URL(compatWasmUrl, location.href).href,
      jsPath: { code: compatWorkerCode },
      compat: true,
    });
  }
  // wllama's own download path (as its README does). Handing it Blobs failed intermittently
  // inside wllama's file reader (NotReadableError on a 370 MB Blob).
  await wllama.loadModelFromUrl(new URL(request.ggufUrl, location.href).href, {
    n_threads: request.threads,
    n_ctx: 512,
    n_batch: 512,
    n_gpu_layers: 0,
  });
  const loadMs = performance.now() - loadStart;
  let timings: unknown;
  await cpuMark('start');
  const clock: TokenClock = { stamps: [], started: performance.now() };
  await wllama.createCompletion({
    prompt: request.promptText,
    max_tokens: request.decodeTokens + 1,
    temp: 0,
    ignore_eos: true,
    logit_bias: request.bannedIds.map((token) => ({ token, bias: -1e9 })),
    stream: true,
    onData: (chunk: { choices: { text?: string }[]; timings?: unknown }) => {
      if (chunk.choices.some((choice) => choice.text)) clock.stamps.push(performance.now()); // one char piece per token
      if (chunk.timings) timings = chunk.timings;
    },
  } as never);
  await cpuMark('end');
  const threads = wllama.getNumThreads();
  await wllama.exit();
  const label = compat
    ? `wllama ${compatVersion} compat (wasm32+Asyncify, n_gpu_layers 0)`
    : `wllama ${wllama3Version} (Memory64+JSPI, n_gpu_layers 0)`;
  return runResult(
    label,
    clock,
    loadMs,
    threads,
    `llama.cpp ${Wllama.getLibllamaVersion()} timings: ${JSON.stringify(timings)}; chunks ${clock.stamps.length}`,
  );
}

async function benchWllama2(request: PageRequest): Promise<EngineRun> {
  const loadStart = performance.now();
  const wllama = new Wllama2(
    { 'single-thread/wllama.wasm': wllama2SingleUrl, 'multi-thread/wllama.wasm': wllama2MultiUrl },
    { suppressNativeLog: true },
  );
  await wllama.loadModelFromUrl(new URL(request.ggufUrl, location.href).href, {
    n_threads: request.threads,
    n_ctx: 512,
    n_batch: 512,
  });
  const loadMs = performance.now() - loadStart;
  await cpuMark('start');
  const clock: TokenClock = { stamps: [], started: performance.now() };
  await wllama.createCompletion(request.promptText, {
    nPredict: request.decodeTokens + 1,
    sampling: { temp: 0, logit_bias: request.bannedIds.map((token) => ({ token, bias: -1e9 })) },
    onNewToken: () => {
      clock.stamps.push(performance.now());
    },
  });
  await cpuMark('end');
  const threads = wllama.getNumThreads();
  await wllama.exit();
  return runResult(
    `wllama ${wllama2Version} (wasm32, CPU only)`,
    clock,
    loadMs,
    threads,
    `chunks ${clock.stamps.length}`,
  );
}

export const WLLAMA_PEERS: Record<WllamaPeer, (request: PageRequest) => Promise<EngineRun>> = {
  wllama: (request) => benchWllama3(request, false),
  'wllama-compat': (request) => benchWllama3(request, true),
  'wllama-2.3': benchWllama2,
};
