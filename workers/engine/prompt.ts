/**
 * Conversation → prompt token ids: the tokenizer's chat template when it has one
 * (tokenizer_config.json), else a plain "role: text" transcript.
 */
import type { LoadedModel } from '../../src/core/model/load.ts';
import type { ChatMessage } from '../../src/core/tokenizer/types.ts';

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

/** Room kept for the answer when a long conversation is trimmed to fit the context. */
export const ANSWER_RESERVE_TOKENS = 64;

/**
 * Prompt ids that fit `maxContext`: the oldest turns after the system prompt are dropped
 * first (a chat keeps its latest exchange); a single over-long message keeps its last tokens.
 */
export function buildPromptIdsWithin(model: LoadedModel, messages: ChatMessage[], maxContext: number): number[] {
  const budget = Math.max(1, maxContext - ANSWER_RESERVE_TOKENS);
  const system = messages[0]?.role === 'system' ? [messages[0]] : [];
  let rest = messages.slice(system.length);
  let ids = buildPromptIds(model, [...system, ...rest]);
  while (ids.length > budget && rest.length > 1) {
    rest = rest.slice(1);
    ids = buildPromptIds(model, [...system, ...rest]);
  }
  return ids.length > budget ? ids.slice(ids.length - budget) : ids;
}
