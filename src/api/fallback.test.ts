/**
 * A backend that fails mid-answer: the engine's CPU reference takes over, and the API says so
 * on the next chunk (`fallback`) and in the last chunk's `engine.backend` — the Chat page's
 * fallback notice. The failure is injected (a real WASM session whose third forward() throws,
 * as a lost device would); everything else is the real engine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { modelArgFiles } from '../cli/load-model.ts';
import { nodePlatform } from '../cli/node-platform.ts';
import { EngineHost } from '../../workers/engine/engine-host.ts';
import { openSessionWithFallback } from '../../workers/engine/backend-choice.ts';
import { engineOver, inThreadHandle } from './engine.ts';
import type { ChatCompletionChunk, Engine } from './types.ts';
import { REPO } from './zoo-moe.testing.ts';

let engine: Engine;

beforeAll(async () => {
  const host = new EngineHost({
    platform: (threads) => nodePlatform('wasm', threads),
    openSession: async (...args) => {
      const opened = await openSessionWithFallback(...args);
      const session = opened.session;
      const forward = session.forward.bind(session);
      let calls = 0;
      session.forward = (ids, options) => {
        if (++calls === 3) return Promise.reject(new Error('device lost (injected)'));
        return forward(ids, options);
      };
      return opened;
    },
  });
  const model = join(REPO, 'public/zoo/chat');
  const { files, load } = await modelArgFiles(model, {});
  const loaded = await host.loadFiles(files, { id: model, title: 'chat' }, 'wasm', { model: load, threads: 1 });
  engine = engineOver(inThreadHandle(host), loaded);
});
afterAll(() => engine?.dispose());

describe('a backend that fails mid-answer', () => {
  it('the next chunk carries the fallback and its reason; the last names the backend that finished', async () => {
    expect(engine.backend.name).toBe('wasm');
    const chunks: ChatCompletionChunk[] = [];
    const stream = await engine.chat.completions.create({
      messages: [{ role: 'user', content: 'Once upon a time' }],
      temperature: 0,
      max_tokens: 8,
      stream: true,
    });
    for await (const c of stream) chunks.push(c);
    const withFallback = chunks.filter((c) => c.fallback);
    expect(withFallback).toHaveLength(1);
    expect(withFallback[0]!.fallback).toEqual({
      name: 'cpu',
      reason: 'wasm failed: device lost (injected) → the CPU backend took over',
    });
    const last = chunks.at(-1)!;
    expect(last.engine!.backend.name).toBe('cpu');
    expect(last.usage!.completion_tokens).toBe(chunks.length - 1); // no token lost or doubled
  });
});
