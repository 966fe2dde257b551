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
