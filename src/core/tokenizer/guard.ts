/**
 * An HF tokenizer is untrusted code: its normalizer, pre-tokenizer and decoder regexes run on
 * every encode and decode, its chat template on every render. checkTokenizerSections refuses
 * the exponential regex shapes, not every polynomial one (two overlapping `\s*` before a tail
 * that fails are cubic in the text), and CHAT_TEMPLATE_LIMITS bounds a render's steps, not the
 * work of each step (`s.upper()` of a megabyte string, 50,000 times). JavaScript cannot
 * interrupt a running regex or render: only ending the thread that runs it can. So every host
 * that runs an untrusted tokenizer off its own thread bounds each call by ENCODE_DEADLINE_MS:
 *
 *   engine worker (tab)   Chat: says when the prompt is rendered and encoded (EngineEvent
 *                         'prompt'), and the page (or the library's page engine) ends the worker
 *                         past the deadline; analyze: as the merge worker
 *   merge worker (tab)    preview, build and calibrate wrap the tokenizer in watchedTokenizer,
 *                         which reports the start and end of each call to the page, which ends
 *                         the worker when one runs past it (src/state/workers.ts)
 *   Node (CLI, library)   nodeTokenizerGuard (src/cli/tokenizer-sandbox.ts) runs each call in a
 *                         worker thread the caller waits on for at most the deadline
 *
 * A TokenizerGuard is that choice, handed to the loader (LoadModelOptions.guardTokenizer) or
 * the merge (createMergeRuntime): it takes the tokenizer as loaded and returns the one to use.
 */
import { ConfigError, FormatError } from '../errors.ts';
import type { HfTokenizer } from './hf.ts';
import type { ChatMessage, Tokenizer } from './types.ts';

/**
 * How long one encode, decode or chat-template render of an untrusted tokenizer may take
 * before its thread is ended. Set wide, so that a slow device encoding a full context with a
 * real tokenizer never meets it.
 */
export const ENCODE_DEADLINE_MS = 10_000;

/** A caller's deadline (createEngine's encodeDeadlineMs), checked: a whole number of milliseconds a timer can wait. */
export function checkDeadlineMs(deadlineMs: number): number {
  if (!Number.isInteger(deadlineMs) || deadlineMs < 1 || deadlineMs > 2 ** 31 - 1)
    throw new ConfigError(`encodeDeadlineMs must be a whole number of milliseconds in [1, 2^31-1], got ${deadlineMs}`);
  return deadlineMs;
}

export type TokenizerGuard = (tokenizer: HfTokenizer) => Promise<Tokenizer>;

/** The untrusted calls of a tokenizer: what a guard runs elsewhere or watches. */
export type TokenizerCalls = Pick<Tokenizer, 'encode' | 'decode' | 'applyChatTemplate'>;
export type TokenizerCall = keyof TokenizerCalls;

/** The tokenizer with its untrusted calls sent through `calls`; everything else read from `inner`. */
export class GuardedTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosTokenId?: number;
  readonly bosToken?: string;
  readonly eosTokenIds: number[];
  readonly eosToken?: string;

  constructor(
    readonly inner: HfTokenizer,
    private readonly calls: TokenizerCalls,
  ) {
    this.vocabSize = inner.vocabSize;
    this.eosTokenIds = inner.eosTokenIds;
    if (inner.bosTokenId !== undefined) this.bosTokenId = inner.bosTokenId;
    if (inner.bosToken !== undefined) this.bosToken = inner.bosToken;
    if (inner.eosToken !== undefined) this.eosToken = inner.eosToken;
  }

  encode(text: string, options?: { addSpecialTokens?: boolean }): number[] {
    return this.calls.encode(text, options);
  }
  decode(ids: number[], options?: { skipSpecialTokens?: boolean }): string {
    return this.calls.decode(ids, options);
  }
  applyChatTemplate(messages: ChatMessage[], options?: { addGenerationPrompt?: boolean }): string {
    return this.calls.applyChatTemplate(messages, options);
  }
  idToToken(id: number): string | undefined {
    return this.inner.idToToken(id);
  }
  hasChatTemplate(): boolean {
    return this.inner.hasChatTemplate(); // compiles only: nothing of the template runs
  }
}

/** One untrusted call as a watcher sees it: which call, and the file whose code runs. */
export interface TokenizerCallEvent {
  state: 'start' | 'end';
  call: TokenizerCall;
  file: string;
}

/**
 * Runs the calls in this thread and reports each one's start and end to `onCall` (the merge
 * worker sends them to the page, whose deadline ends the worker when an 'end' does not come).
 */
export function watchedTokenizer(onCall: (event: TokenizerCallEvent) => void): TokenizerGuard {
  return async (tokenizer) => {
    const watched = <A extends unknown[], R>(call: TokenizerCall, run: (...args: A) => R) => {
      const file = call === 'applyChatTemplate' ? tokenizer.templateFile : tokenizer.file;
      return (...args: A): R => {
        onCall({ state: 'start', call, file });
        try {
          return run(...args);
        } finally {
          onCall({ state: 'end', call, file });
        }
      };
    };
    return new GuardedTokenizer(tokenizer, {
      encode: watched('encode', (text: string, options?: { addSpecialTokens?: boolean }) =>
        tokenizer.encode(text, options),
      ),
      decode: watched('decode', (ids: number[], options?: { skipSpecialTokens?: boolean }) =>
        tokenizer.decode(ids, options),
      ),
      applyChatTemplate: watched(
        'applyChatTemplate',
        (messages: ChatMessage[], options?: { addGenerationPrompt?: boolean }) =>
          tokenizer.applyChatTemplate(messages, options),
      ),
    });
  };
}

const CALL_WORDS: Record<TokenizerCall, string> = {
  encode: 'encoding',
  decode: 'decoding',
  applyChatTemplate: 'rendering the chat template',
};

/**
 * The one message of a missed deadline: `file: encoding took longer than 10 s, so <ended> was
 * ended (…)`. `what` says what was being encoded, where the caller knows ("the prompt").
 */
export function encodeDeadlineMessage(
  file: string,
  call: TokenizerCall,
  deadlineMs: number,
  ended: string,
  what?: string,
): string {
  const cause =
    call === 'applyChatTemplate'
      ? 'a chat template that runs away on these messages?'
      : "a normalizer or pre-tokenizer regex of the model's tokenizer that backtracks on this text?";
  return `${file}: ${CALL_WORDS[call]}${what ? ` ${what}` : ''} took longer than ${deadlineMs / 1000} s, so ${ended} was ended (${cause}).`;
}

/**
 * The clock of calls that run in another thread, which only ending that thread can stop:
 * `arm(message, hint)` (re)starts it; if `met()` does not come within `deadlineMs`,
 * `onMissed(message)` ends the thread and `missed` rejects with a FormatError
 * `message hint`. Race the call against `missed` (src/state/workers.ts, src/api/browser.ts).
 */
export function threadDeadline(
  onMissed: (message: string) => void,
  deadlineMs = ENCODE_DEADLINE_MS,
): { missed: Promise<never>; arm: (message: string, hint?: string) => void; met: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let reject: (error: Error) => void = () => {};
  const missed = new Promise<never>((_, r) => {
    reject = r;
  });
  missed.catch(() => {});
  return {
    missed,
    met: () => clearTimeout(timer),
    arm: (message, hint) => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        onMissed(message);
        reject(new FormatError(hint ? `${message} ${hint}` : message));
      }, deadlineMs);
    },
  };
}
