/**
 * engine.chat.completions.create over an engine host, the same code in Node (EngineHost in
 * this thread) and in a page (the engine worker through comlink): the request is checked
 * (toGenerateRequest), run by the host's generate (KV reuse of the longest cached prefix,
 * stop strings, routing records), and its token events become OpenAI-shaped chunks or one
 * completion. Requests run one at a time: a new generate would abort the running one.
 */
import type { EngineEvent, GenerateRequest, GenerateSummary, ModelSummary } from '../../workers/engine/api.ts';
import type { TokenRouting } from '../core/runtime/types.ts';
import { assert, CancelledError } from '../core/errors.ts';
import { toGenerateRequest } from './request.ts';
import type {
  BackendReport,
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParams,
  ChatCompletions,
  CompletionUsage,
  EngineReport,
  FinishReason,
  MoeTokenRouting,
  RequestOptions,
} from './types.ts';

/** What completions need from a host: EngineApi's generate and stop, local or remote. */
export interface EngineDriver {
  generate(request: GenerateRequest, onEvents: (events: EngineEvent[]) => void): Promise<GenerateSummary>;
  stop(): void | Promise<void>;
  /** Makes a callback callable from the host's thread (Comlink.proxy for a worker; identity in-thread). */
  callback<T extends (...args: never[]) => unknown>(fn: T): T;
}

type TokenEvent = Extract<EngineEvent, { type: 'token' }> & { fallback?: BackendReport };

/** One token's routing as the API reports it: per MoE layer, the chosen experts and their weights (and, asked for, the router's softmax). */
export function moeTokenRouting(id: number, routing: TokenRouting | undefined, routerProbs = false): MoeTokenRouting {
  return {
    token_id: id,
    layers: (routing?.layers ?? []).map((l) =>
      routerProbs
        ? { expert_ids: l.expertIds, expert_weights: l.expertWeights, router_probs: l.moeProbs }
        : { expert_ids: l.expertIds, expert_weights: l.expertWeights },
    ),
  };
}

/** 'abort' only when the caller's signal stopped the answer; any other stop (a new model loaded, dispose) is a CancelledError. */
function finishReason(summary: GenerateSummary, signal: AbortSignal | undefined): FinishReason {
  switch (summary.stoppedBy) {
    case 'eos':
      return 'stop';
    case 'maxTokens':
    case 'contextFull':
      return 'length';
    case 'abort':
      if (signal?.aborted) return 'abort';
      throw new CancelledError('chat.completions.create: the generation was stopped');
  }
}

function engineReport(summary: GenerateSummary): EngineReport {
  return {
    backend: summary.backend,
    prefill_tokens_per_second: summary.prefillTokPerSec,
    decode_tokens_per_second: summary.decodeTokPerSec,
    context_full: summary.stoppedBy === 'contextFull',
    dropped_messages: summary.droppedMessages ?? 0,
  };
}

function usage(summary: GenerateSummary): CompletionUsage {
  return {
    prompt_tokens: summary.promptTokens,
    completion_tokens: summary.tokens,
    total_tokens: summary.promptTokens + summary.tokens,
    prompt_tokens_details: { cached_tokens: summary.cachedTokens },
  };
}

/**
 * One running generation as a sequence of token events. Events reach a page through a
 * comlink callback on its own port, so the summary may arrive before the last batch: the
 * run ends only when summary.tokens token events have arrived.
 */
