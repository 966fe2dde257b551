/**
 * GGUF `tokenizer.*` metadata → an HF tokenizer.json object that @huggingface/tokenizers
 * loads (the inverse of gguf-tokenizer.ts):
 *   "llama": SentencePiece-style BPE (▁ prefix, byte fallback). GGUF stores no merges, so
 *            they are rebuilt from the vocabulary and scores exactly as transformers'
 *            SentencePieceExtractor does: every split of a piece into two pieces, ranked by
 *            the merged piece's score (higher first), ties by the parts' ids.
 *   "gpt2":  byte-level BPE with the stored merges.
 */
import { FormatError } from '../errors.ts';
import type { GgufFile } from '../formats/gguf-types.ts';
import { metaArrayOf, metaNumber, metaString } from '../formats/gguf-meta.ts';
import { GGUF_TOKEN_TYPE } from './gguf-tokenizer.ts';
import type { TokenizerJson } from '../tokenizer/types.ts';

type Meta = Pick<GgufFile, 'name' | 'metadata'>;

/**
 * Rebuilding SentencePiece merges costs Σ (piece length)² string operations. Real vocabularies
 * have pieces of at most a few dozen characters (SentencePiece's default max_piece_length is 16)
 * and stay below 3e7 for 256k pieces; a hostile file of long pieces would hang the tab instead.
 */
export const GGUF_TOKENIZER_LIMITS = {
  /** Longest piece we rebuild merges for: 64 × SentencePiece's default max_piece_length. */
  maxPieceChars: 1024,
  /** Σ (piece length)² over the vocabulary, about a second of work. */
  maxMergeWork: 300_000_000,
} as const;

function checkMergeWork(file: Meta, tokens: string[]): void {
  let work = 0;
  tokens.forEach((t, id) => {
    if (t.length > GGUF_TOKENIZER_LIMITS.maxPieceChars)
      throw new FormatError(
        `gguf: ${file.name}: tokenizer.ggml.tokens[${id}] has ${t.length} characters, more than ${GGUF_TOKENIZER_LIMITS.maxPieceChars} (GGUF_TOKENIZER_LIMITS.maxPieceChars)`,
      );
    work += t.length * t.length;
  });
  if (work > GGUF_TOKENIZER_LIMITS.maxMergeWork)
    throw new FormatError(
      `gguf: ${file.name}: tokenizer.ggml.tokens would need ${work} steps to rebuild merges, more than ${GGUF_TOKENIZER_LIMITS.maxMergeWork} (GGUF_TOKENIZER_LIMITS.maxMergeWork)`,
    );
}

/** "left right" → [left, right]; anything else is a FormatError naming the index. */
function splitMerges(file: Meta, merges: string[]): [string, string][] {
  return merges.map((m, i) => {
    const parts = m.split(' ');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '')
      throw new FormatError(
        `gguf: ${file.name}: tokenizer.ggml.merges[${i}] ${JSON.stringify(m.slice(0, 40))} is not "left right"`,
      );
    return parts as [string, string];
  });
}

export interface GgufTokenizer {
  tokenizerJson: TokenizerJson;
  chatTemplate?: string;
}

function rebuildSentencePieceMerges(tokens: string[], scores: number[], types: number[]): [string, string][] {
  const ids = new Map<string, number>();
  tokens.forEach((t, id) => {
    if (types[id] === GGUF_TOKEN_TYPE.normal && !ids.has(t)) ids.set(t, id);
  });
  const merges: { left: string; right: string; score: number; leftId: number; rightId: number; order: number }[] = [];
  for (const [piece, id] of ids) {
    const chars = Array.from(piece);
    const local: typeof merges = [];
    for (let i = 1; i < chars.length; i++) {
      const left = chars.slice(0, i).join('');
      const right = chars.slice(i).join('');
      const leftId = ids.get(left);
      const rightId = ids.get(right);
      if (leftId !== undefined && rightId !== undefined)
        local.push({ left, right, score: scores[id] ?? 0, leftId, rightId, order: 0 });
    }
    local.sort((a, b) => a.leftId - b.leftId || a.rightId - b.rightId);
    merges.push(...local);
  }
  merges.forEach((m, i) => {
    m.order = i;
  });
  merges.sort((a, b) => b.score - a.score || a.order - b.order);
  return merges.map((m) => [m.left, m.right]);
}

