/**
 * The CPU reference is core code: it must run unchanged in the browser (and its workers).
 * This runs the stories260K golden generation inside real Chromium, with the fixtures
 * fetched from Vite's dev server (nothing Node-only on the path).
 */
import { describe, expect, it } from 'vitest';
import { bytesSource } from '../../io/byte-source.ts';
import { loadLlama2cCheckpoint } from '../../model/llama2c.ts';
import { loadLlama2cTokenizer } from '../../tokenizer/llama2c.ts';
import { cpuBackend } from './backend.ts';
import { generate } from '../generate.ts';

async function fixture(name: string): Promise<Uint8Array> {
  const response = await fetch(`/tests/fixtures/stories260K/${name}`);
  expect(response.ok, `fetch ${name}: HTTP ${response.status}`).toBe(true);
  return new Uint8Array(await response.arrayBuffer());
}

describe('cpu backend in Chromium', () => {
  it('stories260K greedy from BOS for 200 steps equals the golden text', async () => {
    const weights = await loadLlama2cCheckpoint(bytesSource(await fixture('stories260K.bin'), 'stories260K.bin'));
    const tokenizer = await loadLlama2cTokenizer(bytesSource(await fixture('tok512.bin'), 'tok512.bin'));
    const session = await cpuBackend.createSession(weights);
    let text = '';
    for await (const token of generate(session, tokenizer, [1], { temperature: 0, maxTokens: 200, stopIds: [1] }))
      text += token.text;
    expect(text).toBe(new TextDecoder().decode(await fixture('stories260K_greedy_t0_n200.txt')));
  });
});
