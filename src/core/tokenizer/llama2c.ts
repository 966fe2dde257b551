/**
 * llama2.c's tokenizer (tok*.bin, as written by llama2.c's tokenizer.py export), encoding
 * and decoding exactly like run.c.
 *
 * Byte layout, little-endian:
 *   int32 max_token_length
 *   then one entry per token id, to the end of the file:
 *     float32 score, int32 len, len bytes (UTF-8 piece; SentencePiece's ▁ already a space)
 *
 * The sentencepiece-llama convention it carries: id 0 <unk>, id 1 BOS ("\n<s>\n"),
 * id 2 EOS ("\n</s>\n"), ids 3..258 the byte-fallback pieces <0x00>..<0xFF>, then merges
 * with score −(merge rank).
 *
 * encode (run.c `encode`): BOS, then — if the text is not empty — a dummy leading space;
 * each UTF-8 character becomes its piece id, or its bytes' fallback ids (byte + 3) if it
 * has none; then repeatedly merge the adjacent pair whose concatenation is a piece with
 * the highest score (the leftmost on ties) until no pair merges.
 * decode (run.c `decode`): the piece after BOS loses its leading space; <0xNN> pieces
 * become raw bytes; bytes are decoded as UTF-8 (an incomplete sequence becomes U+FFFD).
 */
import { ConfigError, FormatError } from '../errors.ts';
import type { ByteSource } from '../io/byte-source.ts';
import type { ChatMessage, Tokenizer } from './types.ts';

const UNK_ID = 0;
const BOS_ID = 1;
const EOS_ID = 2;
const BYTE_FALLBACK_BASE = 3; // id of <0x00>
/** Cap on token count, with reason: larger than any llama vocabulary (256k), so more is corruption. */
const MAX_VOCAB = 1 << 20;
/** Cap on one piece's byte length: run.c keeps pieces in small buffers; 1 KiB is generous. */
const MAX_PIECE_BYTES = 1024;

export interface Llama2cTokenizer extends Tokenizer {
  /** Piece bytes by id, as stored (spaces, not ▁). */
  readonly pieces: readonly Uint8Array[];
  /** Merge scores by id. */
  readonly scores: Float32Array;
  readonly maxTokenLength: number;
}

function parseEntries(
  bytes: Uint8Array,
  name: string,
): { pieces: Uint8Array[]; scores: number[]; maxTokenLength: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 4)
    throw new FormatError(`llama2c-tokenizer: ${name} has ${bytes.byteLength} bytes, less than max_token_length`);
  const maxTokenLength = view.getInt32(0, true);
  if (maxTokenLength < 1 || maxTokenLength > MAX_PIECE_BYTES) {
    throw new FormatError(
      `llama2c-tokenizer: ${name} max_token_length ${maxTokenLength} is outside [1, ${MAX_PIECE_BYTES}]`,
    );
  }
  const pieces: Uint8Array[] = [];
  const scores: number[] = [];
  let at = 4;
  while (at < bytes.byteLength) {
    const id = pieces.length;
    if (id >= MAX_VOCAB) throw new FormatError(`llama2c-tokenizer: ${name} has more than ${MAX_VOCAB} tokens`);
    if (at + 8 > bytes.byteLength)
      throw new FormatError(`llama2c-tokenizer: ${name} token ${id} header is truncated at byte ${at}`);
    const score = view.getFloat32(at, true);
    const len = view.getInt32(at + 4, true);
    if (len < 0 || len > maxTokenLength || at + 8 + len > bytes.byteLength) {
      throw new FormatError(
        `llama2c-tokenizer: ${name} token ${id} len ${len} is outside [0, ${maxTokenLength}] or past the end of the file`,
      );
    }
    pieces.push(bytes.slice(at + 8, at + 8 + len));
    scores.push(score);
    at += 8 + len;
  }
  return { pieces, scores, maxTokenLength };
}

/** Reads tok*.bin. `vocabSize`, when given (the checkpoint's), must match the entry count. */
export async function loadLlama2cTokenizer(
  src: ByteSource,
  options: { vocabSize?: number } = {},
): Promise<Llama2cTokenizer> {
  const { pieces, scores, maxTokenLength } = parseEntries(await src.read(0, src.size), src.name);
  if (options.vocabSize !== undefined && options.vocabSize !== pieces.length) {
    throw new FormatError(
      `llama2c-tokenizer: ${src.name} has ${pieces.length} tokens, the model's vocab_size is ${options.vocabSize}`,
    );
  }
  if (pieces.length < BYTE_FALLBACK_BASE + 256) {
    throw new FormatError(
      `llama2c-tokenizer: ${src.name} has ${pieces.length} tokens, fewer than the ${BYTE_FALLBACK_BASE + 256} special and byte pieces`,
    );
  }
  return createLlama2cTokenizer(pieces, Float32Array.from(scores), maxTokenLength);
}

