/**
 * Node entry points for the wasm thread pool (never imported by the browser build):
 * `nodeWorkerFactory()` starts pool workers with node:worker_threads — pass it as
 * createWasmBackend({ threads, workerFactory }) from the CLI, bench or tests. Run as a
 * worker, this file serves the pool (threads.ts runPoolWorker).
 */
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import { runPoolWorker, type PoolWorker, type PoolWorkerInit, type WorkerFactory } from './threads.ts';

export function nodeWorkerFactory(): WorkerFactory {
  const entry = new URL(import.meta.url);
  // A .ts source needs tsx's loader inside the worker (execArgv --import is not honoured
  // there), so the worker first registers tsx, then imports this file.
  const bootstrap = `(async () => { const { register } = await import('tsx/esm/api'); register(); await import(${JSON.stringify(entry.href)}); })()`;
  return (): PoolWorker => {
    const worker = entry.pathname.endsWith('.ts') ? new Worker(bootstrap, { eval: true }) : new Worker(entry);
    worker.unref();
    return worker;
  };
}

if (!isMainThread && parentPort) {
  parentPort.once('message', (init: PoolWorkerInit) => {
    void runPoolWorker(init);
  });
}
