/**
 * The HF tokenizer inside real Chromium: proves the import path (@huggingface/tokenizers +
 * @huggingface/jinja, no transformers/onnxruntime) bundles and runs in a browser, with a real
 * vocabulary and the same ids as in Node.
 */
import { describe, expect, it } from 'vitest';
import mistralJson from '../../../tests/fixtures/tokenizers/mistral-32k/tokenizer.json';
import mistralConfig from '../../../tests/fixtures/tokenizers/mistral-32k/tokenizer_config.json';
import { memoryFileSet } from '../io/byte-source.ts';
import { HfTokenizer, loadHfTokenizer } from './hf.ts';
import { buildTestingBpeTokenizer } from './bpe.testing.ts';

describe('HfTokenizer in the browser', () => {
  it('encodes the published Mistral example ids and round-trips unicode', () => {
    const tokenizer = new HfTokenizer(mistralJson, mistralConfig);
    expect(tokenizer.encode('<s>[INST] Hello, how are you? [/INST]', { addSpecialTokens: false })).toEqual([
      1, 733, 16289, 28793, 22557, 28725, 910, 460, 368, 28804, 733, 28748, 16289, 28793,
    ]);
    const text = 'café 日本語 🙂\n    indented 12345';
    expect(tokenizer.decode(tokenizer.encode(text, { addSpecialTokens: false }))).toBe(text);
  });

  it('loads a byte-level BPE from in-memory files and renders its chat template', async () => {
    const { tokenizerJson, tokenizerConfig } = buildTestingBpeTokenizer();
    const encoder = new TextEncoder();
    const tokenizer = await loadHfTokenizer(
      memoryFileSet({
        'tokenizer.json': encoder.encode(JSON.stringify(tokenizerJson)),
        'tokenizer_config.json': encoder.encode(JSON.stringify(tokenizerConfig)),
      }),
    );
    const chat = tokenizer.applyChatTemplate([{ role: 'user', content: 'def f():\n    return 1' }], {
      addGenerationPrompt: true,
    });
    expect(tokenizer.decode(tokenizer.encode(chat))).toBe(chat);
  });
});
