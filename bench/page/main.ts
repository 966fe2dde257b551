/**
 * The bench page (served by bench/server.ts with COOP/COEP, so cross-origin isolated).
 * Exposes one async function per engine on window; bench/run.ts calls them through
 * Playwright, one engine per fresh browser so the renderer's peak RSS is that engine's.
 * Our backends run in a dedicated worker (as the app's engine does); wllama (wllama-peers.ts) manages its own.
 */
import type { BackendEngine } from './backend-run.ts';
import type { BandwidthRequest, BandwidthRun } from './bandwidth-stream.ts';
import type { CalibrateRequest, CalibrateRun } from './calibrate-worker.ts';
import type { EngineRun, PageRequest } from './engines.ts';
import type { TabLoadRequest, TabLoadRun } from './tab-load-worker.ts';
import type { TabMergeRequest, TabMergeRun } from './tab-merge-worker.ts';
import { cpuMark, WLLAMA_PEERS } from './wllama-peers.ts';

function inWorker(engine: BackendEngine, request: PageRequest): Promise<EngineRun> {
  const worker = new Worker(new URL('./engine-worker.ts', import.meta.url), {
    type: 'module',
    name: `bench-${engine}`,
  });
  return new Promise<EngineRun>((resolve, reject) => {
    worker.onmessage = (
      event: MessageEvent<{ ok: boolean; run?: EngineRun; error?: string; mark?: 'start' | 'end' }>,
    ) => {
      const { mark } = event.data;
      if (mark) {
        void cpuMark(mark).then(() => worker.postMessage({ ack: mark }));
        return;
      }
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
    benchTabMerge: (request: TabMergeRequest) => Promise<TabMergeRun>;
    benchBandwidth: (request: BandwidthRequest) => Promise<BandwidthRun>;
  }
}

/** One dedicated worker for one request, ended after its reply (so its memory goes with it). */
function oneShot<Request, Run>(worker: Worker, request: Request, what: string): Promise<Run> {
  return new Promise<Run>((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<{ ok: boolean; run?: Run; error?: string }>) => {
      worker.terminate();
      if (event.data.ok) resolve(event.data.run!);
      else reject(new Error(event.data.error));
    };
    worker.onerror = (event) => {
      worker.terminate();
      reject(new Error(`${what}: ${event.message}`));
    };
    worker.postMessage(request);
  });
}

/** Memory bandwidth of WASM threads (bench/bandwidth.ts). */
window.benchBandwidth = (request) =>
  oneShot(
    new Worker(new URL('./bandwidth-worker.ts', import.meta.url), { type: 'module', name: 'bench-bandwidth' }),
    request,
    'bench bandwidth worker',
  );

/** One step of bench/tab-load.ts in a fresh dedicated worker (ended after, so its memory goes with it). */
window.benchTabLoad = (request) =>
  oneShot(
    new Worker(new URL('./tab-load-worker.ts', import.meta.url), { type: 'module', name: 'bench-tab-load' }),
    request,
    'bench tab-load worker',
  );
/** One step of bench/tab-merge.ts in a fresh dedicated worker (as the app's merge or engine worker). */
window.benchTabMerge = (request) =>
  oneShot(
    new Worker(new URL('./tab-merge-worker.ts', import.meta.url), { type: 'module', name: 'bench-tab-merge' }),
    request,
    'bench tab-merge worker',
  );
window.benchCalibrateMerge = (request) => askCalibrateWorker({ kind: 'merge', request });
window.benchCalibrate = () => askCalibrateWorker({ kind: 'calibrate' });
window.bench = {
  wasm: (request) => inWorker('wasm', request),
  webgpu: (request) => inWorker('webgpu', request),
  ...WLLAMA_PEERS,
};
window.benchReady = true;
document.getElementById('status')!.textContent = `ready (crossOriginIsolated: ${crossOriginIsolated})`;
