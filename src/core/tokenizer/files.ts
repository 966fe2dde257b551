/** The files of an HF folder that belong to its tokenizer (generation_config.json is written, model/generation-config.ts). */

/** Tokenizer files, in the order mergekit's save_pretrained writes them. */
export const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'tokenizer.model',
  'vocab.json',
  'merges.txt',
  'added_tokens.json',
  'chat_template.jinja',
  'chat_template.json',
] as const;
