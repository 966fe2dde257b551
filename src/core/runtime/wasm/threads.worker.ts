/** Browser entry of a wasm pool worker (module Worker). See threads.ts. */
import { runPoolWorker, type PoolWorkerInit } from './threads.ts';

self.onmessage = (event: MessageEvent<PoolWorkerInit>) => {
  void runPoolWorker(event.data);
};
