/**
 * HF tokenizer.json (+ tokenizer_config.json) ⇄ GGUF `tokenizer.*` metadata, as llama.cpp's
 * converter writes it:
 *   tokenizer.ggml.model   "llama" — SentencePiece BPE with ▁ and <0xXX> byte fallback (Llama, Mistral)
 *                          "gpt2"  — byte-level BPE with merges (GPT-2 style, Qwen2)
 *   tokenizer.ggml.tokens / token_type / scores (llama) / merges (gpt2) / pre (gpt2),
 *   bos/eos/unknown/padding ids, add_bos_token / add_eos_token, tokenizer.chat_template.
 * Only BPE tokenizer.json models are supported (Unigram/WordPiece are refused by name).
 */
import { ConfigError, FormatError } from '../errors.ts';
import type { GgufMetadataValue } from '../formats/gguf-types.ts';
import { ggufValue } from '../formats/gguf-meta.ts';
import type { TokenizerJson } from '../tokenizer/types.ts';

export type GgufTokenizerModel = 'llama' | 'gpt2';

/** llama.cpp `enum llama_token_type` (tokenizer.ggml.token_type values). */
export const GGUF_TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

export interface TokenizerExportOptions {
  /** Rows of the embedding: the GGUF vocabulary must have exactly this many tokens. */
  vocabSize: number;
  /** GGUF architecture, for tokenizer.ggml.pre (qwen2 vocabularies use the 'qwen2' split). */
  ggufArch: string;
  bosTokenId?: number;
  eosTokenId?: number;
}

interface AddedToken {
  id: number;
  content: string;
  special?: boolean;
}

function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string')
    return (value as { content: string }).content;
  return undefined;
}

export function detectTokenizerModel(tokenizerJson: TokenizerJson): GgufTokenizerModel {
  const model = tokenizerJson?.model;
  if (model?.type !== 'BPE')
    throw new FormatError(
      `tokenizer.json: model type ${JSON.stringify(model?.type)} is not supported for GGUF export (only BPE)`,
    );
  const text = JSON.stringify([tokenizerJson.pre_tokenizer ?? null, tokenizerJson.decoder ?? null]);
  if (text.includes('"ByteLevel"')) return 'gpt2';
  if (model.byte_fallback === true || Object.hasOwn(model.vocab ?? {}, '<0x00>')) return 'llama';
  throw new FormatError(
    'tokenizer.json: BPE model is neither byte-level (ByteLevel pre-tokenizer) nor SentencePiece-style (byte_fallback); cannot choose tokenizer.ggml.model',
  );
}

function tokenTypeOf(
  kind: GgufTokenizerModel,
  piece: string,
  added: AddedToken | undefined,
  unkToken: string | undefined,
): number {
  if (added)
    return added.special === false
      ? GGUF_TOKEN_TYPE.userDefined
      : piece === unkToken
        ? GGUF_TOKEN_TYPE.unknown
        : GGUF_TOKEN_TYPE.control;
  if (piece === unkToken) return GGUF_TOKEN_TYPE.unknown;
  if (kind === 'llama' && /^<0x[0-9A-F]{2}>$/.test(piece)) return GGUF_TOKEN_TYPE.byte;
  return GGUF_TOKEN_TYPE.normal;
}

/**
 * SentencePiece scores from the BPE merge ranks: llama.cpp's SPM tokenizer merges the bigram
 * whose result has the highest score, so score = −(rank of the first merge producing the
 * piece) reproduces tokenizer.json's BPE order. Pieces no merge produces rank below all.
 */
function mergeRankScores(tokenizerJson: TokenizerJson): Map<string, number> {
  const scores = new Map<string, number>();
  mergeStrings(tokenizerJson).forEach((merge, rank) => {
    const piece = merge.replace(' ', '');
    if (!scores.has(piece)) scores.set(piece, -rank);
  });
  return scores;
}

