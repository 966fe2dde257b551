/**
 * The engine worker's constructor, and a head start for it. A dedicated worker's thread only
 * starts once the page's main thread has a free moment: created from the app bundle, after
 * every module of it had been evaluated (~180 ms, react-aria's locale detection alone ~80) and
 * the first render committed, it started ~300 ms after it was asked for (a Chrome trace of a
 * warm bench/ttft.ts run). main.tsx therefore calls engineWorkerHeadStart() before it even
 * imports the app (start-app.tsx); the app's engine slot (workers.ts) then takes that worker
 * instead of creating one. In `npm run bench -- --ttft --input in-page`, builds side by side on
 * a busy machine: the worker's script ran at 338–442 ms instead of 670–830, the model was ready
 * ~190 ms sooner, and the first token came at 0.93–0.97× (with the zoo index read before the
 * first render, library.ts libraryPrefetchZoo). Tiny on purpose: main.tsx's chunk is this file.
 */

export function startEngineWorker(): Worker {
  return new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), {
    type: 'module',
    name: 'studio-engine',
  });
}

let early: { worker: Worker; failed: boolean } | undefined;

/** Starts the engine worker now (once); the first takeEngineWorker() gets it. */
export function engineWorkerHeadStart(): void {
  if (early) return;
  const started = { worker: startEngineWorker(), failed: false };
  // An error before the slot listens (its script failed to load) would go unheard: remember it.
  started.worker.addEventListener('error', () => {
    started.failed = true;
  });
  early = started;
}

/** The head-started worker once (a fresh one if it failed meanwhile, or if none was started). */
export function takeEngineWorker(): Worker {
  const taken = early;
  early = undefined;
  if (taken && !taken.failed) return taken.worker;
  taken?.worker.terminate();
  return startEngineWorker();
}
