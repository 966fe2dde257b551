/**
 * The bench page (served by bench/server.ts with COOP/COEP, so cross-origin isolated).
 * Exposes one async function per engine on window; bench/run.ts calls them through
 * Playwright, one engine per fresh browser so the renderer's peak RSS is that engine's.
 * Our backends run in a dedicated worker (as the app's engine does); wllama manages its own.
 */
import { Wllama } from '@wllama/wllama';
import wllamaWasmUrl from '@wllama/wllama/esm/wasm/wllama.wasm?url';
import type { BackendEngine } from './backend-run.ts';
import type { CalibrateRequest, CalibrateRun } from './calibrate-worker.ts';
import type { EngineRun, PageRequest } from './engines.ts';
import type { TabLoadRequest, TabLoadRun } from './tab-load-worker.ts';

function inWorker(engine: BackendEngine, request: PageRequest): Promise<EngineRun> {
  const worker = new Worker(new URL('./engine-worker.ts', import.meta.url), {
    type: 'module',
    name: `bench-${engine}`,
  });
  return new Promise<EngineRun>((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<{ ok: boolean; run?: EngineRun; error?: string }>) => {
      worker.terminate();
      if (event.data.ok) resolve(event.data.run!);
      else reject(new Error(event.data.error));
    };
    worker.onerror = (event) => {
      worker.terminate();
      reject(new Error(`bench worker: ${event.message}`));
    };
    worker.postMessage({ engine, request });
  });
}

async function benchWllama(request: PageRequest): Promise<EngineRun> {
  const loadStart = performance.now();
  const wllama = new Wllama({ default: wllamaWasmUrl }, { suppressNativeLog: true });
  // wllama's own download path (as its README does). Handing it Blobs failed intermittently
  // inside wllama's file reader (NotReadableError on a 370 MB Blob; "Invalid typed array
  // length 1163217991" = the GGUF magic read as a length).
  await wllama.loadModelFromUrl(new URL(request.ggufUrl, location.href).href, {
    n_threads: request.threads,
    n_ctx: 512,
    n_batch: 512,
  });
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
    engine: 'wllama',
    ttftMs: (stamps[0] ?? NaN) - started,
    decodeMs,
    loadMs,
    threads,
    crossOriginIsolated,
    note: `llama.cpp timings: ${JSON.stringify(timings)}; chunks ${stamps.length}`,
  };
}

/** Router calibration of the zoo in one dedicated worker, as the merge worker runs it (bench/calibration.ts). */
let calibrateWorker: Worker | undefined;
function askCalibrateWorker<T>(message: unknown): Promise<T> {
  calibrateWorker ??= new Worker(new URL('./calibrate-worker.ts', import.meta.url), {
    type: 'module',
    name: 'bench-calibrate',
  });
  const worker = calibrateWorker;
  return new Promise<T>((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<{ ok: boolean; result?: T; error?: string }>) => {
      if (event.data.ok) resolve(event.data.result!);
      else reject(new Error(event.data.error));
    };
    worker.onerror = (event) => reject(new Error(`bench calibrate worker: ${event.message}`));
    worker.postMessage(message);
  });
}

declare global {
  interface Window {
    bench: Record<string, (request: PageRequest) => Promise<EngineRun>>;
    benchCalibrateMerge: (request: CalibrateRequest) => Promise<{ mergeSeconds: number }>;
    benchCalibrate: () => Promise<CalibrateRun>;
    benchReady: boolean;
    benchTabLoad: (request: TabLoadRequest) => Promise<TabLoadRun>;
  }
}

/** One step of bench/tab-load.ts in a fresh dedicated worker (ended after, so its memory goes with it). */
window.benchTabLoad = (request) => {
  const worker = new Worker(new URL('./tab-load-worker.ts', import.meta.url), {
    type: 'module',
    name: 'bench-tab-load',
  });
  return new Promise<TabLoadRun>((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<{ ok: boolean; run?: TabLoadRun; error?: string }>) => {
      worker.terminate();
      if (event.data.ok) resolve(event.data.run!);
      else reject(new Error(event.data.error));
    };
    worker.onerror = (event) => {
      worker.terminate();
      reject(new Error(`bench tab-load worker: ${event.message}`));
    };
    worker.postMessage(request);
  });
};
window.benchCalibrateMerge = (request) => askCalibrateWorker({ kind: 'merge', request });
window.benchCalibrate = () => askCalibrateWorker({ kind: 'calibrate' });
window.bench = {
  wasm: (request) => inWorker('wasm', request),
  webgpu: (request) => inWorker('webgpu', request),
  wllama: benchWllama,
};
window.benchReady = true;
document.getElementById('status')!.textContent = `ready (crossOriginIsolated: ${crossOriginIsolated})`;
