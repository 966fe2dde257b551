/**
 * The page's entry: starts the engine worker first, then loads the app. The worker's thread
 * starts while the app's modules load and evaluate (engine-worker-start.ts says why that
 * cannot wait for them), so its script, its kernels and the last zoo model are ready sooner.
 * vite.config.ts preloads the app's chunks from index.html, so they load in parallel.
 */
import { engineWorkerHeadStart } from '../state/engine-worker-start.ts';

engineWorkerHeadStart();
void import('./start-app.tsx');
