/**
 * The Chat page's side of the library API (pure functions, no store): a conversation and the
 * chosen sampling as a chat.completions request, each chunk's routing in the shape the
 * heatmap reads, the last chunk as the summary a saved answer keeps, and the batching of
 * streamed tokens for the live view.
 */
import type { RoutingOverrides, TokenRouting } from '../core/runtime/types.ts';
import type { ChatMessage } from '../core/tokenizer/types.ts';
import { moeRequestOf } from '../api/request.ts';
import type {
  ChatCompletionChunk,
  ChatCompletionCreateParams,
  ContextOverflow,
  MoeLayerRouting,
} from '../api/types.ts';
import type { GenerateSummary } from '../../workers/engine/api.ts';
import { tokenStream, type StreamToken } from './token-stream.ts';
import type { Sampling } from './chat-sampling.ts';

/** What a request is made from (chat.ts's Conversation has these fields). */
interface ConversationLike {
  system: string;
  turns: { role: 'user' | 'assistant'; content: string }[];
  contextOverflow?: ContextOverflow;
}

function toMessages(c: ConversationLike): ChatMessage[] {
  const out: ChatMessage[] = c.system.trim() ? [{ role: 'system', content: c.system }] : [];
  return out.concat(c.turns.map((t) => ({ role: t.role, content: t.content })));
}

/**
 * The request Chat sends: its sampling, its stop strings, the routing overrides in force, the
 * router's full softmax for the routing picture, and the conversation's context choice.
 */
export function completionParams(
  c: ConversationLike,
  sampling: Sampling,
  overrides: RoutingOverrides | undefined,
  continueAnswer: boolean,
): ChatCompletionCreateParams {
  return {
    messages: toMessages(c),
    max_tokens: sampling.maxTokens,
    temperature: sampling.temperature,
    top_k: sampling.topK,
    top_p: sampling.topP,
    repetition_penalty: sampling.repetitionPenalty,
    ...(sampling.seed !== undefined && { seed: sampling.seed }),
    ...(sampling.stop?.length && { stop: sampling.stop }),
    context_overflow: c.contextOverflow ?? 'error',
    ...(continueAnswer && { continue_final_message: true }),
    moe: { ...moeRequestOf(overrides), router_probs: true },
  };
}

export function compactRouting(layers: MoeLayerRouting[]): TokenRouting {
  const round = (v: number) => Math.round(v * 1e4) / 1e4;
  return {
    layers: layers.map((l) => ({
      expertIds: l.expert_ids,
      expertWeights: l.expert_weights.map(round),
      moeProbs: (l.router_probs ?? []).map(round),
    })),
  };
}

/** The last chunk as the summary a saved answer keeps (the shape answers were saved in before the API). */
export function summaryOf(last: ChatCompletionChunk): GenerateSummary | undefined {
  const { usage, engine } = last;
  const finish = last.choices[0]!.finish_reason;
  if (!usage || !engine || !finish) return undefined;
  const stoppedBy =
    finish === 'stop' ? 'eos' : finish === 'abort' ? 'abort' : engine.context_full ? 'contextFull' : 'maxTokens';
  return {
    tokens: usage.completion_tokens,
    promptTokens: usage.prompt_tokens,
    cachedTokens: usage.prompt_tokens_details.cached_tokens,
    stoppedBy,
    droppedMessages: engine.dropped_messages,
    prefillTokPerSec: engine.prefill_tokens_per_second,
    decodeTokPerSec: engine.decode_tokens_per_second,
    backend: engine.backend,
  };
}

/** Token chunks reach the live view in batches (one per task, as the engine sends them), not one render each. */
export function streamBatcher() {
  let pending: StreamToken[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (pending.length) tokenStream.push(pending);
    pending = [];
  };
  return {
    push(token: StreamToken) {
      pending.push(token);
      timer ??= setTimeout(flush, 0);
    },
    flush,
  };
}
