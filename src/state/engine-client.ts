/**
 * The comlink handles on the studio worker (workers/engine.worker.ts): `engine` (chat,
 * analysis) and `merge` (compose). Created lazily; tests may install in-page hosts.
 */
import * as Comlink from 'comlink';
import type { EngineApi } from './engine/engine-types.ts';
import type { MergeApi } from './merge/merge-types.ts';

interface WorkerApi { engine: EngineApi; merge: MergeApi }

let remote: { engine: Comlink.Remote<EngineApi> | EngineApi; merge: Comlink.Remote<MergeApi> | MergeApi } | undefined;
let worker: Worker | undefined;
const crashListeners = new Set<(message: string) => void>();

/** Called when the worker dies (e.g. out of memory): the next call starts a fresh one. */
export function engineClientOnCrash(listener: (message: string) => void): () => void {
  crashListeners.add(listener);
  return () => { crashListeners.delete(listener); };
}

function ensure(): NonNullable<typeof remote> {
  if (!remote) {
    const w = new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), { type: 'module', name: 'studio-engine' });
    w.addEventListener('error', (e) => {
      if (worker !== w) return;
      w.terminate();
      worker = undefined;
      remote = undefined;
      for (const l of crashListeners) l(e.message || 'the engine worker stopped');
    });
    worker = w;
    const api = Comlink.wrap<WorkerApi>(w);
    // Comlink proxies nested properties: api.engine.load(...) calls host.engine.load in the worker.
    remote = { engine: api.engine as unknown as Comlink.Remote<EngineApi>, merge: api.merge as unknown as Comlink.Remote<MergeApi> };
  }
  return remote!;
}

export function engineClient(): Comlink.Remote<EngineApi> | EngineApi { return ensure().engine; }
export function mergeClient(): Comlink.Remote<MergeApi> | MergeApi { return ensure().merge; }

/** Tests: run hosts in the page instead of a worker (undefined = back to the worker). */
export function engineClientSet(next: { engine: EngineApi; merge: MergeApi } | undefined): void {
  worker?.terminate();
  worker = undefined;
  remote = next;
}

/** Wraps a callback for the worker (comlink proxy) unless the hosts run in this thread. */
export function engineCallback<T extends (...args: never[]) => unknown>(fn: T): T {
  ensure();
  return worker ? Comlink.proxy(fn) : fn;
}
