import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bytesSource } from '../io/byte-source.ts';
import { createLlama2cTokenizer, loadLlama2cTokenizer } from './llama2c.ts';

const enc = new TextEncoder();

/** The sentencepiece-llama base (unk, BOS, EOS, 256 bytes) plus merges [piece, score]. */
function handVocab(merges: [string, number][]) {
  const pieces = ['<unk>', '\n<s>\n', '\n</s>\n'];
  for (let b = 0; b < 256; b++) pieces.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
  const scores = [...pieces.map(() => 0), ...merges.map(([, s]) => s)];
  pieces.push(...merges.map(([p]) => p));
  return createLlama2cTokenizer(
    pieces.map((p) => enc.encode(p)),
    Float32Array.from(scores),
    8,
  );
}

/** Serializes a vocab in tok*.bin layout (hermetic builder for corrupt-file tests). */
function tokBin(pieces: string[], maxLen = 8): Uint8Array {
  const parts = pieces.map((p) => enc.encode(p));
  const bytes = new Uint8Array(4 + parts.reduce((a, p) => a + 8 + p.length, 0));
  const view = new DataView(bytes.buffer);
  view.setInt32(0, maxLen, true);
  let at = 4;
  for (const p of parts) {
    view.setFloat32(at, 0, true);
    view.setInt32(at + 4, p.length, true);
    bytes.set(p, at + 8);
    at += 8 + p.length;
  }
  return bytes;
}

describe('llama2c tokenizer: hand-built vocabulary', () => {
  // ids: ' '=259 'a'=260 'b'=261 'ab'=262 ' a'=263 ' ab'=264 'aa'=265
  const tok = handVocab([
    [' ', 0],
    ['a', 0],
    ['b', 0],
    ['ab', -1],
    [' a', -0.5],
    [' ab', -2],
    ['aa', -1],
  ]);

  it('merges the highest-scoring pair first: "ab" → [BOS, " ab"]', () => {
    expect(tok.encode('ab')).toEqual([1, 264]);
  });

  it('keeps merging until no pair merges: "abab" → [" ab", "ab"]', () => {
    expect(tok.encode('abab', { addSpecialTokens: false })).toEqual([264, 262]);
  });

  it('breaks equal scores by the leftmost pair: "aaa" → [" a", "aa"]', () => {
    expect(tok.encode('aaa', { addSpecialTokens: false })).toEqual([263, 265]);
  });

  it('falls back to UTF-8 bytes (id = byte + 3) for characters without a piece', () => {
    expect(tok.encode('é', { addSpecialTokens: false })).toEqual([259, 0xc3 + 3, 0xa9 + 3]);
    expect(tok.decode(tok.encode('é'), { skipSpecialTokens: true })).toBe('é');
  });

  it('empty text is just BOS (no dummy prefix)', () => {
    expect(tok.encode('')).toEqual([1]);
  });

  it('decode strips the leading space after BOS only, and names specials unless skipped', () => {
    expect(tok.decode([1, 264, 264])).toBe('<s>ab ab');
    expect(tok.decode([1, 264, 2], { skipSpecialTokens: true })).toBe('ab');
    expect(tok.decode([264])).toBe(' ab');
    expect(tok.decode([0xe2 + 3, 0x82 + 3])).toBe('\uFFFD'); // incomplete UTF-8
  });

  it('idToToken shows ▁ for spaces and specials by name', () => {
    expect(tok.idToToken(264)).toBe('▁ab');
    expect(tok.idToToken(1)).toBe('<s>');
    expect(tok.idToToken(3 + 0x41)).toBe('<0x41>');
    expect(tok.idToToken(999)).toBeUndefined();
  });
});

describe('llama2c tokenizer: tok512.bin', () => {
  const bytes = new Uint8Array(
    readFileSync(new URL('../../../tests/fixtures/stories260K/tok512.bin', import.meta.url)),
  );

  it('reads 512 tokens and round-trips text, including bytes outside the vocabulary', async () => {
    const tok = await loadLlama2cTokenizer(bytesSource(bytes), { vocabSize: 512 });
    expect(tok.vocabSize).toBe(512);
    expect(tok.maxTokenLength).toBe(7);
    for (const text of ['Once upon a time, there was a little girl named Lily.', 'Zoë said "日本" 42×\n\tok']) {
      const ids = tok.encode(text);
      expect(ids[0]).toBe(1);
      expect(tok.decode(ids, { skipSpecialTokens: true })).toBe(text);
    }
    expect(tok.encode('Once upon a time').length).toBeLessThan(8); // merges happened
  });

  it('rejects a vocab size that disagrees with the model', async () => {
    await expect(loadLlama2cTokenizer(bytesSource(bytes, 'tok512.bin'), { vocabSize: 32000 })).rejects.toThrow(
      /tok512.bin has 512 tokens, the model's vocab_size is 32000/,
    );
  });

  const base = ['<unk>', '<s>', '</s>', ...Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16)}>`)];
  const corruptions: [string, () => Uint8Array, RegExp][] = [
    ['rejects a file shorter than max_token_length', () => new Uint8Array(2), /less than max_token_length/],
    ['rejects max_token_length 0', () => tokBin(base, 0), /max_token_length 0 is outside/],
    [
      'rejects a piece longer than max_token_length',
      () => tokBin([...base, 'toolongpiece'], 8),
      /token 259 len 12 is outside \[0, 8\]/,
    ],
    ['rejects an entry cut short', () => tokBin(base).subarray(0, 4 + 13 + 11 + 12 + 4), /token 3 header is truncated/],
    [
      'rejects a vocabulary without the byte pieces',
      () => tokBin(base.slice(0, 100)),
      /fewer than the 259 special and byte pieces/,
    ],
  ];
  it.each(corruptions)('%s', async (_, build, message) => {
    const error = await loadLlama2cTokenizer(bytesSource(build(), 'bad.bin')).catch((e) => e);
    expect(error.name).toBe('FormatError');
    expect(error.message).toMatch(message);
  });
});
