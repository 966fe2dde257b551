/**
 * `import { createEngine } from 'moe-studio'` in a page (or a worker): by default the model
 * runs in the studio's engine worker (workers/engine.worker.ts, EngineHost behind comlink), so
 * a long prefill never blocks the page; `worker: false` runs the same EngineHost in this
 * thread. The model is
 *   - a library id: a zoo model ('zoo/chat', from `${zooUrl}index.json`) or a model the
 *     studio stored in IndexedDB (its id),
 *   - or the URL of a .gguf file.
 * The page should be cross-origin isolated (COOP/COEP) for the multi-threaded WASM backend.
 */
import * as Comlink from 'comlink';
import { ConfigError, restoreErrorKind } from '../core/errors.ts';
import { checkedFetch } from '../core/hub/checked-fetch.ts';
import type { LoadProgress } from '../core/io/progress.ts';
import type { EngineApi, EngineEvent, ModelRef } from '../../workers/engine/api.ts';
import { checkDeadlineMs, ENCODE_DEADLINE_MS, encodeDeadlineMessage, threadDeadline } from '../core/tokenizer/guard.ts';
import type { EngineDriver } from './completions.ts';
import { parseZooIndex } from '../core/hub/zoo-index.ts';
import { engineOver, inThreadHandle } from './engine.ts';
import type { Engine, EngineOptionsBase } from './types.ts';

export type * from './types.ts';
export {
  BackendError,
  CancelledError,
  ConfigError,
  ContextFullError,
  FormatError,
  HubError,
  MissingFileError,
  StoreError,
  StudioError,
} from '../core/errors.ts';

export interface BrowserEngineOptions extends EngineOptionsBase {
  /** A library id ('zoo/chat', or a stored model's id) or the URL of a .gguf file. */
  model: string;
  /** Where the zoo's index.json lies (default: `zoo/` beside the page). */
  zooUrl?: string;
  /** IndexedDB database of stored models (default: the studio's). */
  dbName?: string;
  onProgress?: (progress: LoadProgress) => void;
  /**
   * true (default): run the engine in its own worker, so prefill never blocks this thread.
   * false: run it in this thread — for code that is already in a worker of its own.
   */
  worker?: boolean;
}

function pageUrl(): string {
  return globalThis.location?.href ?? 'http://localhost/';
}

/** The model option as the engine worker's ModelRef. */
export async function modelRefOf(options: BrowserEngineOptions): Promise<ModelRef> {
  const model = options.model;
  if (typeof model !== 'string' || model.length === 0)
    throw new ConfigError('createEngine: model must be a library id or a URL');
  if (/\.gguf($|[?#])/i.test(model)) {
    const url = new URL(model, pageUrl());
    const name = decodeURIComponent(url.pathname.split('/').pop()!);
    return { kind: 'url', id: url.href, title: name, baseUrl: new URL('.', url).href, files: [{ name }] };
  }
  if (/^[a-z]+:\/\//i.test(model))
    throw new ConfigError(`createEngine: model URL ${model} must name a .gguf file (a folder URL has no file list)`);
  if (!model.startsWith('zoo/'))
    return options.dbName === undefined
      ? { kind: 'store', id: model }
      : { kind: 'store', id: model, dbName: options.dbName };
  const zooUrl = new URL(options.zooUrl ?? 'zoo/', pageUrl()).href.replace(/\/?$/, '/');
  const zoo = parseZooIndex(await (await checkedFetch(fetch, `${zooUrl}index.json`, { cache: 'no-store' })).json());
  const entry = zoo.models.find((m) => m.id === model);
  if (!entry)
    throw new ConfigError(
      `createEngine: no model '${model}' in ${zooUrl}index.json (it has ${zoo.models.map((m) => m.id).join(', ')})`,
    );
  return { kind: 'url', id: entry.id, title: entry.title, baseUrl: `${zooUrl}${entry.path}`, files: entry.files };
}

/** A worker's error, thrown again with its class (comlink keeps only message, name and stack). */
function rethrowTyped(error: unknown): never {
  throw restoreErrorKind(error);
}

export async function createEngine(options: BrowserEngineOptions): Promise<Engine> {
  if (options.encodeDeadlineMs !== undefined) checkDeadlineMs(options.encodeDeadlineMs);
  const ref = await modelRefOf(options);
  return options.worker === false ? createInThread(ref, options) : createInWorker(ref, options);
}

async function createInWorker(ref: ModelRef, options: BrowserEngineOptions): Promise<Engine> {
  const worker = new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), {
    type: 'module',
    name: 'moe-studio-engine',
  });
  const remote = Comlink.wrap<EngineApi>(worker);
  try {
    const loaded = await remote.load(
      ref,
      options.backend ?? 'auto',
      options.onProgress ? Comlink.proxy(options.onProgress) : undefined,
      { threads: options.threads, contextLength: options.contextLength },
    );
    const prompted = promptDeadline(worker, options.encodeDeadlineMs, (request, onEvents) =>
      remote.generate(request, Comlink.proxy(onEvents)).catch(rethrowTyped),
    );
    return engineOver(
      {
        generate: prompted.generate,
        // an ended worker answers nothing: stop and reset would wait for ever
        stop: () => (prompted.ended() ? undefined : remote.stop()),
        callback: (fn) => fn, // proxied by promptDeadline's generate
        reset: () => (prompted.ended() ? undefined : remote.reset()),
        dispose: () => {
          remote[Comlink.releaseProxy]();
          worker.terminate();
        },
      },
      loaded,
    );
  } catch (e) {
    worker.terminate();
    throw restoreErrorKind(e);
  }
}

/**
 * The worker must send the request's 'prompt' event (rendered and encoded: the tokenizer and
 * its chat template are untrusted code, core/tokenizer/guard.ts) within the deadline, else it
 * is ended and the request fails with a FormatError; the engine is gone then, and every later
 * request fails the same way at once. In this thread (worker: false) nothing can end a hang.
 */
function promptDeadline(
  worker: Worker,
  deadlineMs: number | undefined,
  generate: EngineDriver['generate'],
): { generate: EngineDriver['generate']; ended: () => Error | undefined } {
  let ended: Error | undefined;
  const guarded: EngineDriver['generate'] = async (request, onEvents) => {
    if (ended) throw ended;
    const deadline = threadDeadline(() => worker.terminate(), deadlineMs);
    deadline.arm(
      encodeDeadlineMessage('tokenizer', 'encode', deadlineMs ?? ENCODE_DEADLINE_MS, 'the engine worker', 'the prompt'),
      'Create the engine again; a different prompt may encode.',
    );
    deadline.missed.catch((error: Error) => {
      ended = error;
    });
    const watched = (events: EngineEvent[]) => {
      if (events.some((e) => e.type === 'prompt')) deadline.met();
      onEvents(events);
    };
    try {
      return await Promise.race([generate(request, watched), deadline.missed]);
    } finally {
      deadline.met();
    }
  };
  return { generate: guarded, ended: () => ended };
}

/** The same EngineHost as the worker's, in this thread (loaded on demand: a worker-only page never fetches it twice). */
async function createInThread(ref: ModelRef, options: BrowserEngineOptions): Promise<Engine> {
  const { EngineHost } = await import('../../workers/engine/engine-host.ts');
  const host = new EngineHost();
  const loaded = await host.load(ref, options.backend ?? 'auto', options.onProgress, {
    threads: options.threads,
    contextLength: options.contextLength,
  });
  return engineOver(inThreadHandle(host), loaded);
}
