/**
 * The Engine object both entry points return: a loaded model and backend, and
 * chat.completions over the host that holds them (in this thread or in the engine worker).
 */
import type { BackendReport, ModelSummary } from '../../workers/engine/api.ts';
import { chatCompletions, type EngineDriver } from './completions.ts';
import type { Engine } from './types.ts';

export interface EngineHostHandle extends EngineDriver {
  reset(): void | Promise<void>;
  /** Frees the model (and stops the worker, for a page). */
  dispose(): void | Promise<void>;
}

/** An EngineHost in this thread (Node, a page that asked for no worker, tests): its own methods, no worker between. */
export interface InThreadHost {
  generate: EngineDriver['generate'];
  stop(): void | Promise<void>;
  reset(): void | Promise<void>;
  dispose(): void | Promise<void>;
}

/** The handle over an in-thread host: callbacks are called as they are (nothing to proxy). */
export function inThreadHandle(host: InThreadHost): EngineHostHandle {
  return {
    generate: (request, onEvents) => host.generate(request, onEvents),
    stop: () => host.stop(),
    callback: (fn) => fn,
    reset: () => host.reset(),
    dispose: () => host.dispose(),
  };
}

export function engineOver(host: EngineHostHandle, loaded: { model: ModelSummary; backend: BackendReport }): Engine {
  let disposed = false;
  return {
    model: loaded.model,
    backend: loaded.backend,
    chat: { completions: chatCompletions(host, () => loaded.model) },
    async reset() {
      await host.reset();
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      await host.stop();
      await host.dispose();
    },
  };
}
