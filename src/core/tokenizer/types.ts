/**
 * What the core needs from a tokenizer. Implemented over @huggingface/transformers'
 * AutoTokenizer from in-memory files (tokenizer/hf.ts) and over llama2.c's tok*.bin
 * (tokenizer/llama2c.ts).
 */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface Tokenizer {
  readonly vocabSize: number;
  readonly bosTokenId?: number;
  readonly bosToken?: string;
  readonly eosTokenIds: number[];
  readonly eosToken?: string;
  /** addSpecialTokens: whether the tokenizer's post-processor adds BOS/EOS. */
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  decode(ids: number[], options?: { skipSpecialTokens?: boolean }): string;
  /** Renders the chat template from tokenizer_config.json (throws ConfigError if none). */
  applyChatTemplate(messages: ChatMessage[], options?: { addGenerationPrompt?: boolean }): string;
  /** Whether there is a chat template that compiles; none of it runs (a render is untrusted work, guard.ts). */
  hasChatTemplate(): boolean;
  /** Piece strings by id, for GGUF export (tokenizer.ggml.tokens) and the UI. */
  idToToken(id: number): string | undefined;
}

/**
 * tokenizer.json / tokenizer_config.json as parsed from a file: untrusted JSON whose fields
 * are checked where they are read (the tokenizer library, gguf-tokenizer.ts).
 */
// biome-ignore lint/suspicious/noExplicitAny: file-provided JSON; each reader checks the fields it uses
export type TokenizerJson = Record<string, any>;
