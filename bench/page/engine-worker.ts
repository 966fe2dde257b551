/** Dedicated worker for our backends (see backend-run.ts). One request, one reply. */
import { runBackend, type BackendEngine } from './backend-run.ts';
import type { PageRequest } from './engines.ts';

self.onmessage = async (event: MessageEvent<{ engine: BackendEngine; request: PageRequest }>) => {
  try {
    self.postMessage({ ok: true, run: await runBackend(event.data.engine, event.data.request) });
  } catch (error) {
    self.postMessage({ ok: false, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
  }
};
