/**
 * The engine worker: exposes EngineHost (load, chat, analysis, quantize-on-import) through
 * comlink. Thin by design (DESIGN.md): the logic lives in workers/engine/ so browser tests
 * can drive it without a worker. Merges run in workers/merge.worker.ts.
 */
import * as Comlink from 'comlink';
import { EngineHost } from './engine/engine-host.ts';

Comlink.expose(new EngineHost());