function addedTokens(tokens: string[], types: number[]) {
  const out: object[] = [];
  tokens.forEach((content, id) => {
    const type = types[id];
    if (type === GGUF_TOKEN_TYPE.control || type === GGUF_TOKEN_TYPE.unknown || type === GGUF_TOKEN_TYPE.userDefined) {
      out.push({
        id,
        content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: type !== GGUF_TOKEN_TYPE.userDefined,
      });
    }
  });
  return out;
}

function postProcessor(bos: string | undefined, bosId: number | undefined) {
  const single = bos === undefined ? [] : [{ SpecialToken: { id: bos, type_id: 0 } }];
  const pair = bos === undefined ? [] : [{ SpecialToken: { id: bos, type_id: 1 } }];
  return {
    type: 'TemplateProcessing',
    single: [...single, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [...single, { Sequence: { id: 'A', type_id: 0 } }, ...pair, { Sequence: { id: 'B', type_id: 1 } }],
    special_tokens: bos === undefined ? {} : { [bos]: { id: bos, ids: [bosId], tokens: [bos] } },
  };
}

function llamaSections(tokens: string[], scores: number[], types: number[], unk: string | undefined) {
  return {
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    pre_tokenizer: null,
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: unk ?? null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab: vocabObject(tokens),
      merges: rebuildSentencePieceMerges(tokens, scores, types),
    },
  };
}

function gpt2Sections(tokens: string[], merges: [string, string][]) {
  return {
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: vocabObject(tokens),
      merges,
    },
  };
}

/** First id of each piece. A null-prototype object: pieces such as "__proto__" or "constructor" are ordinary keys. */
function vocabObject(tokens: string[]): Record<string, number> {
  const vocab: Record<string, number> = Object.create(null);
  tokens.forEach((t, id) => {
    if (!Object.hasOwn(vocab, t)) vocab[t] = id;
  });
  return vocab;
}

/** undefined when the file carries no tokenizer.ggml.tokens. */
export function ggufToTokenizer(file: Meta): GgufTokenizer | undefined {
  const tokens = metaArrayOf(file, 'tokenizer.ggml.tokens', 'string');
  if (!tokens) return undefined;
  const kind = metaString(file, 'tokenizer.ggml.model');
  const types = metaArrayOf(file, 'tokenizer.ggml.token_type', 'number') ?? tokens.map(() => GGUF_TOKEN_TYPE.normal);
  const scores = metaArrayOf(file, 'tokenizer.ggml.scores', 'number') ?? tokens.map((_, id) => -id);
  const tokenAt = (key: string) => {
    const id = metaNumber(file, key);
    return id === undefined ? undefined : tokens[id];
  };
  const bosId = metaNumber(file, 'tokenizer.ggml.bos_token_id');
  const addBos = file.metadata.get('tokenizer.ggml.add_bos_token')?.value ?? kind === 'llama';
  const bos = addBos === true ? tokenAt('tokenizer.ggml.bos_token_id') : undefined;
  let sections: TokenizerJson;
  if (kind === 'llama') checkMergeWork(file, tokens);
  if (kind === 'llama') sections = llamaSections(tokens, scores, types, tokenAt('tokenizer.ggml.unknown_token_id'));
  else if (kind === 'gpt2')
    sections = gpt2Sections(tokens, splitMerges(file, metaArrayOf(file, 'tokenizer.ggml.merges', 'string') ?? []));
  else
    throw new FormatError(
      `gguf: ${file.name}: tokenizer.ggml.model ${JSON.stringify(kind)} is not supported (llama, gpt2)`,
    );
  const post = postProcessor(bos, bosId);
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens(tokens, types),
    ...sections,
    post_processor: post,
  };
  const chatTemplate = metaString(file, 'tokenizer.chat_template');
  return chatTemplate === undefined ? { tokenizerJson } : { tokenizerJson, chatTemplate };
}
