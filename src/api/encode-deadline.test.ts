/**
 * The library's Node engine on models whose tokenizer or chat template runs for hours
 * (hanging.testing.ts): a request ends in a FormatError naming the file once encodeDeadlineMs
 * has passed (nodeTokenizerGuard: encoding in a worker thread this one waits on), the process
 * carries on, and the engine says the same at once for later requests.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HANGING_TEXT } from '../core/tokenizer/hanging.testing.ts';
import { type DeadlineModels, writeDeadlineModels } from '../cli/deadline-models.testing.ts';
import { ConfigError, createEngine, FormatError } from './node.ts';

const DEADLINE_MS = 1_500;
let root = '';
let models: DeadlineModels;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'moe-api-deadline-'));
  models = await writeDeadlineModels(root);
}, 60_000);

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

/** The request's error and how long it took. */
async function timed(request: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = performance.now();
  const error = await request.then(
    () => undefined,
    (e: unknown) => e,
  );
  return { error, ms: performance.now() - started };
}

describe('createEngine (Node): encodeDeadlineMs', () => {
  it('ends a request whose prompt hangs in the tokenizer with a FormatError naming tokenizer.json', async () => {
    const engine = await createEngine({ model: models.hangs, backend: 'cpu', encodeDeadlineMs: DEADLINE_MS });
    try {
      const ok = await engine.chat.completions.create({
        messages: [{ role: 'user', content: 'hello' }],
        max_tokens: 2,
        temperature: 0,
      });
      expect(ok.usage.completion_tokens).toBeGreaterThan(0);
      const { error, ms } = await timed(
        engine.chat.completions.create({ messages: [{ role: 'user', content: HANGING_TEXT }], max_tokens: 2 }),
      );
      expect(error).toBeInstanceOf(FormatError);
      expect((error as Error).message).toMatch(
        /^tokenizer\.json: encoding took longer than 1\.5 s, so its worker thread was ended \(a normalizer or pre-tokenizer regex/,
      );
      expect(ms).toBeGreaterThanOrEqual(DEADLINE_MS - 50);
      expect(ms).toBeLessThan(DEADLINE_MS + 5_000);
      // the tokenizer's thread is gone: the next request says so at once
      const again = await timed(
        engine.chat.completions.create({ messages: [{ role: 'user', content: 'hello' }], max_tokens: 2 }),
      );
      expect((again.error as Error).message).toBe((error as Error).message);
      expect(again.ms).toBeLessThan(1_000);
    } finally {
      await engine.dispose();
    }
  }, 60_000);

  it('ends a request whose chat template runs away with a FormatError naming tokenizer_config.json', async () => {
    const engine = await createEngine({ model: models.runaway, backend: 'cpu', encodeDeadlineMs: DEADLINE_MS });
    try {
      const { error, ms } = await timed(
        engine.chat.completions.create({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }),
      );
      expect(error).toBeInstanceOf(FormatError);
      expect((error as Error).message).toMatch(
        /^tokenizer_config\.json: rendering the chat template took longer than 1\.5 s, so its worker thread was ended/,
      );
      expect(ms).toBeLessThan(DEADLINE_MS + 5_000);
    } finally {
      await engine.dispose();
    }
  }, 60_000);

  it('refuses a deadline that is not a positive number of milliseconds', async () => {
    await expect(createEngine({ model: models.fine, backend: 'cpu', encodeDeadlineMs: 0 })).rejects.toThrow(
      ConfigError,
    );
  });
});
