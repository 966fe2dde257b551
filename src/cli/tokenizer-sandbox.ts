/**
 * nodeTokenizerGuard: an untrusted HF tokenizer's encode, decode and chat template (see
 * core/tokenizer/guard.ts) run in a worker thread of their own, and the caller waits for each
 * answer synchronously, for at most the deadline:
 *
 *   caller                                   sandbox thread (tokenizer-sandbox.worker.ts)
 *   port.postMessage({ seq, call })       →  runs it on its own HfTokenizer (same files)
 *   wait until signal[0] === seq          ←  port.postMessage({ seq, reply }); signal[0] = seq; notify
 *   receiveMessageOnPort(port) → reply with that seq
 *
 * Each call has its own sequence number, and the caller waits for that number, not for
 * "a change": a notify is not tied to a call, and the previous call's notify can land after
 * its reply was read (the thread preempted between its store and its notify), waking the
 * next call before its answer exists. One CI run saw exactly that: "answered nothing", then
 * that late answer read as the next call's (a decoded "<" taken as token ids).
 *
 * The Tokenizer contract stays synchronous, so the CLI, the merge and the library's Node
 * engine use it unchanged. When a call misses the deadline the thread is terminated (which
 * stops a running regex) and the call, and every later one, throws a FormatError naming the
 * file: the process carries on and exits as usual, never waiting on a regex for hours.
 * The thread is unref'd (it never keeps the process alive) and ended with its tokenizer.
 */
import { MessageChannel, receiveMessageOnPort, type MessagePort, type Worker } from 'node:worker_threads';
import { ConfigError, FormatError } from '../core/errors.ts';
import { startNodeWorker } from '../core/runtime/wasm/threads.node.ts';
import {
  checkDeadlineMs,
  ENCODE_DEADLINE_MS,
  GuardedTokenizer,
  encodeDeadlineMessage,
  type TokenizerCall,
  type TokenizerCalls,
  type TokenizerGuard,
} from '../core/tokenizer/guard.ts';
import type { HfTokenizer } from '../core/tokenizer/hf.ts';

/** What the sandbox thread gets at start (workerData). */
export interface SandboxInit {
  tokenizerJson: HfTokenizer['tokenizerJson'];
  tokenizerConfig: HfTokenizer['tokenizerConfig'];
  file: string;
  port: MessagePort;
  /** [0]: the seq of the last call whose reply is posted. */
  signal: Int32Array;
}

export interface SandboxCall {
  seq: number;
  call: TokenizerCall;
  args: unknown[];
}

export type SandboxReply = { value: unknown } | { error: { name: string; message: string } };

/** A reply on the call port, tagged with its call's seq. */
export type SandboxAnswer = SandboxReply & { seq: number };

/** The seq after `seq`: 1, 2, … 2^31 - 1, then 1 again (signal[0] starts at 0, never a call's). */
export function nextSeq(seq: number): number {
  return seq >= 0x7fff_ffff ? 1 : seq + 1;
}

/**
 * Blocks until signal[0] === seq or `deadlineMs` has passed (false). Wakes that are not for
 * this call (a late notify of the call before) go back to waiting for the time left.
 */
export function waitForSeq(signal: Int32Array, seq: number, deadlineMs: number): boolean {
  const deadline = performance.now() + deadlineMs;
  for (;;) {
    const seen = Atomics.load(signal, 0);
    if (seen === seq) return true;
    const left = deadline - performance.now();
    if (left <= 0) return false;
    Atomics.wait(signal, 0, seen, left);
  }
}

/** The reply tagged `seq` from the port, dropping any older one left there; undefined if none is queued. */
export function receiveAnswer(port: MessagePort, seq: number): SandboxAnswer | undefined {
  for (;;) {
    const answer = receiveMessageOnPort(port)?.message as SandboxAnswer | undefined;
    if (!answer || answer.seq === seq) return answer;
  }
}

