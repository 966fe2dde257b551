/**
 * The library API in a real page: a plain HTML page (e2e/api-consumer.html) imports the built
 * package by name through an import map, and streams a completion from the zoo's chat model
 * in the engine worker. A static server (consumer-server.ts) serves the page, the package's
 * browser build and the zoo, cross-origin isolated. Needs `npm run build:lib` (npm run test:e2e runs it first).
 */
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { startConsumerServer } from './consumer-server.ts';
import { blockExternalNetwork, externalRequests } from './helpers.ts';

const BUNDLE = join(import.meta.dirname, '..', 'dist-lib/browser/moe-studio.js');
let site: { server: Server; url: string };
test.beforeAll(async () => {
  site = await startConsumerServer();
});
test.afterAll(async () => {
  await new Promise((resolve) => site.server.close(resolve));
});

test('a page imports the built package by name and streams from the zoo model in the engine worker', async ({
  page,
}) => {
  expect(existsSync(BUNDLE), `${BUNDLE} is missing: run npm run build:lib`).toBe(true);
  await blockExternalNetwork(page);
  const workers: string[] = [];
  page.on('worker', (w) => workers.push(w.url()));
  await page.goto(`${site.url}/index.html`);
  await page.waitForFunction(() => (window as { consumerReady?: boolean }).consumerReady === true);
  const out = await page.evaluate(() =>
    (window as unknown as { runConsumer(model: string): Promise<Record<string, unknown>> }).runConsumer('zoo/chat'),
  );

  expect(out.isolated).toBe(true);
  expect(workers.some((url) => /\/moe-studio\/dist-lib\/browser\/assets\/engine\.worker-.*\.js$/.test(url))).toBe(true);
  expect(out.backend, JSON.stringify(out.backend)).toMatchObject({ name: 'wasm' });
  expect(out.model).toMatchObject({ id: 'zoo/chat', arch: 'llama', experts: 0, contextLength: 64 });
  const chunks = out.chunks as {
    object: string;
    choices: { delta: { content?: string }; finish_reason: string | null }[];
    usage?: { prompt_tokens: number; completion_tokens: number };
    moe: { tokens: { token_id: number; layers: unknown[] }[] };
  }[];
  expect(chunks.length).toBeGreaterThan(1);
  for (const c of chunks) expect(c.object).toBe('chat.completion.chunk');
  const body = chunks.slice(0, -1);
  for (const c of body) expect(c.moe.tokens).toEqual([{ token_id: expect.any(Number), layers: [] }]); // dense: no MoE layers
  expect(
    body
      .map((c) => c.choices[0]!.delta.content ?? '')
      .join('')
      .trim().length,
  ).toBeGreaterThan(0);
  const last = chunks.at(-1)!;
  expect(['stop', 'length']).toContain(last.choices[0]!.finish_reason);
  expect(last.usage!.completion_tokens).toBe(body.length);

  const second = out.second as { usage: { prompt_tokens_details: { cached_tokens: number } } };
  expect(second.usage.prompt_tokens_details.cached_tokens).toBe(
    last.usage!.prompt_tokens + last.usage!.completion_tokens,
  );
  // A bad field is refused in the page; a prompt over the context is refused in the worker, its kind kept by name.
  expect(out.badTemperature).toEqual({
    typed: true,
    name: 'ConfigError',
    message: expect.stringContaining('temperature -1 must be ≥ 0'),
  });
  expect(out.tooLong).toMatchObject({
    typed: true, // a ContextFullError is a kind of ConfigError
    name: 'ContextFullError',
    message: expect.stringContaining('the context holds 64'),
  });
  expect(out.inThreadBackend, JSON.stringify(out.inThreadBackend)).toMatchObject({ name: 'wasm' });
  const inThread = out.inThreadAnswer as { choices: { message: { content: string } }[] };
  expect(inThread.choices[0]!.message.content).toBe(body.map((c) => c.choices[0]!.delta.content ?? '').join(''));
  expect(out.unknownModel).toMatchObject({
    typed: true,
    message: expect.stringMatching(
      /no model 'zoo\/no-such-model' in http:\/\/localhost:\d+\/zoo\/index\.json \(it has zoo\/base, /,
    ),
  });
  expect(externalRequests(page)).toEqual([]);
});
