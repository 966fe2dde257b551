/**
 * nodeTokenizerGuard on real worker threads: the answers are the in-thread tokenizer's, its
 * typed errors keep their class, and a tokenizer or chat template that runs away ends in a
 * FormatError naming the file once the deadline has passed, with this thread's timers
 * running again right after (the regex is left in a thread that is terminated).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, FormatError } from '../core/errors.ts';
import { buildTestingBpeTokenizer } from '../core/tokenizer/bpe.testing.ts';
import { GuardedTokenizer } from '../core/tokenizer/guard.ts';
import { HANGING_TEXT, RUNAWAY_TEMPLATE, withHangingPreTokenizer } from '../core/tokenizer/hanging.testing.ts';
import { HfTokenizer } from '../core/tokenizer/hf.ts';
import { MessageChannel, Worker } from 'node:worker_threads';
import { nextSeq, nodeTokenizerGuard, receiveAnswer, waitForSeq } from './tokenizer-sandbox.ts';

const bpe = buildTestingBpeTokenizer();
const DEADLINE_MS = 1_500;

/** Runs `call`, returns what it threw and how long it took. */
function timed(call: () => unknown): { error: unknown; ms: number } {
  const started = performance.now();
  try {
    call();
  } catch (error) {
    return { error, ms: performance.now() - started };
  }
  return { error: undefined, ms: performance.now() - started };
}

