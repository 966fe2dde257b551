import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bytesSource, memoryFileSet } from '../io/byte-source.ts';
import { loadHfTokenizer } from '../tokenizer/hf.ts';
import { loadLlama2cTokenizer } from '../tokenizer/llama2c.ts';
import { generate, IncrementalDecoder, StopStringFilter } from './generate.ts';
import { cpuBackend } from './cpu/backend.ts';
import { randomModelWeights, tinyDenseSpec, tinyMoeSpec } from '../model/random.ts';
import { createLlama2cTokenizer } from '../tokenizer/llama2c.ts';
import type { GeneratedToken, TokenRouting } from './types.ts';

const enc = new TextEncoder();
/** A 101-token llama2c-style vocab matching tinyDenseSpec's vocab: specials, 98 byte pieces. */
function tinyTokenizer() {
  const pieces = ['<unk>', '\n<s>\n', '\n</s>\n'];
  for (let b = 0; b < 256; b++) pieces.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
  return createLlama2cTokenizer(
    pieces.map((p) => enc.encode(p)),
    new Float32Array(pieces.length),
    6,
  );
}

async function collect(it: AsyncGenerator<GeneratedToken>): Promise<GeneratedToken[]> {
  const out: GeneratedToken[] = [];
  for await (const t of it) out.push(t);
  return out;
}

const spec = tinyDenseSpec();
const weights = randomModelWeights(spec, 21);
const prompt = [1, 40, 41];

describe('generate', () => {
  it('yields exactly maxTokens tokens and leaves them all in the KV cache', async () => {
    const session = await cpuBackend.createSession(weights);
    const tokens = await collect(generate(session, undefined, prompt, { temperature: 0, maxTokens: 6, stopIds: [] }));
    expect(tokens).toHaveLength(6);
    expect(session.position).toBe(prompt.length + 6);
  });

  it('greedy generation equals argmax of a fresh prefill at every step', async () => {
    const session = await cpuBackend.createSession(weights);
    const tokens = await collect(generate(session, undefined, prompt, { temperature: 0, maxTokens: 4, stopIds: [] }));
    const ids = [...prompt];
    for (const t of tokens) {
      const fresh = await (await cpuBackend.createSession(weights)).forward(ids);
      expect(t.id).toBe(fresh.logits.indexOf(Math.max(...fresh.logits)));
      ids.push(t.id);
    }
  });

  it('stops before a stop id without yielding it', async () => {
    const all = await collect(
      generate(await cpuBackend.createSession(weights), undefined, prompt, {
        temperature: 0,
        maxTokens: 8,
        stopIds: [],
      }),
    );
    const stopAt = all.findIndex((t, i) => all.findIndex((u) => u.id === t.id) === i && i >= 2);
    const stopped = await collect(
      generate(await cpuBackend.createSession(weights), undefined, prompt, {
        temperature: 0,
        maxTokens: 8,
        stopIds: [all[stopAt].id],
      }),
    );
    expect(stopped.map((t) => t.id)).toEqual(all.slice(0, stopAt).map((t) => t.id));
  });

  it("defaults stop ids to the tokenizer's EOS", async () => {
    const tokenizer = tinyTokenizer();
    const opts = { temperature: 1.5, seed: 4, maxTokens: 300 };
    const unstopped = await collect(
      generate(await cpuBackend.createSession(weights, { maxContext: 310 }), tokenizer, prompt, {
        ...opts,
        stopIds: [],
      }),
    );
    const firstEos = unstopped.findIndex((t) => t.id === 2);
    expect(firstEos).toBeGreaterThanOrEqual(0); // this seed does sample EOS
    const stopped = await collect(
      generate(await cpuBackend.createSession(weights, { maxContext: 310 }), tokenizer, prompt, opts),
    );
    expect(stopped.map((t) => t.id)).toEqual(unstopped.slice(0, firstEos).map((t) => t.id));
  });

  it('stops when the context is full', async () => {
    const session = await cpuBackend.createSession(weights, { maxContext: 5 });
    const tokens = await collect(generate(session, undefined, prompt, { temperature: 0, maxTokens: 10, stopIds: [] }));
    expect(tokens).toHaveLength(2);
  });

  it('an aborted signal throws CancelledError at the next step', async () => {
    const controller = new AbortController();
    const seen: number[] = [];
    const run = async () => {
      for await (const t of generate(await cpuBackend.createSession(weights), undefined, prompt, {
        temperature: 0,
        maxTokens: 10,
        stopIds: [],
        signal: controller.signal,
      })) {
        seen.push(t.id);
        if (seen.length === 2) controller.abort();
      }
    };
    await expect(run()).rejects.toMatchObject({ name: 'CancelledError' });
    expect(seen).toHaveLength(2);
  });

  it('an abort sent from a macrotask (a timer, a worker message) arrives during generation', async () => {
    const controller = new AbortController();
    let count = 0;
    const run = async () => {
      const session = await cpuBackend.createSession(weights);
      for await (const _ of generate(session, undefined, prompt, {
        temperature: 0,
        maxTokens: 50,
        stopIds: [],
        signal: controller.signal,
      })) {
        if (++count === 3) setTimeout(() => controller.abort(), 0);
      }
    };
    await expect(run()).rejects.toMatchObject({ name: 'CancelledError' });
    // a timer fires after ≥1 ms (a few tokens); without yielding, all 50 would run first
    expect(count).toBeLessThan(25);
  });

  it('seeded sampling is reproducible', async () => {
    const opts = { temperature: 1, topK: 20, seed: 99, maxTokens: 8, stopIds: [] };
    const a = await collect(generate(await cpuBackend.createSession(weights), undefined, prompt, opts));
    const b = await collect(generate(await cpuBackend.createSession(weights), undefined, prompt, opts));
    expect(a.map((t) => t.id)).toEqual(b.map((t) => t.id));
  });

  it('trace: each token carries its own routing as an input; the prompt routing goes to onPromptRouting', async () => {
    const moeWeights = randomModelWeights(tinyMoeSpec(), 3);
    let promptRouting: TokenRouting[] = [];
    const tokens = await collect(
      generate(await cpuBackend.createSession(moeWeights), undefined, prompt, {
        temperature: 0,
        maxTokens: 3,
        stopIds: [],
        trace: true,
        onPromptRouting: (r) => {
          promptRouting = r;
        },
      }),
    );
    const all = await (await cpuBackend.createSession(moeWeights)).forward([...prompt, ...tokens.map((t) => t.id)], {
      trace: true,
    });
    expect(promptRouting).toEqual(all.routing!.slice(0, 3));
    expect(tokens.map((t) => t.routing)).toEqual(all.routing!.slice(3));
  });
});

