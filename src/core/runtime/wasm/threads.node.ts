/**
 * Node entry points for the wasm thread pool (never imported by the browser build):
 * `nodeWorkerFactory()` starts pool workers with node:worker_threads — pass it as
 * createWasmBackend({ threads, workerFactory }) from the CLI, bench or tests. Run as a
 * worker, this file serves the pool (threads.ts runPoolWorker).
 */
import { Worker, isMainThread, parentPort, type WorkerOptions } from 'node:worker_threads';
import { runPoolWorker, type PoolWorker, type PoolWorkerInit, type WorkerFactory } from './threads.ts';

export function nodeWorkerFactory(): WorkerFactory {
  const entry = new URL(import.meta.url);
  return (): PoolWorker => {
    const worker = startNodeWorker(entry);
    worker.unref();
    return worker;
  };
}

/**
 * A worker thread running the module `entry` (`import.meta.url` of the file that serves it),
 * from the TypeScript sources or the built .js alike (also src/cli/tokenizer-sandbox.ts).
 */
export function startNodeWorker(entry: URL, options: WorkerOptions = {}): Worker {
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, options);
  // A .ts source needs tsx's loader inside the worker (execArgv --import is not honoured
  // there), so the worker first registers tsx, then imports the file.
  const bootstrap = `(async () => { const { register } = await import('tsx/esm/api'); register(); await import(${JSON.stringify(entry.href)}); })()`;
  return new Worker(bootstrap, { ...options, eval: true });
}

if (!isMainThread && parentPort) {
  parentPort.once('message', (init: PoolWorkerInit) => {
    void runPoolWorker(init);
  });
}