/** tokens[id], token types and (SentencePiece) scores, padded to vocabSize with [PADn] like llama.cpp's converter. */
function buildTokenTable(tokenizerJson: TokenizerJson, kind: GgufTokenizerModel, vocabSize: number) {
  const vocab: Record<string, number> = tokenizerJson.model.vocab ?? {};
  const added = new Map<number, AddedToken>();
  for (const t of (tokenizerJson.added_tokens ?? []) as AddedToken[]) added.set(t.id, t);
  const tokens: (string | undefined)[] = new Array(vocabSize);
  const place = (piece: string, id: number) => {
    if (!Number.isInteger(id) || id < 0)
      throw new FormatError(`tokenizer.json: token ${JSON.stringify(piece)} has invalid id ${id}`);
    if (id >= vocabSize)
      throw new ConfigError(
        `tokenizer.json: token ${JSON.stringify(piece)} has id ${id}, but the model's embedding has only ${vocabSize} rows`,
      );
    tokens[id] = piece;
  };
  for (const [piece, id] of Object.entries(vocab)) place(piece, id);
  for (const t of added.values()) place(t.content, t.id);
  const unkToken = tokenContent(tokenizerJson.model.unk_token);
  const rankScores = mergeRankScores(tokenizerJson);
  const unmergedScore = (id: number) => -(rankScores.size + id);
  const types: number[] = [];
  const scores: number[] = [];
  const pieces = Array.from(tokens, (piece, id) => {
    if (piece === undefined) {
      types.push(GGUF_TOKEN_TYPE.unused);
      scores.push(-1000);
      return `[PAD${id}]`;
    }
    const type = tokenTypeOf(kind, piece, added.get(id), unkToken);
    types.push(type);
    scores.push(type === GGUF_TOKEN_TYPE.normal ? (rankScores.get(piece) ?? unmergedScore(id)) : 0);
    return piece;
  });
  return { pieces, types, scores };
}

function mergeStrings(tokenizerJson: TokenizerJson): string[] {
  const merges: unknown[] = tokenizerJson.model.merges ?? [];
  return merges.map((m, i) => {
    if (typeof m === 'string') return m;
    if (Array.isArray(m) && m.length === 2) return `${m[0]} ${m[1]}`;
    throw new FormatError(`tokenizer.json: merges[${i}] is neither "a b" nor ["a", "b"]`);
  });
}

function chatTemplateOf(config: TokenizerJson): string | undefined {
  const value = config?.chat_template;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.find((t: { name?: string }) => t.name === 'default')?.template;
  return undefined;
}

/** The `tokenizer.*` metadata entries for a GGUF file. */
export function tokenizerToGgufMetadata(
  tokenizerJson: TokenizerJson,
  tokenizerConfig: TokenizerJson,
  options: TokenizerExportOptions,
): [string, GgufMetadataValue][] {
  const kind = detectTokenizerModel(tokenizerJson);
  const { pieces, types, scores } = buildTokenTable(tokenizerJson, kind, options.vocabSize);
  const entries: [string, GgufMetadataValue][] = [['tokenizer.ggml.model', ggufValue.string(kind)]];
  if (kind === 'gpt2')
    entries.push(['tokenizer.ggml.pre', ggufValue.string(options.ggufArch.startsWith('qwen2') ? 'qwen2' : 'gpt-2')]);
  entries.push(['tokenizer.ggml.tokens', ggufValue.strings(pieces)]);
  if (kind === 'llama') entries.push(['tokenizer.ggml.scores', ggufValue.numbers('f32', scores)]);
  entries.push(['tokenizer.ggml.token_type', ggufValue.numbers('i32', types)]);
  if (kind === 'gpt2') entries.push(['tokenizer.ggml.merges', ggufValue.strings(mergeStrings(tokenizerJson))]);
  const idOf = (token: string | undefined) =>
    token === undefined ? undefined : pieces.indexOf(token) >= 0 ? pieces.indexOf(token) : undefined;
  const bos = options.bosTokenId ?? idOf(tokenContent(tokenizerConfig?.bos_token));
  const eos = options.eosTokenId ?? idOf(tokenContent(tokenizerConfig?.eos_token));
  const unk = idOf(tokenContent(tokenizerJson.model.unk_token));
  const pad = idOf(tokenContent(tokenizerConfig?.pad_token));
  if (bos !== undefined) entries.push(['tokenizer.ggml.bos_token_id', ggufValue.u32(bos)]);
  if (eos !== undefined) entries.push(['tokenizer.ggml.eos_token_id', ggufValue.u32(eos)]);
  if (unk !== undefined) entries.push(['tokenizer.ggml.unknown_token_id', ggufValue.u32(unk)]);
  if (pad !== undefined) entries.push(['tokenizer.ggml.padding_token_id', ggufValue.u32(pad)]);
  const addBos = typeof tokenizerConfig?.add_bos_token === 'boolean' ? tokenizerConfig.add_bos_token : kind === 'llama';
  entries.push(['tokenizer.ggml.add_bos_token', ggufValue.bool(addBos)]);
  entries.push(['tokenizer.ggml.add_eos_token', ggufValue.bool(tokenizerConfig?.add_eos_token === true)]);
  const template = chatTemplateOf(tokenizerConfig);
  if (template !== undefined) entries.push(['tokenizer.chat_template', ggufValue.string(template)]);
  return entries;
}
