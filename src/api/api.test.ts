/**
 * The library API in Node on the demo zoo's MoE (merged from public/zoo by the CLI's merge):
 * OpenAI shapes, streaming, the moe routing extension against the request's routing controls,
 * stop strings, conversation KV reuse (cached_tokens), typed errors, a full context.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, ContextFullError } from '../core/errors.ts';
import { createEngine } from './node.ts';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionMessage, Engine } from './types.ts';
import { mergeZooMoe, REPO } from './zoo-moe.testing.ts';

let moeDir = '';
let removeMoe = async () => {};
let engine: Engine;
const question: ChatCompletionMessage[] = [{ role: 'user', content: 'What is the capital of France?' }];
const greedy = { temperature: 0, max_tokens: 24 } as const;

beforeAll(async () => {
  ({ dir: moeDir, remove: removeMoe } = await mergeZooMoe());
  engine = await createEngine({ model: moeDir, backend: 'wasm', threads: 1 });
});
afterAll(async () => {
  await engine?.dispose();
  await removeMoe();
});

async function collect(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = [];
  for await (const c of stream) chunks.push(c);
  return chunks;
}

/** Every token's routing: `k[layer]` experts at each layer, ids in range, weights descending and summing to 1 (Mixtral renormalizes). */
function expectRouting(tokens: ChatCompletion['moe']['tokens'], k: number[]): void {
  expect(tokens.length).toBeGreaterThan(0);
  for (const t of tokens) {
    expect(t.layers.map((l) => l.expert_ids.length)).toEqual(k);
    for (const l of t.layers) {
      for (const id of l.expert_ids) expect(id).toBeGreaterThanOrEqual(0);
      for (const id of l.expert_ids) expect(id).toBeLessThan(4);
      expect(new Set(l.expert_ids).size).toBe(l.expert_ids.length);
      expect(l.expert_weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
      expect([...l.expert_weights].sort((a, b) => b - a)).toEqual(l.expert_weights);
    }
  }
}

describe('createEngine (Node) on the zoo MoE', () => {
  it('loads the folder and reports model, context and backend', () => {
    expect(engine.model).toMatchObject({
      arch: 'mixtral',
      layers: 4,
      experts: 4,
      expertsPerToken: 2,
      contextLength: 512,
    });
    expect(engine.model.id).toBe(moeDir);
    expect(engine.backend).toEqual({ name: 'wasm', reason: 'chosen by you' });
  });

  it('a missing model path is a MissingFileError naming it', async () => {
    await expect(createEngine({ model: `${REPO}/no-such-model` })).rejects.toMatchObject({
      name: 'MissingFileError',
      message: expect.stringContaining('no-such-model'),
    });
  });

  it('non-streaming: an OpenAI chat.completion with usage and one routing record per generated token', async () => {
    const r = await engine.chat.completions.create({ messages: question, ...greedy });
    expect(r.object).toBe('chat.completion');
    expect(r.id).toMatch(/^chatcmpl-/);
    expect(r.model).toBe(moeDir);
    expect(Math.abs(r.created - Date.now() / 1000)).toBeLessThan(60);
    expect(r.choices).toHaveLength(1);
    const choice = r.choices[0]!;
    expect(choice.index).toBe(0);
    expect(choice.message.role).toBe('assistant');
    expect(choice.message.content.length).toBeGreaterThan(0);
    expect(['stop', 'length']).toContain(choice.finish_reason);
    expect(r.usage.prompt_tokens).toBeGreaterThan(5);
    expect(r.usage.completion_tokens).toBeGreaterThan(0);
    expect(r.usage.completion_tokens).toBeLessThanOrEqual(24);
    expect(r.usage.total_tokens).toBe(r.usage.prompt_tokens + r.usage.completion_tokens);
    expect(choice.finish_reason === 'length').toBe(r.usage.completion_tokens === 24);
    expect(r.moe.tokens).toHaveLength(r.usage.completion_tokens);
    expectRouting(r.moe.tokens, [2, 2, 2, 2]);
  });

  it('streaming: chunks carry the same text and routing as the non-streaming answer; the last has finish_reason and usage', async () => {
    const whole = await engine.chat.completions.create({ messages: question, ...greedy });
    const chunks = await collect(await engine.chat.completions.create({ messages: question, ...greedy, stream: true }));
    expect(chunks.length).toBe(whole.usage.completion_tokens + 1);
    for (const c of chunks) {
      expect(c.object).toBe('chat.completion.chunk');
      expect(c.id).toBe(chunks[0]!.id);
    }
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    const body = chunks.slice(0, -1);
    const last = chunks.at(-1)!;
    for (const c of body) {
      expect(c.choices[0]!.finish_reason).toBeNull();
      expect(c.usage).toBeUndefined();
      expect(c.moe.tokens).toHaveLength(1);
    }
    expect(body.map((c) => c.choices[0]!.delta.content).join('')).toBe(whole.choices[0]!.message.content);
    expect(body.map((c) => c.moe.tokens[0])).toEqual(whole.moe.tokens);
    expect(last.choices[0]!.finish_reason).toBe(whole.choices[0]!.finish_reason);
    expect(last.choices[0]!.delta).toEqual({});
    expect(last.usage?.completion_tokens).toBe(whole.usage.completion_tokens);
    expect(last.usage?.prompt_tokens).toBe(whole.usage.prompt_tokens);
  });

  it('moe.experts_per_token (one value or one per layer), experts_top_p, force and ban shape every token’s routing', async () => {
    const one = await engine.chat.completions.create({ messages: question, ...greedy, moe: { experts_per_token: 1 } });
    expectRouting(one.moe.tokens, [1, 1, 1, 1]);
    const perLayer = await engine.chat.completions.create({
      messages: question,
      ...greedy,
      moe: { experts_per_token: [1, 2, 3, 4] },
    });
    expectRouting(perLayer.moe.tokens, [1, 2, 3, 4]);
    const steered = await engine.chat.completions.create({
      messages: question,
      ...greedy,
      moe: { force: { experts: [1], layers: [0] }, ban: [3] },
    });
    expectRouting(steered.moe.tokens, [2, 2, 2, 2]);
    for (const t of steered.moe.tokens) {
      expect(t.layers[0]!.expert_ids).toContain(1);
      for (const l of t.layers) expect(l.expert_ids).not.toContain(3);
    }
    // Top-p: each token at each layer takes the fewest experts reaching p, within [min, max];
    // a tiny p is one expert everywhere, and p 0.9 capped at 3 varies the count per token.
    const tiny = await engine.chat.completions.create({ messages: question, ...greedy, moe: { experts_top_p: 0.01 } });
    expectRouting(tiny.moe.tokens, [1, 1, 1, 1]);
    const dynamic = await engine.chat.completions.create({
      messages: question,
      ...greedy,
      moe: { experts_top_p: { p: 0.9, max_experts: 3 } },
    });
    const counts = dynamic.moe.tokens.flatMap((t) => t.layers.map((l) => l.expert_ids.length));
    for (const c of counts) expect(c).toBeGreaterThanOrEqual(1);
    for (const c of counts) expect(c).toBeLessThanOrEqual(3);
    expect(new Set(counts).size).toBeGreaterThan(1);
    const onlyLayer0 = await engine.chat.completions.create({
      messages: question,
      ...greedy,
      moe: { experts_per_token: 2, experts_top_p: { p: 0.01, layers: [0] } },
    });
    expectRouting(onlyLayer0.moe.tokens, [1, 2, 2, 2]);
    // The default answer does route to expert 3 (the chat expert): the ban changed something.
    const plain = await engine.chat.completions.create({ messages: question, ...greedy });
    expect(plain.moe.tokens.some((t) => t.layers.some((l) => l.expert_ids.includes(3)))).toBe(true);
  });

  it('stop strings end the answer before the first one, streaming or not (finish_reason stop)', async () => {
    const full = (await engine.chat.completions.create({ messages: question, ...greedy })).choices[0]!.message.content;
    const words = full.split(' ');
    expect(words.length).toBeGreaterThan(3);
    const stop = ` ${words[2]}`; // the answer's third word, with its space
    const cut = full.slice(0, full.indexOf(stop));
    const r = await engine.chat.completions.create({ messages: question, ...greedy, stop: [stop, 'never-in-it'] });
    expect(r.choices[0]!.message.content).toBe(cut);
    expect(r.choices[0]!.finish_reason).toBe('stop');
    const chunks = await collect(
      await engine.chat.completions.create({ messages: question, ...greedy, stop, stream: true }),
    );
    expect(chunks.map((c) => c.choices[0]!.delta.content ?? '').join('')).toBe(cut);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
  });

  it("a second turn reuses the first turn's KV cache: cached_tokens = its prompt + answer tokens", async () => {
    await engine.reset();
    const first = await engine.chat.completions.create({ messages: question, ...greedy });
    expect(first.usage.prompt_tokens_details.cached_tokens).toBe(0);
    const followUp: ChatCompletionMessage[] = [
      ...question,
      first.choices[0]!.message,
      { role: 'user', content: 'And what is the capital of Spain?' },
    ];
    const second = await engine.chat.completions.create({ messages: followUp, ...greedy });
    // The zoo template renders an assistant turn as its text + <|end|>: the answer's tokens are
    // cached (each was run through the model); its <|end|> was sampled but never run, so it
    // is the first prompt token prefilled again.
    expect(second.usage.prompt_tokens_details.cached_tokens).toBe(
      first.usage.prompt_tokens + first.usage.completion_tokens,
    );
    expect(second.usage.prompt_tokens).toBeGreaterThan(second.usage.prompt_tokens_details.cached_tokens);
    // An edit forks where the ids first differ: only the shared prefix is reused.
    const edited = await engine.chat.completions.create({
      messages: [{ role: 'user', content: 'What is the capital of Italy?' }],
      ...greedy,
    });
    expect(edited.usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(0);
    expect(edited.usage.prompt_tokens_details.cached_tokens).toBeLessThan(first.usage.prompt_tokens);
  });

  it('leaving a stream early stops the generation; the next request runs', async () => {
    const stream = await engine.chat.completions.create({
      messages: question,
      temperature: 0,
      max_tokens: 200,
      stream: true,
    });
    let seen = 0;
    for await (const _ of stream) if (++seen === 2) break;
    const next = await engine.chat.completions.create({ messages: question, ...greedy });
    expect(next.usage.completion_tokens).toBeGreaterThan(0);
  });

  it.each([
    [{ temperature: -1 }, /temperature -1 must be ≥ 0/],
    [{ top_p: 0 }, /top_p 0 must be > 0/],
    [{ top_k: 0.5 }, /top_k 0.5 must be an integer/],
    [{ max_tokens: 0 }, /max_tokens 0 must be ≥ 1/],
    [{ seed: -3 }, /seed -3 must be ≥ 0/],
    [{ model: 'gpt-4o' }, /model 'gpt-4o' is not loaded/],
    [{ messages: [] }, /messages must be a non-empty array/],
    [
      { messages: [{ role: 'tool', content: 'x' }] },
      /messages\[0\]\.role 'tool' must be one of system, user, assistant/,
    ],
    [{ stop: Array.from({ length: 17 }, (_, i) => `s${i}`) }, /stop has 17 strings, at most 16/],
    [{ moe: { ban: [7] } }, /moe: ban expert 7 is outside \[0, 4\)/],
    [{ moe: { force: [-1] } }, /moe: force expert -1 is outside \[0, 4\)/],
    [{ moe: { experts_per_token: 5 } }, /moe\.experts_per_token 5 must be ≤ 4/],
    [{ moe: { experts_per_token: [1, 2] } }, /expertsPerTokenByLayer has 2 values, the model has 4 layers/],
    [{ moe: { force: { experts: [1], layers: [9] } } }, /moe\.force\.layers: layer 9 is outside \[0, 4\)/],
    [{ moe: { force: [1], ban: [1] } }, /moe: expert 1 is both banned and forced/],
    [{ moe: { experts_top_p: 1.5 } }, /moe\.experts_top_p\.p 1\.5 must be ≤ 1/],
    [{ moe: { experts_top_p: { p: 0.5, max_experts: 9 } } }, /moe\.experts_top_p\.max_experts 9 must be ≤ 4/],
    [
      { moe: { experts_per_token: 2, experts_top_p: 0.5 } },
      /expertsPerToken and expertsTopP both apply to every layer/,
    ],
    [{ n: 2 }, /'n' is not supported \(supported: model, messages, /],
    [{ frequency_penalty: 0.5 }, /'frequency_penalty' is not supported/],
  ])('a bad request %j is a ConfigError naming the field', async (bad, message) => {
    const request = { messages: question, ...greedy, ...bad } as Parameters<Engine['chat']['completions']['create']>[0];
    const error = await engine.chat.completions.create(request).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).name).toBe('ConfigError');
    expect((error as Error).message).toMatch(/^chat\.completions\.create: /);
    expect((error as Error).message).toMatch(message);
  });
});

describe('extensions the Chat page uses', () => {
  it('moe.router_probs adds each layer’s full router softmax; without it the field is absent', async () => {
    const r = await engine.chat.completions.create({
      messages: question,
      ...greedy,
      max_tokens: 3,
      moe: { router_probs: true },
    });
    for (const t of r.moe.tokens)
      for (const l of t.layers) {
        expect(l.router_probs).toHaveLength(4);
        expect(l.router_probs!.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
        // the chosen experts are the most probable ones
        const best = [...l.router_probs!.keys()].sort((a, b) => l.router_probs![b]! - l.router_probs![a]!).slice(0, 2);
        expect([...l.expert_ids].sort()).toEqual(best.sort());
      }
    const plain = await engine.chat.completions.create({ messages: question, ...greedy, max_tokens: 3 });
    expect(plain.moe.tokens[0]!.layers[0]).not.toHaveProperty('router_probs');
  });

  it('the last chunk reports the backend and speeds (engine); a bad repetition_penalty or context_overflow is refused', async () => {
    const chunks = await collect(await engine.chat.completions.create({ messages: question, ...greedy, stream: true }));
    const last = chunks.at(-1)!;
    expect(last.engine).toMatchObject({ backend: { name: 'wasm' }, context_full: false, dropped_messages: 0 });
    expect(last.engine!.prefill_tokens_per_second).toBeGreaterThan(0);
    expect(chunks.slice(0, -1).every((c) => c.engine === undefined && c.fallback === undefined)).toBe(true);
    await expect(engine.chat.completions.create({ messages: question, repetition_penalty: 0.5 })).rejects.toThrow(
      'chat.completions.create: repetition_penalty 0.5 must be ≥ 1',
    );
    await expect(
      engine.chat.completions.create({ messages: question, context_overflow: 'truncate' as 'error' }),
    ).rejects.toThrow("context_overflow 'truncate' must be one of error, drop_oldest_turns");
  });

  it('continue_final_message goes on with the last answer: the two parts are the one longer greedy answer', async () => {
    const whole = await engine.chat.completions.create({ messages: question, temperature: 0, max_tokens: 14 });
    const part = await engine.chat.completions.create({ messages: question, temperature: 0, max_tokens: 6 });
    expect(part.choices[0]!.finish_reason).toBe('length');
    const rest = await engine.chat.completions.create({
      messages: [...question, part.choices[0]!.message],
      temperature: 0,
      max_tokens: 8,
      continue_final_message: true,
    });
    expect(part.choices[0]!.message.content + rest.choices[0]!.message.content).toBe(whole.choices[0]!.message.content);
    // the part's prompt and tokens come from the KV cache (one token is always run again, for its logits)
    expect(rest.usage.prompt_tokens).toBe(part.usage.prompt_tokens + part.usage.completion_tokens);
    expect(rest.usage.prompt_tokens_details.cached_tokens).toBe(rest.usage.prompt_tokens - 1);
    await expect(engine.chat.completions.create({ messages: question, continue_final_message: true })).rejects.toThrow(
      "continue_final_message: the last message is 'user', it must be the assistant's answer to continue",
    );
  });

  it("an aborted signal ends the answer with finish_reason 'abort' and its usage; the next request runs", async () => {
    const stop = new AbortController();
    const stream = await engine.chat.completions.create(
      { messages: question, temperature: 0, max_tokens: 200, stream: true },
      { signal: stop.signal },
    );
    const chunks: ChatCompletionChunk[] = [];
    for await (const c of stream) {
      chunks.push(c);
      // On the first chunk: the engine is between its first tokens (it yields to the event loop
      // after each), so the answer cannot have ended on its own yet.
      if (chunks.length === 1) stop.abort();
    }
    const last = chunks.at(-1)!;
    expect(last.choices[0]!.finish_reason).toBe('abort');
    expect(last.usage!.completion_tokens).toBe(chunks.length - 1);
    expect(last.usage!.completion_tokens).toBeLessThanOrEqual(2);
    expect(last.engine!.backend.name).toBe('wasm');
    const after = await engine.chat.completions.create({ messages: question, ...greedy, max_tokens: 2 });
    expect(after.usage.completion_tokens).toBe(2);
    // aborted before it starts: no tokens, still a completion
    const early = new AbortController();
    early.abort();
    const none = await engine.chat.completions.create({ messages: question, max_tokens: 5 }, { signal: early.signal });
    expect(none.choices[0]!.finish_reason).toBe('abort');
  });
});

describe('a full context', () => {
  let small: Engine;
  beforeAll(async () => {
    small = await createEngine({ model: moeDir, backend: 'cpu', contextLength: 24 });
  });
  afterAll(async () => {
    await small?.dispose();
  });

  it('ends the answer with finish_reason length when the KV cache fills (no max_tokens)', async () => {
    const r = await small.chat.completions.create({ messages: question, temperature: 0 });
    expect(r.usage.prompt_tokens).toBeLessThan(24);
    expect(r.usage.total_tokens).toBe(24);
    expect(r.choices[0]!.finish_reason).toBe('length');
    const chunks = await collect(
      await small.chat.completions.create({ messages: question, temperature: 0, stream: true }),
    );
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('length');
    expect(chunks.at(-1)!.usage?.total_tokens).toBe(24);
  });

  it('refuses a prompt that does not fit, naming both lengths (never a silent cut)', async () => {
    const long = [
      { role: 'user' as const, content: 'Once upon a time there was a little girl named Lily. '.repeat(4) },
    ];
    const refused = await small.chat.completions.create({ messages: long }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ContextFullError);
    expect(refused).toBeInstanceOf(ConfigError); // a kind of ConfigError: callers that catch those still do
    expect(refused).toMatchObject({
      name: 'ContextFullError',
      message: expect.stringMatching(/messages: the prompt has \d+ tokens, the context holds 24/),
    });
    await expect(collect(await small.chat.completions.create({ messages: long, stream: true }))).rejects.toMatchObject({
      name: 'ContextFullError',
    });
    // drop_oldest_turns cannot help a single message that does not fit: still refused, never cut.
    await expect(
      small.chat.completions.create({ messages: long, context_overflow: 'drop_oldest_turns' }),
    ).rejects.toMatchObject({ name: 'ContextFullError', message: expect.stringContaining('the last message') });
  });

  const turns = (n: number): ChatCompletionMessage[] =>
    Array.from({ length: n }, (_, i) => ({
      role: i % 2 ? ('assistant' as const) : ('user' as const),
      content: 'Hi',
    }));

  it("context_overflow 'drop_oldest_turns' leaves out the oldest messages and says how many", async () => {
    const messages = turns(7);
    await expect(small.chat.completions.create({ messages, max_tokens: 2 })).rejects.toBeInstanceOf(ContextFullError);
    const r = await small.chat.completions.create({
      messages,
      max_tokens: 2,
      temperature: 0,
      context_overflow: 'drop_oldest_turns',
    });
    expect(r.engine.dropped_messages).toBeGreaterThan(0);
    expect(r.engine.dropped_messages).toBeLessThan(7);
    expect(r.engine.dropped_messages % 2).toBe(0); // whole turns: what is kept starts with a user message
    expect(r.usage.prompt_tokens).toBeLessThanOrEqual(24 - 12); // half the context kept for the answer
    expect(r.usage.completion_tokens).toBe(2);
  });

  it('with drop_oldest_turns an answer that fills the context drops more turns and goes on', async () => {
    const messages: ChatCompletionMessage[] = [
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hi' },
      { role: 'user', content: 'Tell' },
    ];
    const request = { messages, temperature: 0, max_tokens: 40 } as const;
    const cut = await small.chat.completions.create(request);
    expect(cut.engine.context_full).toBe(true);
    expect(cut.usage.total_tokens).toBe(24);
    const rolled = await small.chat.completions.create({ ...request, context_overflow: 'drop_oldest_turns' });
    expect(rolled.engine.dropped_messages).toBe(2); // only the last question is left
    // The same greedy answer, further: it went past the point where the full context cut it.
    expect(rolled.usage.completion_tokens).toBeGreaterThan(cut.usage.completion_tokens);
    expect(rolled.choices[0]!.message.content.startsWith(cut.choices[0]!.message.content)).toBe(true);
  });

  it('a contextLength beyond the model’s is a ConfigError', async () => {
    await expect(createEngine({ model: moeDir, backend: 'cpu', contextLength: 4096 })).rejects.toMatchObject({
      name: 'ConfigError',
      message: expect.stringContaining("contextLength 4096 must be an integer from 2 to the model's 512"),
    });
  });
});