describe('IncrementalDecoder', () => {
  it('holds back a multi-byte character until its last byte arrives', () => {
    const tokenizer = tinyTokenizer();
    const decoder = new IncrementalDecoder(tokenizer, [1]);
    const byteId = (b: number) => b + 3;
    expect(decoder.push(byteId(0x41))).toBe('A');
    expect(decoder.push(byteId(0xe2))).toBe('');
    expect(decoder.push(byteId(0x82))).toBe('');
    expect(decoder.push(byteId(0xac))).toBe('€');
    expect(decoder.push(byteId(0x20))).toBe(' ');
  });
});

describe('IncrementalDecoder with tok512', () => {
  it('the deltas of every token after BOS concatenate to the full decode (unicode, byte fallback, spaces)', async () => {
    const bytes = new Uint8Array(
      readFileSync(new URL('../../../tests/fixtures/stories260K/tok512.bin', import.meta.url)),
    );
    const tokenizer = await loadLlama2cTokenizer(bytesSource(bytes));
    const text = 'Once upon a time, Zoë saw "日本" — 42 €.\nThe end.';
    const ids = tokenizer.encode(text);
    const decoder = new IncrementalDecoder(tokenizer, ids.slice(0, 1));
    const deltas = ids.slice(1).map((id) => decoder.push(id));
    expect(deltas.join('')).toBe(text);
    expect(deltas.filter((d) => d === '').length).toBeGreaterThan(0); // some bytes were held back
  });
});

describe('IncrementalDecoder with an HF SentencePiece tokenizer (Mistral 32k fixture)', () => {
  it('deltas concatenate to the full decode: leading spaces, tabs, emoji byte fallback, code', async () => {
    const dir = new URL('../../../tests/fixtures/tokenizers/mistral-32k/', import.meta.url);
    const read = (name: string) => new Uint8Array(readFileSync(new URL(name, dir)));
    const tokenizer = await loadHfTokenizer(
      memoryFileSet({
        'tokenizer.json': read('tokenizer.json'),
        'tokenizer_config.json': read('tokenizer_config.json'),
      }),
    );
    for (const text of [
      'Once upon a time, Zoë saw "日本" — 42 €.\nThe end.',
      '  leading spaces and\ttabs 🎉🎉 emoji',
      'def f(x):\n    return x**2',
    ]) {
      const ids = tokenizer.encode(text);
      const decoder = new IncrementalDecoder(tokenizer, ids.slice(0, 1));
      expect(
        ids
          .slice(1)
          .map((id) => decoder.push(id))
          .join(''),
      ).toBe(tokenizer.decode(ids, { skipSpecialTokens: true }));
    }
  });
});

describe('stop strings', () => {
  it('StopStringFilter holds a possible start of a stop string, cuts at the earliest one, and flushes the rest', () => {
    const filter = new StopStringFilter(['END', '\n\n']);
    expect(filter.push('abc E')).toEqual({ text: 'abc ', stopped: false }); // "E" may start "END"
    expect(filter.push('x')).toEqual({ text: 'Ex', stopped: false }); // it did not
    expect(filter.push('y\n')).toEqual({ text: 'y', stopped: false });
    expect(filter.push('\nEND')).toEqual({ text: '', stopped: true }); // "\n\n" comes first
    const tail = new StopStringFilter(['END']);
    expect(tail.push('the EN')).toEqual({ text: 'the ', stopped: false });
    expect(tail.flush()).toBe('EN');
    expect(() => new StopStringFilter([''])).toThrow(/stop string must have/);
  });

  it('generate ends just before a stop string split across tokens; the text is the unstopped text cut there', async () => {
    const tokenizer = tinyTokenizer();
    const run = async (stop?: string[]) => {
      const session = await cpuBackend.createSession(weights);
      const tokens = await collect(
        generate(session, tokenizer, prompt, { temperature: 0, maxTokens: 24, stopIds: [], stop }),
      );
      return { tokens, text: tokens.map((t) => t.text).join(''), position: session.position };
    };
    const full = await run();
    expect(full.text.length).toBeGreaterThan(12);
    const stop = full.text.slice(8, 11); // three characters in the middle: several byte tokens
    const cut = full.text.indexOf(stop);
    const stopped = await run([stop]);
    expect(stopped.text).toBe(full.text.slice(0, cut));
    expect(stopped.tokens.length).toBeLessThan(full.tokens.length);
    expect(stopped.tokens.map((t) => t.id)).toEqual(full.tokens.slice(0, stopped.tokens.length).map((t) => t.id));
    expect(stopped.position).toBe(prompt.length + stopped.tokens.length); // every yielded token was run, and only those
    const never = await run(['a string the model never writes \u0001']);
    expect(never.text).toBe(full.text); // held-back text is released at the end
  });
});
