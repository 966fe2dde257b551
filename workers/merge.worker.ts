/**
 * The merge worker: exposes MergeHost (compose checks, routing preview, builds that read
 * donors from IndexedDB or a hub and write the result into the model store) through comlink.
 * Separate from the engine worker so a build never stalls a chat stream. Thin by design
 * (DESIGN.md): the logic lives in workers/merge/, where browser tests drive it in the page.
 */
import * as Comlink from 'comlink';
import { MergeHost } from './merge/merge-host.ts';

Comlink.expose(new MergeHost());
