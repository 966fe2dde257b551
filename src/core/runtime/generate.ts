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
  if (options.cachedIds && options.cachedIds.length !== session.position)
    throw new ConfigError(
      `generate: ${options.cachedIds.length} cached ids given, the session holds ${session.position} tokens`,
    );
  const context = [...(options.cachedIds ?? []), ...promptIds];

  checkAborted(options.signal);
  const prefill = await session.forward(promptIds, forwardOptions);
  if (options.trace && prefill.routing) options.onPromptRouting?.(prefill.routing);
  let logits = prefill.logits;
  for (let n = 0; n < maxTokens; n++) {
    await yieldToEventLoop();
    checkAborted(options.signal);
    if (session.position >= session.maxContext) return;
    const id = sampler(logits, context);
    if (stopIds.has(id)) return;
    context.push(id);
    const step = await session.forward([id], forwardOptions);
    logits = step.logits;
    const token: GeneratedToken = { id, text: decoder ? decoder.push(id) : '' };
    if (options.trace && step.routing) token.routing = step.routing[0];
    yield token;
  }
}
