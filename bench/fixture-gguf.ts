/**
 * Bench fixtures on disk: the realistic-shape MoE (fixture-model.ts) exported by
 * exportGguf as q8_0 / q4_0 GGUF into a temp dir (reused across runs: random weights are
 * seeded, so a file is a pure function of its name). Never committed.
 *
 * The vocabulary is synthetic: <unk> <s> </s>, the 256 <0xXX> byte pieces llama.cpp's SPM
 * loader expects, "▁" (the space prefix llama.cpp's SPM tokenizer adds to a text prompt),
 * then one piece per Unicode character from U+4E00 up (surrogates skipped), so the text
 * "c1…c127" tokenizes to exactly [▁, c1, …, c127] — the same 128 ids the token-id engines
 * get. The bench bans the byte pieces and EOS with a logit bias, so wllama never has to
 * print a broken UTF-8 sequence.
 */
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportGguf } from '../src/core/model/gguf-model.ts';
import { nodeFileSink } from '../src/cli/node-io.ts';
import { BENCH_MOE_SPEC, benchMoeWeights, type BenchQuant } from './fixture-model.ts';
import type { TokenizerJson } from '../src/core/tokenizer/types.ts';

export const BENCH_DIR = process.env.MOE_BENCH_DIR ?? join(tmpdir(), 'moe-studio-bench');
export const BYTE_TOKENS = { first: 3, count: 256 } as const;
export const SPACE_PREFIX_TOKEN = BYTE_TOKENS.first + BYTE_TOKENS.count; // "▁"
export const FIRST_CHAR_TOKEN = SPACE_PREFIX_TOKEN + 1;
const CHAR_BASE = 0x4e00; // CJK Unified Ideographs onward: one UTF-8 character per piece
const SURROGATES = { first: 0xd800, count: 0x800 } as const;

/** Piece of token `id` ≥ FIRST_CHAR_TOKEN: one character, never a lone surrogate. */
export function charPiece(id: number): string {
  const codePoint = CHAR_BASE + id - FIRST_CHAR_TOKEN;
  return String.fromCodePoint(codePoint >= SURROGATES.first ? codePoint + SURROGATES.count : codePoint);
}

/** The text a llama.cpp engine tokenizes to `tokenIds` ([▁, chars…], see the file comment). */
export function promptText(tokenIds: number[]): string {
  return tokenIds.slice(1).map(charPiece).join('');
}

/** `count` prompt token ids: ▁ then char pieces spread over the vocabulary. */
export function benchPromptIds(count: number, vocab = BENCH_MOE_SPEC.vocab): number[] {
  const span = vocab - FIRST_CHAR_TOKEN;
  return [SPACE_PREFIX_TOKEN, ...Array.from({ length: count - 1 }, (_, i) => FIRST_CHAR_TOKEN + ((i * 7919) % span))];
}

export function benchTokenizerJson(vocabSize: number): TokenizerJson {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < BYTE_TOKENS.count; b++)
    vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = BYTE_TOKENS.first + b;
  vocab['\u2581'] = SPACE_PREFIX_TOKEN;
  for (let id = FIRST_CHAR_TOKEN; id < vocabSize; id++) vocab[charPiece(id)] = id;
  return {
    version: '1.0',
    added_tokens: [
      { id: 0, content: '<unk>', special: true },
      { id: 1, content: '<s>', special: true },
      { id: 2, content: '</s>', special: true },
    ],
    normalizer: null,
    pre_tokenizer: null,
    model: { type: 'BPE', byte_fallback: true, unk_token: '<unk>', vocab, merges: [] },
    decoder: { type: 'Sequence', decoders: [{ type: 'ByteFallback' }, { type: 'Fuse' }] },
  };
}

/** `layers` below 30 makes a quick smoke-test model (`npm run bench -- --layers 2`). */
export function ggufPath(quant: BenchQuant, layers = BENCH_MOE_SPEC.layers): string {
  const depth = layers === BENCH_MOE_SPEC.layers ? '' : `-${layers}layers`;
  return join(BENCH_DIR, `bench-moe-4x-smollm2-dims${depth}-${quant}.gguf`);
}

/** Writes the GGUF unless it exists; returns its path. */
export async function ensureBenchGguf(
  quant: BenchQuant,
  log: (line: string) => void,
  layers = BENCH_MOE_SPEC.layers,
): Promise<string> {
  const path = ggufPath(quant, layers);
  if (existsSync(path)) return path;
  mkdirSync(BENCH_DIR, { recursive: true });
  log(`fixture: generating ${path} (random seeded weights, a minute or two)`);
  const weights = benchMoeWeights(quant, { layers });
  const partial = `${path}.partial`;
  const sink = await nodeFileSink(partial);
  await exportGguf(
    sink,
    weights,
    {
      tokenizerJson: benchTokenizerJson(weights.spec.vocab),
      tokenizerConfig: { bos_token: '<s>', eos_token: '</s>', add_bos_token: false },
    },
    quant,
  );
  renameSync(partial, path);
  return path;
}
