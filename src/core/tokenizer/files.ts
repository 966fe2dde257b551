/** The files of an HF folder that belong to its tokenizer, and those that travel with a model. */

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

/** Tokenizer and generation files that travel with a model folder (export-hf copies them through). */
export const HF_SIDECAR_FILES = [...TOKENIZER_FILES, 'generation_config.json'] as const;
