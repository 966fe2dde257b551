/**
 * The comlink handles on the studio's two workers, each created on first use:
 *   engine  workers/engine.worker.ts  chat, analysis, quantize-on-import (EngineHost)
 *   merge   workers/merge.worker.ts   compose checks, routing preview, builds (MergeHost)
 * Two workers so that a build (seconds to minutes of tensor work) never stalls a chat
 * stream, and a merge that runs out of memory does not take the loaded model with it.
 * Tests may install in-page hosts instead (engineClientSet).
 */
import * as Comlink from 'comlink';
import type { BackendChoice, EngineApi, ModelRef } from '../../workers/engine/api.ts';
import {
  ENCODE_DEADLINE_MS,
  encodeDeadlineMessage,
  threadDeadline,
  type TokenizerCallEvent,
} from '../core/tokenizer/guard.ts';
import type { MergeApi } from '../../workers/merge/api.ts';

type Listener = (message: string) => void;

/** One lazily started worker; a crash terminates it, tells the listeners, and the next call starts a fresh one. */
class WorkerSlot<Api> {
  private worker?: Worker;
  private remote?: Comlink.Remote<Api>;
  readonly crashListeners = new Set<Listener>();

  constructor(
    private readonly start: () => Worker,
    private readonly what: string,
  ) {}

  get(): Comlink.Remote<Api> {
    if (!this.remote) {
      const w = this.start();
      w.addEventListener('error', (e) => {
        if (this.worker !== w) return;
        this.stop();
        for (const l of this.crashListeners) l(e.message || `the ${this.what} worker stopped`);
      });
      this.worker = w;
      this.remote = Comlink.wrap<Api>(w);
    }
    return this.remote;
  }

  stop(): void {
    this.worker?.terminate();
    this.worker = undefined;
    this.remote = undefined;
  }

  /** Ends a running worker as a crash (the listeners hear `message`); false when none runs. */
  end(message: string): boolean {
    if (!this.worker) return false;
    this.stop();
    for (const l of this.crashListeners) l(message);
    return true;
  }
}

const engineSlot = new WorkerSlot<EngineApi>(
  () =>
    new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), { type: 'module', name: 'studio-engine' }),
  'engine',
);
const mergeSlot = new WorkerSlot<MergeApi>(
  () => new Worker(new URL('../../workers/merge.worker.ts', import.meta.url), { type: 'module', name: 'studio-merge' }),
  'merge',
);

/** In-page hosts installed by tests (both run in this thread then). */
let inPage: { engine: EngineApi; merge: MergeApi } | undefined;

function onCrash(slot: WorkerSlot<unknown>, listener: Listener): () => void {
  slot.crashListeners.add(listener);
  return () => {
    slot.crashListeners.delete(listener);
  };
}

/** Called when the engine worker dies (e.g. out of memory): the next call starts a fresh one. */
export function engineClientOnCrash(listener: Listener): () => void {
  return onCrash(engineSlot, listener);
}
/** Called when the merge worker dies: a running build is lost, the next call starts a fresh one. */
export function mergeClientOnCrash(listener: Listener): () => void {
  return onCrash(mergeSlot, listener);
}

/**
 * Watches a worker while a stream runs through it (an export saved to disk): if the worker dies,
 * its stream would never end, so `signal` aborts and `crashed` rejects, both with a BackendError
 * saying nothing was saved. Call stop() when the work is over.
 */
export function workerCrashWatch(worker: 'engine' | 'merge'): {
  signal: AbortSignal;
  crashed: Promise<never>;
  stop: () => void;
} {
  const gone = new AbortController();
  const stop = onCrash(worker === 'engine' ? engineSlot : mergeSlot, (message) =>
    gone.abort(
      Object.assign(new Error(`the ${worker} worker stopped (${message}); nothing was saved`), {
        name: 'BackendError',
      }),
    ),
  );
  const crashed = new Promise<never>((_, reject) =>
    gone.signal.addEventListener('abort', () => reject(gone.signal.reason)),
  );
  crashed.catch(() => {}); // a watch that ends unused is no unhandled rejection
  return { signal: gone.signal, crashed, stop };
}

/**
 * Ends the engine worker because a call in it is past its deadline (a hang cannot be stopped
 * from inside: Stop is a message the busy worker never reads). The crash listeners hear
 * `message`; the next call starts a fresh worker. False when the hosts run in this thread.
 */
