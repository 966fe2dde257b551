/**
 * The one comlink handle on the engine worker. Created lazily; tests may install their own
 * EngineApi (e.g. an EngineHost in the page) with engineClientSet.
 */
import * as Comlink from 'comlink';
import type { EngineApi } from './engine/engine-types.ts';

let api: Comlink.Remote<EngineApi> | EngineApi | undefined;
let worker: Worker | undefined;

export function engineClient(): Comlink.Remote<EngineApi> | EngineApi {
  if (!api) {
    worker = new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), { type: 'module', name: 'engine' });
    api = Comlink.wrap<EngineApi>(worker);
  }
  return api;
}

export function engineClientSet(next: EngineApi | undefined): void {
  worker?.terminate();
  worker = undefined;
  api = next;
}

/** Wraps a callback for the worker (comlink proxy) unless the engine runs in this thread. */
export function engineCallback<T extends (...args: never[]) => unknown>(fn: T): T {
  return worker ? Comlink.proxy(fn) : fn;
}
