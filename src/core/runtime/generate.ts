/**
 * generate(): the decode loop every UI and CLI path uses, on any backend's Session.
 *
 *   prefill(promptIds) → loop { sample → stop? → forward([id]) → yield {id, text, routing} }
 *
 * - Each yielded token has already been run through the model, so the KV cache holds the
 *   prompt and every yielded token (a chat can continue from session.position), and its
 *   `routing` is that token's own routing as an input (what the heatmap shows per token).
 * - Stops (without yielding) at a stop id (default: the tokenizer's EOS ids), after
 *   maxTokens, or when the session's context is full. An aborted signal throws
 *   CancelledError before the next step; every step first yields to the event loop, so an
 *   abort sent by a message or a timer arrives even on synchronous backends.
 * - Stop strings (options.stop) end the answer before the first of them; a delta that might
 *   be the start of one is held back (StopStringFilter) and released once it cannot be.
 * - Text deltas come from IncrementalDecoder, seeded with the prompt's last token (so
 *   tokenizers that drop a leading space after BOS or at the start decode as in context);
 *   they are held back while the text ends in an incomplete UTF-8 character (U+FFFD).
 */
import { CancelledError, ConfigError } from '../errors.ts';
import type { Tokenizer } from '../tokenizer/types.ts';
import type { GeneratedToken, GenerateOptions, Session, TokenRouting } from './types.ts';
import { createSampler } from './sampler.ts';

export interface GenerateExtras {
  /** Receives the routing of every prompt token after prefill (when trace is on). */
  onPromptRouting?: (routing: TokenRouting[]) => void;
  /**
   * The ids the session's KV cache already holds before `promptIds` (a reused conversation
   * prefix: only promptIds are prefilled). They count as context for the repetition penalty,
   * exactly as if they had been prefilled here.
   */
  cachedIds?: readonly number[];
}

const REPLACEMENT_CHARACTER = '\uFFFD';

/**
 * Turns a growing token list into text deltas that never split a multi-byte character
 * (the prefix/read-offset scheme of HF text-generation-inference and vLLM): decode a short
 * window that starts one token before the unread tokens, so context-dependent rules (a
 * leading space dropped after BOS or at the start of text) decode as they would in the
 * full text, and emit only what follows the window's already-read part. Text ending in
 * U+FFFD (an incomplete UTF-8 sequence) is held back until a later token completes it.
 * Each push decodes O(window) tokens, not the whole history.
 */
export class IncrementalDecoder {
  private readonly ids: number[];
  private prefixOffset = 0; // start of the decode window
  private readOffset: number; // tokens before this are already emitted

  /** `contextIds`: the tokens before the first pushed one (e.g. the prompt's last token). */
  constructor(
    private readonly tokenizer: Tokenizer,
    contextIds: number[],
  ) {
    this.ids = [...contextIds];
    this.readOffset = this.ids.length;
  }

  /** Adds one token; returns the text it completes ('' while a character is incomplete). */
  push(id: number): string {
    this.ids.push(id);
    const options = { skipSpecialTokens: true };
    const prefixText = this.tokenizer.decode(this.ids.slice(this.prefixOffset, this.readOffset), options);
    const newText = this.tokenizer.decode(this.ids.slice(this.prefixOffset), options);
    if (newText.length <= prefixText.length || newText.endsWith(REPLACEMENT_CHARACTER)) return '';
    this.prefixOffset = this.readOffset;
    this.readOffset = this.ids.length;
    return newText.slice(prefixText.length);
  }
}

/**
 * Lets queued macrotasks run (a worker's incoming "stop" message, a timer that aborts).
 * Backends that compute synchronously (cpu, wasm) resolve forward() at once, and awaiting
 * a resolved promise only drains microtasks: without this, an abort could not arrive
 * until generation had finished. A MessageChannel round trip is not clamped to 4 ms the
 * way nested setTimeout(0) is; it exists in browsers, workers and Node.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

/** Most stop strings and their length: a stop list is matched against every delta. */
export const MAX_STOP_STRINGS = 16;
export const MAX_STOP_STRING_CHARS = 256;

/**
 * Cuts a text stream at the first stop string. push(delta) returns what may be shown now and
 * whether a stop string was reached; text that could still grow into a stop string is held.
 */
