/**
 * The chat and engine stores driven end to end in Chromium, with the worker's hosts running
 * in the page (engineClientSet) and a tiny stored MoE: send streams tokens through the token
 * stream into one assistant turn, regenerate replaces it, overrides reach the engine, and
 * conversations persist. Stores are reset before each test.
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { clear, createStore } from 'idb-keyval';
import { chatInit, chatRegenerate, chatReset, chatSend, chatSetOverrides, chatSetSampling, useChat } from './chat.ts';
import { engineClientSet } from './engine-client.ts';
import { engineLoad, engineReset, useEngine } from './engine.ts';
import { EngineHost } from './engine/engine-host.ts';
import { storeTestingMoe } from './engine/testing-moe.ts';
import { MergeHost } from './merge/merge-host.ts';
import { settingsReset, settingsUpdate } from './settings.ts';
import { tokenStream } from './token-stream.ts';

const DB = 'moe-studio-chat-test';

beforeAll(async () => {
  await clear(createStore(DB, 'models'));
  await storeTestingMoe(DB, 'moe', (Math.random() * 1e6) | 0);
});

beforeEach(async () => {
  chatReset();
  engineReset();
  settingsReset();
  settingsUpdate({ backendChoice: 'cpu' });
  await clear(createStore('moe-studio-chats', 'conversations'));
  engineClientSet({ engine: new EngineHost(), merge: new MergeHost() });
  expect(await engineLoad({ kind: 'store', id: 'moe', dbName: DB })).toBe(true);
});

describe('chat store', () => {
  it('streams an answer into one assistant turn and persists the conversation', async () => {
    expect(useEngine.getState()).toMatchObject({ state: { kind: 'ready', modelId: 'moe' }, backend: { name: 'cpu' } });
    chatSetSampling({ temperature: 0, maxTokens: 5 });
    let streamed = 0;
    const unsubscribe = tokenStream.subscribe((e) => { if (e.kind === 'tokens') streamed += e.tokens.length; });
    await chatSend('hello');
    unsubscribe();
    const [conversation] = useChat.getState().conversations;
    expect(conversation.turns.map((t) => t.role)).toEqual(['user', 'assistant']);
    const answer = conversation.turns[1];
    expect(answer.tokens!.length).toBe(answer.summary!.tokens);
    expect(streamed).toBe(answer.tokens!.length);
    expect(answer.content).toBe(answer.tokens!.map((t) => t.text).join(''));
    expect(useChat.getState().streaming).toBe(false);

    chatReset();
    await chatInit();
    expect(useChat.getState().conversations.map((c) => c.id)).toEqual([conversation.id]);
  });

  it('regenerate replaces the last answer, with the new overrides applied', async () => {
    chatSetSampling({ temperature: 0, maxTokens: 4 });
    await chatSend('hi');
    chatSetOverrides({ ban: { experts: [1] } });
    await chatRegenerate();
    const turns = useChat.getState().conversations[0].turns;
    expect(turns.map((t) => t.role)).toEqual(['user', 'assistant']);
    for (const t of turns[1].tokens!) for (const l of t.routing!.layers) expect(l.expertIds).not.toContain(1);
  });
});
