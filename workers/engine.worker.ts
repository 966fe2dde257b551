/**
 * The engine worker: exposes EngineHost (chat, analysis) and MergeHost (compose checks,
 * routing preview, build into the store) through comlink. Thin by design (DESIGN.md): the
 * logic lives in src/state/{engine,merge} so browser tests can drive it without a worker.
 */
import * as Comlink from 'comlink';
import { EngineHost } from '../src/state/engine/engine-host.ts';
import { MergeHost } from '../src/state/merge/merge-host.ts';

Comlink.expose({ engine: new EngineHost(), merge: new MergeHost() });
