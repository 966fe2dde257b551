/** Dedicated worker for our backends (see backend-run.ts). One request, one reply; CPU marks wait for the page's ack. */
import { runBackend, type BackendEngine } from './backend-run.ts';
import type { PageRequest } from './engines.ts';

let acked: (() => void) | undefined;
const mark = (name: 'start' | 'end') =>
  new Promise<void>((resolve) => {
    acked = resolve;
    self.postMessage({ mark: name });
  });

self.onmessage = async (event: MessageEvent<{ engine: BackendEngine; request: PageRequest } | { ack: string }>) => {
  if ('ack' in event.data) {
    acked?.();
    return;
  }
  try {
    self.postMessage({ ok: true, run: await runBackend(event.data.engine, event.data.request, mark) });
  } catch (error) {
    self.postMessage({ ok: false, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
  }
};
