/**
 * Conversation → prompt token ids: the tokenizer's chat template when it has one
 * (tokenizer_config.json), else a plain "role: text" transcript.
 */
import type { ExportableModel } from '../../src/core/model/load.ts';
import type { ChatMessage } from '../../src/core/tokenizer/types.ts';
import { ConfigError, ContextFullError } from '../../src/core/errors.ts';
import type { GenerateRequest } from './api.ts';

export function buildPromptText(model: ExportableModel, messages: ChatMessage[]): { text: string; templated: boolean } {
  const tokenizer = model.tokenizer;
  if (tokenizer) {
    try {
      return { text: tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true }), templated: true };
    } catch (error) {
      // no chat template, or one that fails on these messages: fall through to a plain transcript;
      // anything else (a render past its deadline, guard.ts) is the answer's error
      if ((error as Error)?.name !== 'ConfigError') throw error;
    }
  }
  const text = `${messages.map((m) => (m.role === 'system' ? m.content : `${m.role}: ${m.content}`)).join('\n')}\nassistant:`;
  return { text, templated: false };
}

export function buildPromptIds(model: ExportableModel, messages: ChatMessage[]): number[] {
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
  model: ExportableModel,
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

/**
 * A request's prompt ids, with `answered` answer tokens to follow them in the context: with
 * drop-oldest-turns (the default) the oldest turns are left out until they fit; with refuse, a
 * prompt that does not fit is a ContextFullError. With continueFinal the last (assistant)
 * message is the start of the answer, not a closed turn: its text follows the generation prompt.
 */
export function requestPromptIds(
  model: ExportableModel,
  request: GenerateRequest,
  maxContext: number,
  answered: number,
): { ids: number[]; dropped: number } {
  const final = request.continueFinal ? request.messages.at(-1) : undefined;
  if (final && final.role !== 'assistant')
    throw new ConfigError(`engine: continueFinal needs an assistant message last, not '${final.role}'`);
  const messages = final ? request.messages.slice(0, -1) : request.messages;
  const tail = final ? model.tokenizer!.encode(final.content, { addSpecialTokens: false }) : [];
  if ((request.overflow ?? 'drop-oldest-turns') === 'drop-oldest-turns') {
    const within = buildPromptIdsWithin(model, messages, maxContext - answered - tail.length);
    return { ids: [...within.ids, ...tail], dropped: within.dropped };
  }
  const ids = [...buildPromptIds(model, messages), ...tail];
  if (ids.length >= maxContext)
    throw new ContextFullError(
      `engine: messages: the prompt has ${ids.length} tokens, the context holds ${maxContext} (prompt and answer together)`,
    );
  return { ids, dropped: 0 };
}

/**
 * An answer filled the context (drop-oldest-turns): a prompt that leaves out more of the
 * oldest turns than `dropped`, with room after the `answered` tokens so far; undefined when
 * nothing more can be left out.
 */
export function rolledPromptIds(
  model: ExportableModel,
  request: GenerateRequest,
  maxContext: number,
  answered: number,
  dropped: number,
): { ids: number[]; dropped: number } | undefined {
  try {
    const next = requestPromptIds(model, request, maxContext, answered);
    return next.dropped > dropped ? next : undefined;
  } catch (e) {
    if ((e as Error).name === 'ContextFullError') return undefined;
    throw e;
  }
}
