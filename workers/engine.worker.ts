/**
 * The engine worker: exposes EngineHost (load, chat, analysis, quantize-on-import) through
 * comlink. Thin by design (DESIGN.md): the logic lives in workers/engine/ so browser tests
 * can drive it without a worker. Merges run in workers/merge.worker.ts.
 */
import * as Comlink from 'comlink';
import { markPhase } from '../src/core/io/marks.ts';
import { EngineHost } from './engine/engine-host.ts';

markPhase('moe:engine-worker-start');

Comlink.expose(new EngineHost());
