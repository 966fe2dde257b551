/**
 * A tokenizer that hangs on a text cannot freeze the tab or leave Chat streaming (or a Routing
 * slot busy, or a Compose build or calibration running) for ever: encoding runs in the real
 * engine and merge workers, and when a worker has not said 'encoded' within ENCODE_DEADLINE_MS
 * (engineEncodeDeadline, mergeEncodeDeadline), or a tokenizer call it reported has not ended
 * by then (mergeTokenizerDeadline), the page ends it, the call fails with a FormatError naming
 * the tokenizer, and the next call starts a fresh worker.
 *
 * The tokenizer's pre-tokenizer is hanging.testing.ts's: it passes checkTokenizerSections, and
 * backtracks for hours on the run of 20,000 spaces sent here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clear, createStore } from 'idb-keyval';
import { randomHfFolder } from '../core/merge/models.testing.ts';
import { memoryFileSet } from '../core/io/byte-source.ts';
import { modelStoreImportFileSet } from '../core/store/import-files.ts';
import { idbKvStore } from '../core/store/kv.ts';
import { ENCODE_DEADLINE_MS } from '../core/tokenizer/guard.ts';
import { HANGING_TEXT, withHangingPreTokenizer } from '../core/tokenizer/hanging.testing.ts';
import { MODEL_DB_NAME } from '../core/store/kv.ts';
import { modelStoreDelete, modelStoreGet } from '../core/store/model-store.ts';
import {
  composeCalibrate,
  composeCalibrationPaste,
  composeBuild,
  composeReset,
  composeSetYaml,
  useCompose,
} from './compose.ts';
import { useLibrary } from './library.ts';
import { createEngine, FormatError } from '../api/browser.ts';
import { chatNew, chatReset, chatSend, chatSetSampling, useChat } from './chat.ts';
import { routingAnalyzeText, routingAnalyzeWithComposeGates, routingReset, useRouting } from './routing.ts';
import { engineLoad, engineReset, useEngine } from './engine.ts';
import { settingsReset, settingsUpdate } from './settings.ts';
import { engineClientSet } from './workers.ts';

const DB = 'moe-studio-prompt-deadline-test';
/** Compose's builds read the library's stored models from the app's own database: these ids, removed after. */
const COMPOSE_IDS = { hangs: 'prompt-deadline-test-hangs', fine: 'prompt-deadline-test-fine' };

