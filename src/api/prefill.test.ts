/**
 * A second turn prefills only its new tokens — counted where the work happens: every id the
 * engine hands to the backend session's forward(), not the engine's own bookkeeping
 * (cached_tokens). The API over an EngineHost whose sessions are the real CPU reference,
 * wrapped only to count (no mock: the answers are the backend's).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { modelArgFiles } from '../cli/load-model.ts';
import { nodePlatform } from '../cli/node-platform.ts';
import { EngineHost } from '../../workers/engine/engine-host.ts';
import { openSessionWithFallback } from '../../workers/engine/backend-choice.ts';
import { engineOver, inThreadHandle } from './engine.ts';
import type { ChatCompletionMessage, Engine } from './types.ts';
import { REPO } from './zoo-moe.testing.ts';

/** The length of every forward() call, in order. */
const forwarded: number[] = [];
let engine: Engine;

beforeAll(async () => {
  const host = new EngineHost({
    platform: (threads) => nodePlatform('wasm', threads),
    openSession: async (...args) => {
      const opened = await openSessionWithFallback(...args);
      const session = opened.session;
      const forward = session.forward.bind(session);
      session.forward = (ids, options) => {
        forwarded.push(ids.length);
        return forward(ids, options);
      };
      return opened;
    },
  });
  const model = join(REPO, 'public/zoo/chat');
  const { files, load } = await modelArgFiles(model, {});
  const loaded = await host.loadFiles(files, { id: model, title: 'chat' }, 'cpu', { model: load });
  engine = engineOver(inThreadHandle(host), loaded);
});
afterAll(() => engine?.dispose());

/** One request; the forward() lengths it caused. */
async function turn(messages: ChatCompletionMessage[]) {
  const from = forwarded.length;
  const r = await engine.chat.completions.create({ messages, temperature: 0, max_tokens: 6 });
  return { r, calls: forwarded.slice(from) };
}

describe('conversation reuse, counted at the backend', () => {
  it('the second turn runs only the tokens after the cached prefix; a fresh engine runs them all', async () => {
    const question: ChatCompletionMessage[] = [{ role: 'user', content: 'What is the capital of France?' }];
    const first = await turn(question);
    // first turn: the whole prompt in one prefill, then one single-token forward per step
    expect(first.calls[0]).toBe(first.r.usage.prompt_tokens);
    expect(first.calls.slice(1).every((n) => n === 1)).toBe(true);
    const followUp: ChatCompletionMessage[] = [
      ...question,
      first.r.choices[0]!.message,
      { role: 'user', content: 'And what is the capital of Spain? Tell me in one short sentence please.' },
    ];
    const second = await turn(followUp);
    const cached = second.r.usage.prompt_tokens_details.cached_tokens;
    expect(cached).toBe(first.r.usage.prompt_tokens + first.r.usage.completion_tokens);
    // the prefill forward holds exactly the new prompt tokens: none of the first turn's prompt
    expect(second.calls[0]).toBe(second.r.usage.prompt_tokens - cached);
    expect(second.calls[0]).toBeLessThanOrEqual(second.r.usage.prompt_tokens - first.r.usage.prompt_tokens);
    // and nothing else is prefilled later: every further forward is one decode step
    expect(second.calls.slice(1).every((n) => n === 1)).toBe(true);
    expect(second.calls.length - 1).toBeLessThanOrEqual(second.r.usage.completion_tokens);

    // the same conversation on a forgotten cache: every prompt token is run again
    await engine.reset();
    const again = await turn(followUp);
    expect(again.r.usage.prompt_tokens_details.cached_tokens).toBe(0);
    expect(again.calls[0]).toBe(again.r.usage.prompt_tokens);
    expect(again.r.choices[0]!.message.content).toBe(second.r.choices[0]!.message.content);
  });
});
