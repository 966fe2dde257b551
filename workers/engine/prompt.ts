/**
 * Conversation → prompt token ids: the tokenizer's chat template when it has one
 * (tokenizer_config.json), else a plain "role: text" transcript.
 */
import type { LoadedModel } from '../../src/core/model/load.ts';
import type { ChatMessage } from '../../src/core/tokenizer/types.ts';
import { ContextFullError } from '../../src/core/errors.ts';

export function buildPromptText(model: LoadedModel, messages: ChatMessage[]): { text: string; templated: boolean } {
  const tokenizer = model.tokenizer;
  if (tokenizer) {
    try {
      return { text: tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true }), templated: true };
    } catch {
      // no chat template: fall through to a plain transcript
    }
  }
  const text = `${messages.map((m) => (m.role === 'system' ? m.content : `${m.role}: ${m.content}`)).join('\n')}\nassistant:`;
  return { text, templated: false };
}

export function buildPromptIds(model: LoadedModel, messages: ChatMessage[]): number[] {
  const tokenizer = model.tokenizer;
  if (!tokenizer)
    throw Object.assign(new Error('engine: this model has no tokenizer.json, so it cannot chat'), {
      name: 'ConfigError',
    });
  const { text, templated } = buildPromptText(model, messages);
  const ids = tokenizer.encode(text, { addSpecialTokens: !templated });
  if (!templated && tokenizer.bosTokenId !== undefined && ids[0] !== tokenizer.bosTokenId)
    ids.unshift(tokenizer.bosTokenId);
  return ids;
}

/** Room kept for the answer when a long conversation is trimmed to fit the context (at most half the context). */
export const ANSWER_RESERVE_TOKENS = 64;

/**
 * Prompt ids that fit `maxContext` with room for the answer: the oldest turns after the
 * system prompt (a user message and the answers to it) are dropped first (a chat keeps its
 * latest exchange); `dropped` counts the messages left out.
 * When the last message alone does not fit, a ContextFullError says so (never a silent cut).
 */
export function buildPromptIdsWithin(
  model: LoadedModel,
  messages: ChatMessage[],
  maxContext: number,
): { ids: number[]; dropped: number } {
  const budget = Math.max(1, maxContext - Math.min(ANSWER_RESERVE_TOKENS, Math.floor(maxContext / 2)));
  const system = messages[0]?.role === 'system' ? [messages[0]] : [];
  let rest = messages.slice(system.length);
  let ids = buildPromptIds(model, [...system, ...rest]);
  while (ids.length > budget && rest.length > 1) {
    // A whole turn at a time: the kept conversation starts with a user message, as chat
    // templates expect (some refuse one that starts with the assistant).
    rest = rest.slice(1);
    while (rest.length > 1 && rest[0]!.role === 'assistant') rest = rest.slice(1);
    ids = buildPromptIds(model, [...system, ...rest]);
  }
  if (ids.length > budget)
    throw new ContextFullError(
      `engine: messages: the last message and the system prompt take ${ids.length} tokens, more than the ${budget} the context holds with room for the answer`,
    );
  return { ids, dropped: messages.length - system.length - rest.length };
}