/** Worker threads end with the tokenizer that owns them. */
const threads = new FinalizationRegistry<Worker>((worker) => void worker.terminate());

/** The entry beside this file, in the same form (.ts from the sources, .js when built). */
function workerEntry(): URL {
  const here = new URL(import.meta.url);
  const ext = here.pathname.slice(here.pathname.lastIndexOf('.'));
  return new URL(`./tokenizer-sandbox.worker${ext}`, here);
}

/**
 * The guard the CLI and the library's Node engine pass (deadline: ENCODE_DEADLINE_MS; tests
 * and `createEngine({ encodeDeadlineMs })` may set another).
 */
export function nodeTokenizerGuard(deadlineMs = ENCODE_DEADLINE_MS): TokenizerGuard {
  checkDeadlineMs(deadlineMs);
  return async (tokenizer) => {
    const { port1, port2 } = new MessageChannel();
    const signal = new Int32Array(new SharedArrayBuffer(4));
    const init: SandboxInit = {
      tokenizerJson: tokenizer.tokenizerJson,
      tokenizerConfig: tokenizer.tokenizerConfig,
      file: tokenizer.file,
      port: port2,
      signal,
    };
    const worker = startNodeWorker(workerEntry(), { workerData: init, transferList: [port2] });
    await started(worker, tokenizer.file);
    worker.unref();
    port1.unref();
    const guarded = new GuardedTokenizer(tokenizer, sandboxCalls(tokenizer, worker, port1, signal, deadlineMs));
    threads.register(guarded, worker);
    return guarded;
  };
}

/** Resolves on the thread's 'ready' (its tokenizer built); its construction already passed in this thread. */
function started(worker: Worker, file: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const fail = (error: unknown) => {
      void worker.terminate();
      reject(error instanceof Error ? error : new FormatError(`${file}: the tokenizer thread stopped (${error})`));
    };
    worker.once('message', (message: SandboxReply) => {
      if ('error' in message) fail(replyError(message.error));
      else resolve();
    });
    worker.once('error', fail);
    worker.once('exit', (code) => fail(`exit code ${code}`));
  }).finally(() => {
    worker.removeAllListeners('message').removeAllListeners('error').removeAllListeners('exit');
  });
}

function sandboxCalls(
  tokenizer: HfTokenizer,
  worker: Worker,
  port: MessagePort,
  signal: Int32Array,
  deadlineMs: number,
): TokenizerCalls {
  let ended: string | undefined;
  let seq = 0;
  const run = (call: TokenizerCall, args: unknown[]): unknown => {
    if (ended) throw new FormatError(ended);
    seq = nextSeq(seq);
    port.postMessage({ seq, call, args } satisfies SandboxCall);
    if (!waitForSeq(signal, seq, deadlineMs)) {
      void worker.terminate();
      const file = call === 'applyChatTemplate' ? tokenizer.templateFile : tokenizer.file;
      ended = `${encodeDeadlineMessage(file, call, deadlineMs, 'its worker thread')} Load the model again; a different text may encode.`;
      throw new FormatError(ended);
    }
    const reply = receiveAnswer(port, seq);
    if (!reply) throw new FormatError(`${tokenizer.file}: the tokenizer thread answered nothing`);
    if ('error' in reply) throw replyError(reply.error);
    return reply.value;
  };
  return {
    encode: (...args) => run('encode', args) as number[],
    decode: (...args) => run('decode', args) as string,
    applyChatTemplate: (...args) => run('applyChatTemplate', args) as string,
  };
}

/** The thread's error as the class HfTokenizer threw (it throws only these two; anything else keeps its name). */
export function replyError(error: { name: string; message: string }): Error {
  if (error.name === 'ConfigError') return new ConfigError(error.message);
  if (error.name === 'FormatError') return new FormatError(error.message);
  return Object.assign(new Error(error.message), { name: error.name });
}
