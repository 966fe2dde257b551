/**
 * Golden test (issue proof #1): karpathy's stories260K, greedy from BOS for 200 steps,
 * reproduces llama2.c's `./run stories260K.bin -z tok512.bin -t 0.0 -n 200` byte for byte.
 *
 * How run.c prints: for pos in 0..steps-1 it forwards the current token, samples `next`,
 * stops if next is BOS (1), else prints decode(prev, next) (the piece after BOS loses its
 * leading space; a <0xNN> piece prints its byte only if printable or whitespace). So 200
 * steps print up to 200 generated tokens from a [BOS] prompt. After the loop run.c prints
 * one '\n'; the golden file (llama2.c test_all.py's expected_stdout) holds the text
 * without it, so the test compares the generated text alone. The only byte pieces in
 * these 200 tokens are printable or whitespace (e.g. <0x0A>), so run.c's filter drops none.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bytesSource } from '../io/byte-source.ts';
import { loadLlama2cCheckpoint } from '../model/llama2c.ts';
import { loadLlama2cTokenizer } from '../tokenizer/llama2c.ts';
import { cpuBackend } from './cpu/backend.ts';
import { generate } from './generate.ts';
import { assertAllclose } from './cpu/allclose.testing.ts';

const FIXTURES = new URL('../../../tests/fixtures/stories260K/', import.meta.url);
const fixture = (name: string) => new Uint8Array(readFileSync(new URL(name, FIXTURES)));

describe('stories260K golden output', () => {
  it('greedy from BOS for 200 steps equals stories260K_greedy_t0_n200.txt byte for byte', async () => {
    const weights = await loadLlama2cCheckpoint(bytesSource(fixture('stories260K.bin'), 'stories260K.bin'));
    const tokenizer = await loadLlama2cTokenizer(bytesSource(fixture('tok512.bin'), 'tok512.bin'), {
      vocabSize: weights.spec.vocab,
    });
    const session = await cpuBackend.createSession(weights);
    const BOS = 1;
    let text = '';
    let count = 0;
    const ids: number[] = [];
    for await (const token of generate(session, tokenizer, [BOS], { temperature: 0, maxTokens: 200, stopIds: [BOS] })) {
      text += token.text;
      ids.push(token.id);
      count++;
    }
    const expected = new TextDecoder().decode(fixture('stories260K_greedy_t0_n200.txt'));
    expect(count).toBe(200);
    const bytePieces = ids.filter((id) => id >= 3 && id < 259).map((id) => id - 3);
    expect(bytePieces.every((b) => (b >= 0x20 && b < 0x7f) || (b >= 0x09 && b <= 0x0d))).toBe(true); // see above
    expect(text).toBe(expected);
  });
});

describe('stories260K golden output discriminates', () => {
  it("the wrong RoPE pairing ('half' instead of llama2.c's 'interleaved') does not reproduce it", async () => {
    const weights = await loadLlama2cCheckpoint(bytesSource(fixture('stories260K.bin'), 'stories260K.bin'));
    const tokenizer = await loadLlama2cTokenizer(bytesSource(fixture('tok512.bin'), 'tok512.bin'));
    const wrong = { ...weights, spec: { ...weights.spec, ropeStyle: 'half' as const } };
    const session = await cpuBackend.createSession(wrong);
    let text = '';
    for await (const token of generate(session, tokenizer, [1], { temperature: 0, maxTokens: 60, stopIds: [1] }))
      text += token.text;
    const expected = new TextDecoder().decode(fixture('stories260K_greedy_t0_n200.txt'));
    expect(expected.startsWith(text)).toBe(false);
  });
});

/**
 * Golden logits (STYLE habit 1, llm.c's debug-state file): run.c's forward in f32 C, greedy
 * from BOS, 64 positions. Layout: int32 header[8] = {magic 20261122, version 1, nPositions,
 * vocab, 0…}, int32 tokens[nPositions] (the input at each position), f32 logits[nPositions, vocab].
 */
const GOLDEN_MAGIC = 20261122;
const GOLDEN_VERSION = 1;
/** C accumulates in f32, the reference in f64: measured max error 1.5e-5 (|logits| ≲ 20). */
const RUNC_F32_LOGITS_TOLERANCE = { atol: 1e-4, rtol: 1e-5 };

describe('stories260K golden logits', () => {
  it('every position matches run.c f32 logits within RUNC_F32_LOGITS_TOLERANCE', async () => {
    const bytes = fixture('stories260K_greedy_logits_f32.bin');
    const header = new Int32Array(bytes.buffer, bytes.byteOffset, 8);
    expect(header[0]).toBe(GOLDEN_MAGIC);
    expect(header[1]).toBe(GOLDEN_VERSION);
    const [nPositions, vocab] = [header[2], header[3]];
    const tokens = new Int32Array(bytes.buffer, bytes.byteOffset + 32, nPositions);
    const golden = new Float32Array(bytes.buffer.slice(bytes.byteOffset + 32 + nPositions * 4));
    expect(golden.length).toBe(nPositions * vocab);
    const weights = await loadLlama2cCheckpoint(bytesSource(fixture('stories260K.bin')));
    const session = await cpuBackend.createSession(weights);
    let worst = 0;
    for (let pos = 0; pos < nPositions; pos++) {
      const { logits } = await session.forward([tokens[pos]]);
      const expected = golden.subarray(pos * vocab, (pos + 1) * vocab);
      assertAllclose(logits, expected, RUNC_F32_LOGITS_TOLERANCE, `logits at position ${pos}`);
      for (let i = 0; i < vocab; i++) worst = Math.max(worst, Math.abs(logits[i] - expected[i]));
    }
    console.info(
      `stories260K vs run.c f32: worst |logit error| over ${nPositions} positions = ${worst.toExponential(3)}`,
    );
  });
});