async function storeFolder(id: string, hang: boolean, dbName = DB): Promise<void> {
  const { files } = await randomHfFolder(id, 11);
  const copy: Record<string, Uint8Array> = {};
  for (const f of await files.list()) {
    const s = await files.open(f);
    copy[f] = await s.read(0, s.size);
  }
  if (hang) {
    const json = withHangingPreTokenizer(JSON.parse(new TextDecoder().decode(copy['tokenizer.json'])));
    copy['tokenizer.json'] = new TextEncoder().encode(JSON.stringify(json));
  }
  await modelStoreImportFileSet(idbKvStore(dbName, 'models'), {
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
  await storeFolder(COMPOSE_IDS.hangs, true, MODEL_DB_NAME);
  await storeFolder(COMPOSE_IDS.fine, false, MODEL_DB_NAME);
  const kv = idbKvStore(MODEL_DB_NAME, 'models');
  useLibrary.setState({
    stored: [(await modelStoreGet(kv, COMPOSE_IDS.hangs))!, (await modelStoreGet(kv, COMPOSE_IDS.fine))!],
  });
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
  for (const id of Object.values(COMPOSE_IDS)) await modelStoreDelete(idbKvStore(MODEL_DB_NAME, 'models'), id);
  composeReset();
});

describe('the prompt deadline (ENCODE_DEADLINE_MS)', () => {
  it('ends a worker whose tokenizer hangs on the prompt; the tab keeps running and a fresh worker answers', async () => {
    expect(await engineLoad({ kind: 'store', id: 'hangs', dbName: DB })).toBe(true);
    chatSetSampling({ temperature: 0, maxTokens: 3 });
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 100);
    const started = performance.now();
    await chatSend(`${' '.repeat(20_000)}!`);
    const waited = performance.now() - started;
    clearInterval(ticker);
    expect(waited).toBeGreaterThanOrEqual(ENCODE_DEADLINE_MS - 50);
    expect(waited).toBeLessThan(ENCODE_DEADLINE_MS + 5_000);
    // the page's timers ran all along: the hang was in the worker, not in this thread
    expect(ticks).toBeGreaterThan(ENCODE_DEADLINE_MS / 100 / 2);
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
    expect(waited).toBeGreaterThanOrEqual(ENCODE_DEADLINE_MS - 50);
    expect(waited).toBeLessThan(ENCODE_DEADLINE_MS + 5_000);
    expect(useRouting.getState().slots[0]).toMatchObject({ busy: false });
    expect(useRouting.getState().slots[0].error).toMatch(
      /^FormatError: tokenizer\.json: encoding the text took longer than 10 s, so the engine worker was ended/,
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
    expect(waited).toBeGreaterThanOrEqual(ENCODE_DEADLINE_MS - 50);
    expect(waited).toBeLessThan(ENCODE_DEADLINE_MS + 5_000);
    expect(useRouting.getState().slots[1]).toMatchObject({ busy: false });
    expect(useRouting.getState().slots[1].error).toMatch(
      /^FormatError: tokenizer\.json: encoding the text and the prompts took longer than 10 s, so the merge worker was ended/,
    );
    await routingAnalyzeWithComposeGates(0, 'hello again', yaml, sources); // a fresh merge worker
    expect(useRouting.getState().slots[0].error).toBeUndefined();
    expect(useRouting.getState().slots[0].result!.pieces.length).toBeGreaterThan(0);
  }, 60_000);

  // the build's and the calibration's tokenizer calls are reported one by one (watchedTokenizer)
  const composeYaml = (prompt: string) => `base_model: local/${COMPOSE_IDS.hangs}
gate_mode: hidden
experts_per_token: 1
experts:
  - source_model: local/${COMPOSE_IDS.fine}
    positive_prompts: ["hello world"]
  - source_model: local/${COMPOSE_IDS.hangs}
    positive_prompts: [${JSON.stringify(prompt)}]
`;
  const composeMessage =
    /^FormatError: tokenizer\.json: encoding a prompt or a calibration text took longer than 10 s, so the merge worker was ended \(a normalizer or pre-tokenizer regex/;

  it("ends the merge worker when a build's hidden gates hang in the base's tokenizer on a prompt", async () => {
    composeSetYaml(composeYaml(`a${HANGING_TEXT}`));
    const started = performance.now();
    await composeBuild();
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(ENCODE_DEADLINE_MS - 50);
    expect(waited).toBeLessThan(ENCODE_DEADLINE_MS + 15_000);
    expect(useCompose.getState().build).toMatchObject({ status: 'failed' });
    expect(useCompose.getState().build!.error).toMatch(composeMessage);
    // a fresh merge worker checks the next composition (composeSetYaml schedules the check)
    composeSetYaml(composeYaml('def f(x):'));
    await expect.poll(() => useCompose.getState().check, { timeout: 20_000 }).toMatchObject({ ok: true });
  }, 60_000);

  it("ends the merge worker when a calibration's texts hang in the merged model's tokenizer", async () => {
    composeSetYaml(composeYaml('def f(x):'));
    composeCalibrationPaste(0, 'hello world, the quick brown fox');
    composeCalibrationPaste(1, `a${HANGING_TEXT}`);
    const started = performance.now();
    await composeCalibrate();
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(ENCODE_DEADLINE_MS - 50);
    expect(waited).toBeLessThan(ENCODE_DEADLINE_MS + 15_000);
    expect(useCompose.getState().calibration).toMatchObject({ status: 'failed' });
    expect(useCompose.getState().calibration!.error).toMatch(composeMessage);
  }, 60_000);

  it("the library's page engine ends its worker when the prompt hangs; later requests fail at once", async () => {
    const engine = await createEngine({ model: 'hangs', dbName: DB, backend: 'cpu', encodeDeadlineMs: 2_000 });
    try {
      const ok = await engine.chat.completions.create({
        messages: [{ role: 'user', content: 'hello' }],
        max_tokens: 2,
      });
      expect(ok.usage.completion_tokens).toBeGreaterThan(0);
      const started = performance.now();
      const error = await engine.chat.completions
        .create({ messages: [{ role: 'user', content: HANGING_TEXT }], max_tokens: 2 })
        .catch((e: unknown) => e);
      const waited = performance.now() - started;
      expect(waited).toBeGreaterThanOrEqual(2_000 - 50);
      expect(waited).toBeLessThan(2_000 + 5_000);
      expect(error).toBeInstanceOf(FormatError);
      expect((error as Error).message).toMatch(
        /^tokenizer: encoding the prompt took longer than 2 s, so the engine worker was ended .* Create the engine again/,
      );
      const again = await engine.chat.completions
        .create({ messages: [{ role: 'user', content: 'hello' }], max_tokens: 2 })
        .catch((e: unknown) => e);
      expect((again as Error).message).toBe((error as Error).message);
    } finally {
      await engine.dispose();
    }
  }, 60_000);
});
