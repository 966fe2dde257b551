/**
 * The engine worker: exposes EngineHost (src/state/engine) through comlink. Thin by design
 * (DESIGN.md): all logic lives in the host so browser tests can drive it without a worker.
 */
import * as Comlink from 'comlink';
import { EngineHost } from '../src/state/engine/engine-host.ts';

Comlink.expose(new EngineHost());