function run(driver: EngineDriver, request: GenerateRequest, options: RequestOptions) {
  const { signal, onPrompt } = options;
  const queue: TokenEvent[] = [];
  let wake: (() => void) | undefined;
  let outcome: { summary: GenerateSummary } | { error: unknown } | undefined;
  let received = 0;
  /** A fallback not yet reported: it rides on the next token (or on the last chunk). */
  let fallback: BackendReport | undefined;
  const onEvents = driver.callback((events: EngineEvent[]) => {
    for (const e of events)
      if (e.type === 'token') {
        queue.push(fallback ? { ...e, fallback } : e);
        fallback = undefined;
        received++;
      } else if (e.type === 'prompt') onPrompt?.(e.tokens);
      else fallback = e.backend;
    wake?.();
  });
  const onAbort = () => void driver.stop();
  signal?.addEventListener('abort', onAbort, { once: true });
  const finished = driver.generate(request, onEvents).then(
    (summary) => {
      outcome = { summary };
    },
    (error: unknown) => {
      outcome = { error };
    },
  );
  void finished.then(() => {
    signal?.removeEventListener('abort', onAbort);
    wake?.();
  });
  if (signal?.aborted) onAbort();
  const complete = () => outcome && ('error' in outcome || received >= outcome.summary.tokens);
  return {
    async *tokens(): AsyncGenerator<TokenEvent> {
      for (;;) {
        const next = queue.shift();
        if (next) {
          yield next;
          continue;
        }
        if (complete()) break;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
      if (outcome && 'error' in outcome) throw outcome.error;
    },
    summary(): GenerateSummary {
      assert(outcome !== undefined && 'summary' in outcome, 'completions: summary() before the run finished');
      return outcome.summary;
    },
    /** A fallback after the last token (none carried it). */
    pendingFallback: () => fallback,
    finished,
  };
}

/**
 * One request at a time: acquire() resolves, with the release function, once every earlier
 * holder has released (a stream holds the engine from its first read until it ends or is left).
 */
function engineLock(): () => Promise<() => void> {
  let tail: Promise<void> = Promise.resolve();
  return () => {
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const ready = tail.then(() => release);
    tail = tail.then(() => held);
    return ready;
  };
}

export function chatCompletions(driver: EngineDriver, model: () => ModelSummary): ChatCompletions {
  const acquire = engineLock();
  const meta = () => ({
    id: `chatcmpl-${Math.random().toString(36).slice(2, 14)}`,
    created: Math.floor(Date.now() / 1000),
    model: model().id,
  });

  async function complete(request: GenerateRequest, probs: boolean, options: RequestOptions): Promise<ChatCompletion> {
    const { signal } = options;
    const head = meta();
    const generation = run(driver, request, options);
    let content = '';
    const tokens: MoeTokenRouting[] = [];
    for await (const t of generation.tokens()) {
      content += t.text;
      tokens.push(moeTokenRouting(t.id, t.routing, probs));
    }
    const summary = generation.summary();
    return {
      ...head,
      object: 'chat.completion',
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: finishReason(summary, signal) }],
      usage: usage(summary),
      moe: { tokens },
      engine: engineReport(summary),
    };
  }

  async function* chunks(
    request: GenerateRequest,
    probs: boolean,
    options: RequestOptions,
  ): AsyncGenerator<ChatCompletionChunk> {
    const { signal } = options;
    const head = meta();
    const generation = run(driver, request, options);
    let first = true;
    let ended = false;
    try {
      for await (const t of generation.tokens()) {
        const delta: ChatCompletionChunk['choices'][0]['delta'] = first
          ? { role: 'assistant', content: t.text }
          : { content: t.text };
        first = false;
        const chunk: ChatCompletionChunk = {
          ...head,
          object: 'chat.completion.chunk',
          choices: [{ index: 0, delta, finish_reason: null }],
          moe: { tokens: [moeTokenRouting(t.id, t.routing, probs)] },
        };
        if (t.fallback) chunk.fallback = t.fallback;
        yield chunk;
      }
      const summary = generation.summary();
      ended = true;
      const last: ChatCompletionChunk = {
        ...head,
        object: 'chat.completion.chunk',
        choices: [
          { index: 0, delta: first ? { role: 'assistant' } : {}, finish_reason: finishReason(summary, signal) },
        ],
        usage: usage(summary),
        moe: { tokens: [] },
        engine: engineReport(summary),
      };
      const fallback = generation.pendingFallback();
      if (fallback) last.fallback = fallback;
      yield last;
    } finally {
      // The consumer left the loop early: stop the engine, and let the next request start once it has.
      if (!ended) await driver.stop();
      await generation.finished;
    }
  }

  function create(
    params: ChatCompletionCreateParams & { stream: true },
    options?: RequestOptions,
  ): Promise<AsyncIterable<ChatCompletionChunk>>;
  function create(
    params: ChatCompletionCreateParams & { stream?: false },
    options?: RequestOptions,
  ): Promise<ChatCompletion>;
  function create(
    params: ChatCompletionCreateParams,
    options?: RequestOptions,
  ): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>>;
  async function create(
    params: ChatCompletionCreateParams,
    options: RequestOptions = {},
  ): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>> {
    const request = toGenerateRequest(params, model());
    const probs = params.moe?.router_probs === true;
    if (!params.stream) {
      const release = await acquire();
      try {
        return await complete(request, probs, options);
      } finally {
        release();
      }
    }
    return {
      async *[Symbol.asyncIterator]() {
        const release = await acquire();
        try {
          yield* chunks(request, probs, options);
        } finally {
          release();
        }
      },
    };
  }
  return { create };
}