describe('nodeTokenizerGuard', () => {
  it('answers encode, decode and the chat template as the tokenizer does in this thread', async () => {
    const inThread = new HfTokenizer(bpe.tokenizerJson, bpe.tokenizerConfig);
    const guarded = await nodeTokenizerGuard(DEADLINE_MS)(inThread);
    expect(guarded).toBeInstanceOf(GuardedTokenizer);
    const text = 'hello world, the quick brown fox';
    expect(guarded.encode(text)).toEqual(inThread.encode(text));
    expect(guarded.encode(text, { addSpecialTokens: false })).toEqual(
      inThread.encode(text, { addSpecialTokens: false }),
    );
    const ids = inThread.encode(text);
    expect(guarded.decode(ids)).toBe(text);
    const messages = [{ role: 'user' as const, content: 'hi' }];
    expect(guarded.applyChatTemplate(messages, { addGenerationPrompt: true })).toBe(
      inThread.applyChatTemplate(messages, { addGenerationPrompt: true }),
    );
    expect(guarded.vocabSize).toBe(inThread.vocabSize);
    expect(guarded.eosTokenIds).toEqual(inThread.eosTokenIds);
  });

  it('keeps the class of the typed errors thrown in the thread', async () => {
    const noTemplate = new HfTokenizer(bpe.tokenizerJson, { ...bpe.tokenizerConfig, chat_template: null });
    const guarded = await nodeTokenizerGuard(DEADLINE_MS)(noTemplate);
    expect(() => guarded.applyChatTemplate([{ role: 'user', content: 'hi' }])).toThrow(ConfigError);
    expect(() => guarded.applyChatTemplate([{ role: 'user', content: 'hi' }])).toThrow(
      /^tokenizer_config\.json: no chat_template/,
    );
    expect(guarded.encode('still answering')).toEqual(noTemplate.encode('still answering'));
  });

  it('ends a tokenizer whose pre-tokenizer regex hangs on the text with a FormatError naming tokenizer.json', async () => {
    const hanging = new HfTokenizer(withHangingPreTokenizer(bpe.tokenizerJson), bpe.tokenizerConfig);
    const guarded = await nodeTokenizerGuard(DEADLINE_MS)(hanging);
    expect(guarded.encode('short texts encode')).toEqual(hanging.encode('short texts encode'));
    const { error, ms } = timed(() => guarded.encode(HANGING_TEXT));
    expect(error).toBeInstanceOf(FormatError);
    expect((error as Error).message).toMatch(
      /^tokenizer\.json: encoding took longer than 1\.5 s, so its worker thread was ended \(a normalizer or pre-tokenizer regex/,
    );
    expect(ms).toBeGreaterThanOrEqual(DEADLINE_MS - 50);
    expect(ms).toBeLessThan(DEADLINE_MS + 3_000);
    // the thread is gone: every later call says so at once instead of waiting again
    const again = timed(() => guarded.encode('hello'));
    expect(again.error).toBeInstanceOf(FormatError);
    expect((again.error as Error).message).toBe((error as Error).message);
    expect(again.ms).toBeLessThan(500);
    // and this thread's timers run again
    await new Promise((resolve) => setTimeout(resolve, 10));
  }, 30_000);

  it('ends a chat template that runs away within CHAT_TEMPLATE_LIMITS with a FormatError naming tokenizer_config.json', async () => {
    const runaway = new HfTokenizer(bpe.tokenizerJson, { ...bpe.tokenizerConfig, chat_template: RUNAWAY_TEMPLATE });
    const guarded = await nodeTokenizerGuard(DEADLINE_MS)(runaway);
    const { error, ms } = timed(() => guarded.applyChatTemplate([{ role: 'user', content: 'hi' }]));
    expect(error).toBeInstanceOf(FormatError);
    expect((error as Error).message).toMatch(
      /^tokenizer_config\.json: rendering the chat template took longer than 1\.5 s, so its worker thread was ended \(a chat template/,
    );
    expect(ms).toBeGreaterThanOrEqual(DEADLINE_MS - 50);
    expect(ms).toBeLessThan(DEADLINE_MS + 3_000);
  }, 30_000);

  it('refuses a deadline that is not a positive number of milliseconds', () => {
    expect(() => nodeTokenizerGuard(0)).toThrow(ConfigError);
    expect(() => nodeTokenizerGuard(Number.NaN)).toThrow(
      /encodeDeadlineMs must be a whole number of milliseconds in \[1, 2\^31-1\]/,
    );
  });

  describe('the wait for an answer', () => {
    let thread: Worker | undefined;
    afterEach(async () => {
      await thread?.terminate();
      thread = undefined;
    });

    // The race CI met: the thread answers call 6, sets the signal, is preempted before its
    // notify, the caller reads answer 6 and starts call 7, and then notify 6 wakes call 7.
    // Here a thread plays that late notify on purpose, then answers call 7 for real.
    it('a notify that is not for this call does not end the wait; older answers left on the port are dropped', () => {
      const signal = new Int32Array(new SharedArrayBuffer(4));
      Atomics.store(signal, 0, 6);
      const { port1, port2 } = new MessageChannel();
      thread = new Worker(
        `const { parentPort } = require('node:worker_threads');
         parentPort.once('message', ({ signal, port }) => {
           setTimeout(() => Atomics.notify(signal, 0), 30);
           setTimeout(() => {
             port.postMessage({ seq: 6, value: 'the late answer to call 6' });
             port.postMessage({ seq: 7, value: 'the answer to call 7' });
             Atomics.store(signal, 0, 7);
             Atomics.notify(signal, 0);
           }, 300);
         });`,
        { eval: true },
      );
      thread.postMessage({ signal, port: port2 }, [port2]);
      const started = performance.now();
      expect(waitForSeq(signal, 7, 10_000)).toBe(true);
      expect(performance.now() - started).toBeGreaterThanOrEqual(250);
      expect(receiveAnswer(port1, 7)).toEqual({ seq: 7, value: 'the answer to call 7' });
      expect(receiveAnswer(port1, 8)).toBeUndefined();
    });

    it('times out when the answer never comes, after the deadline and not before', () => {
      const signal = new Int32Array(new SharedArrayBuffer(4));
      const { error, ms } = timed(() => {
        if (!waitForSeq(signal, 1, 200)) throw new Error('timed out');
      });
      expect(error).toBeInstanceOf(Error);
      expect(ms).toBeGreaterThanOrEqual(195);
    });

    it('numbers calls 1 … 2^31 - 1 and then 1 again, never 0 (the signal before any answer)', () => {
      expect(nextSeq(0)).toBe(1);
      expect(nextSeq(41)).toBe(42);
      expect(nextSeq(0x7fff_ffff)).toBe(1);
    });
  });
});