export function engineClientEnd(message: string): boolean {
  return inPage ? false : engineSlot.end(message);
}

/**
 * Chat: the engine worker must say it has rendered and encoded `what` (a tokenizer and its chat
 * template are untrusted code, core/tokenizer/guard.ts) within ENCODE_DEADLINE_MS; if not, the
 * worker is ended (engineClientEnd) and `missed` rejects with a FormatError, so a tokenizer
 * that hangs on a text ends the call instead of leaving it pending for ever (Stop is a message
 * the busy worker never reads). `met()` disarms it. Race the call against `missed`.
 */
export function engineEncodeDeadline(what: string): EncodeDeadline {
  const deadline = threadDeadline(engineClientEnd);
  deadline.arm(
    encodeDeadlineMessage('tokenizer', 'encode', ENCODE_DEADLINE_MS, 'the engine worker', what),
    'Load the model again; a different text may encode.',
  );
  return deadline;
}

/**
 * The deadline of a worker call that runs an HF tokenizer, once or many times among other
 * work (Routing's analyze, Compose's preview, a build's gates, a calibration's texts): the
 * worker reports each tokenizer call (watchedTokenizer); `onCall` arms the clock at a call's
 * start and stops it at its end, and a call still running after ENCODE_DEADLINE_MS ends the
 * worker, `missed` rejecting with a FormatError naming the file. Pass `onCall` through
 * engineCallback; race the call against `missed`; `met()` when the call settles.
 */
export function mergeTokenizerDeadline(what: string, hint: string): TokenizerCallDeadline {
  return tokenizerCallDeadline(mergeClientEnd, 'merge', what, hint);
}

/** Said after a routing preview's deadline (Compose's, and the Routing page's Compose gates). */
export const PREVIEW_HINT = 'Try again; a different text or prompts may encode.';

/** The same for the engine worker (Routing's analyze). */
export function engineTokenizerDeadline(what: string, hint: string): TokenizerCallDeadline {
  return tokenizerCallDeadline(engineClientEnd, 'engine', what, hint);
}

function tokenizerCallDeadline(
  end: (message: string) => boolean,
  worker: string,
  what: string,
  hint: string,
): TokenizerCallDeadline {
  const deadline = threadDeadline(end);
  return {
    ...deadline,
    onCall: (event) => {
      if (event.state === 'end') return deadline.met();
      deadline.arm(
        encodeDeadlineMessage(event.file, event.call, ENCODE_DEADLINE_MS, `the ${worker} worker`, what),
        hint,
      );
    },
  };
}

export interface EncodeDeadline {
  missed: Promise<never>;
  met: () => void;
}

export interface TokenizerCallDeadline extends EncodeDeadline {
  onCall: (event: TokenizerCallEvent) => void;
}

function mergeClientEnd(message: string): boolean {
  return inPage ? false : mergeSlot.end(message);
}

/**
 * Starts the engine worker now and lets it warm up (App, after its first render): its script
 * loads and its kernels compile while the user is still on the Library page, instead of after
 * the first "Chat with".
 */
export function engineClientWarmUp(preload?: { ref: ModelRef; choice: BackendChoice }): void {
  if (!inPage) void engineSlot.get().warmUp(preload);
}

export function engineClient(): Comlink.Remote<EngineApi> | EngineApi {
  return inPage?.engine ?? engineSlot.get();
}
export function mergeClient(): Comlink.Remote<MergeApi> | MergeApi {
  return inPage?.merge ?? mergeSlot.get();
}

/** Tests: run hosts in the page instead of workers (undefined = back to the workers). */
export function engineClientSet(next: { engine: EngineApi; merge: MergeApi } | undefined): void {
  engineSlot.stop();
  mergeSlot.stop();
  inPage = next;
}

/** Wraps a callback for a worker (comlink proxy) unless the hosts run in this thread. */
export function engineCallback<T extends (...args: never[]) => unknown>(fn: T): T {
  return inPage ? fn : Comlink.proxy(fn);
}

/** Hands a stream to a worker (transferred, not copied) unless the hosts run in this thread. */
export function workerTransfer<T extends ReadableStream | WritableStream>(stream: T): T {
  return inPage ? stream : Comlink.transfer(stream, [stream]);
}
