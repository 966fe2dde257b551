import type { TokenizerJson } from './types.ts';
/**
 * Test helper: a tiny GPT-2-style byte-level BPE tokenizer.json built in memory (no files, no
 * network), with ChatML special tokens and a chat template. Merges are learned greedily from a
 * small corpus so real multi-byte pieces exist. Used by tokenizer, loader and CLI tests.
 */

/** GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100…. */
export function byteToUnicodeTable(): string[] {
  const table: string[] = new Array(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    table[b] = String.fromCodePoint(printable ? b : next++);
  }
  return table;
}

/** GPT-2's pre-tokenizer split (contractions, letters, digits, other, spaces). */
const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

export const TESTING_BPE_CORPUS = [
  'Once upon a time there was a little dog. The dog liked to play in the park.',
  'def add(a, b):\n    return a + b\n\nfor i in range(10):\n    print(i)\n',
  '12 + 34 = 46. 100 - 7 = 93. The answer is 42.',
  'Hello! How are you today? I am fine, thank you.',
].join('\n');

export const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

export const TESTING_SPECIAL_TOKENS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'] as const;

/** Learns `mergeCount` merges greedily (most frequent adjacent pair, ties by first seen). */
function learnMerges(corpus: string, mergeCount: number, byteChars: string[]): [string, string][] {
  const encoder = new TextEncoder();
  const words = (corpus.match(GPT2_SPLIT) ?? []).map((w) => [...encoder.encode(w)].map((b) => byteChars[b]!));
  const merges: [string, string][] = [];
  for (let m = 0; m < mergeCount; m++) {
    const counts = new Map<string, number>();
    for (const word of words) {
      for (let i = 0; i + 1 < word.length; i++) {
        const key = `${word[i]} ${word[i + 1]}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
    let best: string | undefined;
    for (const [key, count] of counts) if (count >= 2 && (best === undefined || count > counts.get(best)!)) best = key;
    if (best === undefined) break;
    const [left, right] = best.split(' ') as [string, string];
    merges.push([left, right]);
    for (const word of words) {
      for (let i = 0; i + 1 < word.length; i++) {
        if (word[i] === left && word[i + 1] === right) word.splice(i, 2, left + right);
      }
    }
  }
  return merges;
}

export interface TestingBpeFiles {
  tokenizerJson: TokenizerJson;
  tokenizerConfig: TokenizerJson;
}

/** tokenizer.json + tokenizer_config.json objects for a byte-level BPE of ~256+merges+3 ids. */
export function buildTestingBpeTokenizer(mergeCount = 64): TestingBpeFiles {
  const byteChars = byteToUnicodeTable();
  const vocab: Record<string, number> = {};
  for (const ch of byteChars) vocab[ch] = Object.keys(vocab).length;
  const merges = learnMerges(TESTING_BPE_CORPUS, mergeCount, byteChars);
  for (const [a, b] of merges) if (vocab[a + b] === undefined) vocab[a + b] = Object.keys(vocab).length;
  const firstSpecial = Object.keys(vocab).length;
  const addedTokens = TESTING_SPECIAL_TOKENS.map((content, i) => ({
    id: firstSpecial + i,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  for (const t of addedTokens) vocab[t.content] = t.id;
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { ...byteLevel, trim_offsets: false },
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
  const tokenizerConfig = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: null,
    eos_token: '<|im_end|>',
    pad_token: '<|endoftext|>',
    clean_up_tokenization_spaces: false,
    model_max_length: 2048,
    chat_template: CHATML_TEMPLATE,
  };
  return { tokenizerJson, tokenizerConfig };
}