export class StopStringFilter {
  private held = '';
  constructor(private readonly stops: readonly string[]) {
    if (stops.length > MAX_STOP_STRINGS)
      throw new ConfigError(`generate: ${stops.length} stop strings, at most ${MAX_STOP_STRINGS}`);
    for (const s of stops)
      if (s.length === 0 || s.length > MAX_STOP_STRING_CHARS)
        throw new ConfigError(`generate: a stop string must have 1 to ${MAX_STOP_STRING_CHARS} characters`);
  }

  push(delta: string): { text: string; stopped: boolean } {
    const text = this.held + delta;
    let cut = -1;
    for (const s of this.stops) {
      const at = text.indexOf(s);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.held = '';
      return { text: text.slice(0, cut), stopped: true };
    }
    // Hold the longest tail that is a prefix of some stop string.
    let keep = 0;
    for (const s of this.stops)
      for (let n = Math.min(s.length - 1, text.length); n > keep; n--)
        if (text.endsWith(s.slice(0, n))) {
          keep = n;
          break;
        }
    this.held = text.slice(text.length - keep);
    return { text: text.slice(0, text.length - keep), stopped: false };
  }

  /** What is still held when the answer ends for another reason (EOS, max tokens). */
  flush(): string {
    const out = this.held;
    this.held = '';
    return out;
  }
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError('generate: cancelled');
}

export async function* generate(
  session: Session,
  tokenizer: Tokenizer | undefined,
  promptIds: number[],
  options: GenerateOptions & GenerateExtras = {},
): AsyncGenerator<GeneratedToken> {
  if (promptIds.length === 0) throw new ConfigError('generate: the prompt needs at least one token (e.g. BOS)');
  const maxTokens = options.maxTokens ?? 256;
  if (!Number.isInteger(maxTokens) || maxTokens < 0)
    throw new ConfigError(`generate: maxTokens ${maxTokens} must be an integer ≥ 0`);
  const stopIds = new Set(options.stopIds ?? tokenizer?.eosTokenIds ?? []);
  const sampler = createSampler(options);
  const forwardOptions = { routing: options.routing, trace: options.trace };
  const decoder = tokenizer ? new IncrementalDecoder(tokenizer, promptIds.slice(-1)) : undefined;
  const stopFilter = options.stop?.length ? new StopStringFilter(options.stop) : undefined;
  if (stopFilter && !decoder) throw new ConfigError('generate: stop strings need a tokenizer');
  if (options.cachedIds && options.cachedIds.length !== session.position)
    throw new ConfigError(
      `generate: ${options.cachedIds.length} cached ids given, the session holds ${session.position} tokens`,
    );
  const context = [...(options.cachedIds ?? []), ...promptIds];

  checkAborted(options.signal);
  const prefill = await session.forward(promptIds, forwardOptions);
  if (options.trace && prefill.routing) options.onPromptRouting?.(prefill.routing);
  let logits = prefill.logits;
  // With stop strings a token is yielded one step late, so that text held back at the end
  // (EOS, maxTokens) still has a token to ride on; without them, at once.
  let pending: GeneratedToken | undefined;
  for (let n = 0; n < maxTokens; n++) {
    await yieldToEventLoop();
    if (options.signal?.aborted && pending) {
      yield pending; // already run: the caller's record of the cache must include it
      pending = undefined;
    }
    checkAborted(options.signal);
    if (session.position >= session.maxContext) break;
    const id = sampler(logits, context);
    if (stopIds.has(id)) break;
    context.push(id);
    const step = await session.forward([id], forwardOptions);
    logits = step.logits;
    const delta = decoder ? decoder.push(id) : '';
    const filtered = stopFilter ? stopFilter.push(delta) : { text: delta, stopped: false };
    const token: GeneratedToken = { id, text: filtered.text };
    if (options.trace && step.routing) token.routing = step.routing[0];
    if (!stopFilter) {
      yield token;
      continue;
    }
    if (pending) yield pending;
    pending = token;
    if (filtered.stopped) {
      yield pending; // its text ends right before the stop string, which is never shown
      return;
    }
  }
  if (pending) {
    pending.text += stopFilter?.flush() ?? '';
    yield pending;
  }
}