const utf8 = new TextDecoder('utf-8');
const utf8Encoder = new TextEncoder();

/** Byte value of a "<0xNN>" piece, else undefined (run.c's sscanf "<0x%02hhX>"). */
function byteOfPiece(piece: string): number | undefined {
  const match = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
  return match ? parseInt(match[1], 16) : undefined;
}

/** The lookup tables encode/decode share. */
interface Vocab {
  pieces: Uint8Array[]; // [vocab] piece bytes
  texts: string[]; // [vocab] piece strings
  scores: Float32Array; // [vocab]
  idOf: Map<string, number>;
}

const SPECIAL_NAMES = ['<unk>', '<s>', '</s>'];
const isSpecial = (id: number) => id === UNK_ID || id === BOS_ID || id === EOS_ID;

/** run.c encode: BOS, dummy prefix, per-character pieces with byte fallback, best-score merges. */
function encodeText(vocab: Vocab, text: string, addBos: boolean): number[] {
  const ids: number[] = addBos ? [BOS_ID] : [];
  if (text.length === 0) return ids;
  const start = ids.length;
  for (const char of ` ${text}`) {
    // dummy prefix, then one UTF-8 character at a time
    const id = vocab.idOf.get(char);
    if (id !== undefined) ids.push(id);
    else for (const byte of utf8Encoder.encode(char)) ids.push(byte + BYTE_FALLBACK_BASE);
  }
  for (;;) {
    // merge the best-scoring adjacent pair (leftmost on ties) until none merges
    let bestScore = -Infinity;
    let bestId = -1;
    let bestIndex = -1;
    for (let i = start; i < ids.length - 1; i++) {
      const merged = vocab.idOf.get(vocab.texts[ids[i]] + vocab.texts[ids[i + 1]]);
      if (merged !== undefined && vocab.scores[merged] > bestScore) {
        bestScore = vocab.scores[merged];
        bestId = merged;
        bestIndex = i;
      }
    }
    if (bestIndex < 0) return ids;
    ids.splice(bestIndex, 2, bestId);
  }
}

/** run.c decode: strip the space after BOS, raw bytes for <0xNN>, then UTF-8. */
function decodeIds(vocab: Vocab, ids: number[], skipSpecialTokens: boolean): string {
  const bytes: number[] = [];
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!Number.isInteger(id) || id < 0 || id >= vocab.pieces.length) {
      throw new ConfigError(`llama2c-tokenizer: token id ${id} outside [0, ${vocab.pieces.length})`);
    }
    if (isSpecial(id)) {
      if (!skipSpecialTokens) bytes.push(...utf8Encoder.encode(SPECIAL_NAMES[id]));
      continue;
    }
    let piece = vocab.texts[id];
    if (i > 0 && ids[i - 1] === BOS_ID && piece.startsWith(' ')) piece = piece.slice(1);
    const byte = byteOfPiece(piece);
    if (byte !== undefined) bytes.push(byte);
    else bytes.push(...utf8Encoder.encode(piece));
  }
  return utf8.decode(new Uint8Array(bytes));
}

export function createLlama2cTokenizer(
  pieces: Uint8Array[],
  scores: Float32Array,
  maxTokenLength: number,
): Llama2cTokenizer {
  const texts = pieces.map((p) => utf8.decode(p));
  const idOf = new Map<string, number>();
  texts.forEach((text, id) => {
    if (!idOf.has(text)) idOf.set(text, id);
  });
  const vocab: Vocab = { pieces, texts, scores, idOf };
  return {
    vocabSize: pieces.length,
    bosTokenId: BOS_ID,
    bosToken: '<s>',
    eosTokenIds: [EOS_ID],
    eosToken: '</s>',
    pieces,
    scores,
    maxTokenLength,
    encode: (text, options = {}) => encodeText(vocab, text, options.addSpecialTokens ?? true),
    decode: (ids, options = {}) => decodeIds(vocab, ids, options.skipSpecialTokens ?? false),
    applyChatTemplate(_messages: ChatMessage[]): string {
      throw new ConfigError('llama2c-tokenizer: has no chat template');
    },
    hasChatTemplate: () => false,
    /** SentencePiece-style piece: specials by name, spaces as ▁ (what GGUF's tokens hold). */
    idToToken(id: number): string | undefined {
      if (!Number.isInteger(id) || id < 0 || id >= pieces.length) return undefined;
      return isSpecial(id) ? SPECIAL_NAMES[id] : texts[id].replaceAll(' ', '\u2581');
    },
  };
}
