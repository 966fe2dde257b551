/**
 * Conversation → prompt token ids: the tokenizer's chat template when it has one
 * (tokenizer_config.json), else a plain "role: text" transcript.
 */
import type { LoadedModel } from '../../core/model/load-hf.ts';
import type { ChatMessage } from '../../core/tokenizer/types.ts';

export function buildPromptText(model: LoadedModel, messages: ChatMessage[]): { text: string; templated: boolean } {
  const tokenizer = model.tokenizer;
  if (tokenizer) {
    try {
      return { text: tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true }), templated: true };
    } catch {
      // no chat template: fall through to a plain transcript
    }
  }
  const text = messages.map((m) => (m.role === 'system' ? m.content : `${m.role}: ${m.content}`)).join('\n') + '\nassistant:';
  return { text, templated: false };
}

export function buildPromptIds(model: LoadedModel, messages: ChatMessage[]): number[] {
  const tokenizer = model.tokenizer;
  if (!tokenizer) throw Object.assign(new Error('engine: this model has no tokenizer.json, so it cannot chat'), { name: 'ConfigError' });
  const { text, templated } = buildPromptText(model, messages);
  const ids = tokenizer.encode(text, { addSpecialTokens: !templated });
  if (!templated && tokenizer.bosTokenId !== undefined && ids[0] !== tokenizer.bosTokenId) ids.unshift(tokenizer.bosTokenId);
  return ids;
}
