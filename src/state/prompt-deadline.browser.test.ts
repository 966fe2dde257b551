/**
 * A tokenizer that hangs on a text cannot freeze the tab or leave Chat streaming (or a Routing
 * slot busy) for ever: encoding runs in the real engine worker (workers/engine.worker.ts), and
 * when the worker has not said 'encoded' within PROMPT_DEADLINE_MS the page ends it
 * (engineEncodeDeadline), the call fails with a FormatError naming the tokenizer, and the next
 * load starts a fresh worker.
 *
 * The pre-tokenizer regex below passes checkTokenizerSections (no nested quantifier, two
 * unbounded quantifiers in a row, as Llama 3's own patterns have), but two overlapping `\s*`
 * before an `x` that never comes backtrack as a cube of the run of spaces: in Node a split of
 * 2000 spaces takes seconds, and the 20,000 sent here would take hours.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clear, createStore } from 'idb-keyval';
import { randomHfFolder } from '../core/merge/models.testing.ts';
import { memoryFileSet } from '../core/io/byte-source.ts';
import { modelStoreImportFileSet } from '../core/store/import-files.ts';
import { idbKvStore } from '../core/store/kv.ts';
import { PROMPT_DEADLINE_MS } from '../../workers/engine/api.ts';
import { chatNew, chatReset, chatSend, chatSetSampling, useChat } from './chat.ts';
import { routingAnalyzeText, routingAnalyzeWithComposeGates, routingReset, useRouting } from './routing.ts';
import { engineLoad, engineReset, useEngine } from './engine.ts';
import { settingsReset, settingsUpdate } from './settings.ts';
import { engineClientSet } from './workers.ts';

const DB = 'moe-studio-prompt-deadline-test';
const HANGING_REGEX = '\\s*\\s*x';

async function storeFolder(id: string, hang: boolean): Promise<void> {
  const { files } = await randomHfFolder(id, 11);
  const copy: Record<string, Uint8Array> = {};
  for (const f of await files.list()) {
    const s = await files.open(f);
    copy[f] = await s.read(0, s.size);
  }
  if (hang) {
    const json = JSON.parse(new TextDecoder().decode(copy['tokenizer.json']));
    json.pre_tokenizer = {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: HANGING_REGEX }, behavior: 'Isolated', invert: false },
        json.pre_tokenizer,
      ].filter(Boolean),
    };
    copy['tokenizer.json'] = new TextEncoder().encode(JSON.stringify(json));
  }
  await modelStoreImportFileSet(idbKvStore(DB, 'models'), {
    id,
    title: id,
    source: { kind: 'local', folderName: id },
    files: memoryFileSet(copy, id),
  });
}

beforeAll(async () => {
  await clear(createStore(DB, 'models'));
  await storeFolder('hangs', true);
  await storeFolder('fine', false);
  chatReset();
  routingReset();
  engineReset();
  settingsReset();
  settingsUpdate({ backendChoice: 'cpu' });
  engineClientSet(undefined); // the real engine worker, as the studio runs it
}, 60_000);

afterAll(async () => {
  engineClientSet(undefined);
  await clear(createStore(DB, 'models'));
});

describe('the prompt deadline (PROMPT_DEADLINE_MS)', () => {
  it('ends a worker whose tokenizer hangs on the prompt; the tab keeps running and a fresh worker answers', async () => {
    expect(await engineLoad({ kind: 'store', id: 'hangs', dbName: DB })).toBe(true);
    chatSetSampling({ temperature: 0, maxTokens: 3 });
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 100);
    const started = performance.now();
    await chatSend(`${' '.repeat(20_000)}!`);
    const waited = performance.now() - started;
    clearInterval(ticker);
    expect(waited).toBeGreaterThanOrEqual(PROMPT_DEADLINE_MS - 50);
    expect(waited).toBeLessThan(PROMPT_DEADLINE_MS + 5_000);
    // the page's timers ran all along: the hang was in the worker, not in this thread
    expect(ticks).toBeGreaterThan(PROMPT_DEADLINE_MS / 100 / 2);
    expect(useChat.getState()).toMatchObject({ streaming: false });
    expect(useChat.getState().error).toMatch(
      /^FormatError: tokenizer: encoding the prompt took longer than 10 s, so the engine worker was ended/,
    );
    expect(useEngine.getState().state).toMatchObject({ kind: 'failed', errorName: 'BackendError' });

    expect(await engineLoad({ kind: 'store', id: 'fine', dbName: DB })).toBe(true);
    // a new conversation: the old one still holds the 20,000-character message, past this model's context
    chatNew();
    await chatSend('hello');
    expect(useChat.getState().error).toBeUndefined();
    const answer = useChat
      .getState()
      .conversations.find((c) => c.id === useChat.getState().currentId)!
      .turns.at(-1)!;
    expect(answer.role).toBe('assistant');
    expect(answer.summary!.tokens).toBeGreaterThan(0);
  }, 60_000);

  it("ends the worker when the Routing page's analyze hangs in the tokenizer; the slot says why", async () => {
    expect(await engineLoad({ kind: 'store', id: 'hangs', dbName: DB })).toBe(true);
    const started = performance.now();
    await routingAnalyzeText(0, `${' '.repeat(20_000)}!`);
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(PROMPT_DEADLINE_MS - 50);
    expect(waited).toBeLessThan(PROMPT_DEADLINE_MS + 5_000);
    expect(useRouting.getState().slots[0]).toMatchObject({ busy: false });
    expect(useRouting.getState().slots[0].error).toMatch(
      /^FormatError: tokenizer: encoding the text took longer than 10 s, so the engine worker was ended/,
    );
    expect(await engineLoad({ kind: 'store', id: 'fine', dbName: DB })).toBe(true);
    await routingAnalyzeText(1, 'hello world');
    expect(useRouting.getState().slots[1].error).toBeUndefined();
    expect(useRouting.getState().slots[1].result!.pieces.length).toBeGreaterThan(0);
  }, 60_000);

  it("ends the merge worker when Compose's routing preview hangs in the base's tokenizer", async () => {
    const yaml = `base_model: org/hangs
gate_mode: hidden
experts_per_token: 1
experts:
  - source_model: org/fine
    positive_prompts: ["hello world"]
  - source_model: org/hangs
    positive_prompts: ["def f(x):"]
`;
    const sources = {
      'org/hangs': { kind: 'store' as const, id: 'hangs', dbName: DB },
      'org/fine': { kind: 'store' as const, id: 'fine', dbName: DB },
    };
    await routingAnalyzeWithComposeGates(0, 'hello', yaml, sources); // starts the merge worker
    expect(useRouting.getState().slots[0].error).toBeUndefined();
    const started = performance.now();
    await routingAnalyzeWithComposeGates(1, `${' '.repeat(20_000)}!`, yaml, sources);
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(PROMPT_DEADLINE_MS - 50);
    expect(waited).toBeLessThan(PROMPT_DEADLINE_MS + 5_000);
    expect(useRouting.getState().slots[1]).toMatchObject({ busy: false });
    expect(useRouting.getState().slots[1].error).toMatch(
      /^FormatError: tokenizer: encoding the text and the prompts took longer than 10 s, so the merge worker was ended/,
    );
    await routingAnalyzeWithComposeGates(0, 'hello again', yaml, sources); // a fresh merge worker
    expect(useRouting.getState().slots[0].error).toBeUndefined();
    expect(useRouting.getState().slots[0].result!.pieces.length).toBeGreaterThan(0);
  }, 60_000);
});
