/**
 * Import = validation, in the built app: a damaged folder is refused with the folder and file
 * named and nothing stored; a good folder shows what it is (architecture, parameters, dtype,
 * context); Re-verify of a model whose stored bytes were damaged says it would not load; an
 * offline or unreachable hub is one plain line, and the zoo still works.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { HUB_PORT } from './hub-server.ts';
import { clearOrigin, screenshot, chatWithZoo } from './helpers.ts';

const ZOO = join(import.meta.dirname, '..', 'public', 'zoo');
const OFFLINE_LINE =
  /^You are offline \(or 127\.0\.0\.1:\d+ is unreachable\): the hub can't be reached\. The demo zoo and local folders still work\.$/;

/** A folder named `name` under a fresh temp dir, with these files. */
function folder(name: string, files: Record<string, Buffer | string>): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'moe-lib-')), name);
  mkdirSync(dir);
  for (const [file, bytes] of Object.entries(files)) writeFileSync(join(dir, file), bytes);
  return dir;
}

/** Every key of the app's model store (IndexedDB 'moe-studio' / 'models'). */
function storeKeys(page: Page): Promise<string[]> {
  return page.evaluate(
    () =>
      new Promise<string[]>((resolve, reject) => {
        const open = indexedDB.open('moe-studio');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          if (!db.objectStoreNames.contains('models')) return resolve([]);
          const all = db.transaction('models').objectStore('models').getAllKeys();
          all.onsuccess = () => resolve(all.result.map(String));
        };
      }),
  );
}

function consoleErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  return errors;
}

test('a damaged folder is refused, naming the folder and the file, and nothing is stored', async ({ page }) => {
  await clearOrigin(page);
  const random = randomBytes(50_000);
  random[7] = 0xff;
  await page
    .getByTestId('folder-input')
    .setInputFiles(folder('broken', { 'config.json': '{"foo": 1}', 'model.safetensors': random }));
  const message = page.getByTestId('library-message');
  await expect(message).toHaveText(
    /^'broken' was not added \(its config does not describe a model this app runs, or disagrees with its files\): config\.json: .* Nothing was stored\.$/,
  );
  await expect(message).not.toContainText('local:');
  const config = Buffer.from(await (await page.request.get('/zoo/math/config.json')).body());
  await page
    .getByTestId('folder-input')
    .setInputFiles(folder('bad-weights', { 'config.json': config, 'model.safetensors': random }));
  await expect(message).toHaveText(
    /^'bad-weights' was not added \(a file is damaged or not in the format its name says\): safetensors: bad-weights\/model\.safetensors: header length/,
  );
  await expect(page.getByTestId('stored-model')).toHaveCount(0);
  await expect(page.getByTestId('pending-model')).toHaveCount(0);
  expect(await storeKeys(page)).toEqual([]);
  await expect(page.getByTestId('storage-summary')).toContainText('0 B in 0 models, counted by the store.');
  await page.setViewportSize({ width: 420, height: 900 });
  await screenshot(page, 'library-refused-420');
  expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBe(
    0,
  );
});

test('a stored model says what it is; Re-verify reports stored bytes that were damaged', async ({ page }) => {
  await clearOrigin(page, '?chunkBytes=1048576');
  await page.getByTestId('folder-input').setInputFiles(join(ZOO, 'math'));
  const stored = page.getByTestId('stored-model');
  await expect(stored).toHaveCount(1, { timeout: 120_000 });
  await expect(stored.getByTestId('model-facts')).toHaveText(
    /^llama · [\d.]+[KM] parameters · dense · \w+ · context [\d,]+$/,
  );
  await expect(stored.getByTestId('model-fits')).toHaveText(
    /^WASM in this tab: about [\d.]+ (KB|MB) of weights in its 4 GiB · WebGPU: about [\d.]+ (KB|MB) of GPU memory$/,
  );
  await expect(page.getByTestId('storage-summary')).toContainText(/ in 1 model, counted by the store\./);
  await screenshot(page, 'library-1280');
  await page.setViewportSize({ width: 420, height: 900 });
  await screenshot(page, 'library-420');
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  expect(overflow).toBeLessThanOrEqual(0);
  await page.setViewportSize({ width: 1280, height: 900 });

  await stored.getByRole('button', { name: 'Re-verify' }).click();
  await expect(stored.getByRole('status')).toHaveText(/^verified: every chunk present, sizes match, and it loads/);
  // Damage the first chunk of model.safetensors in IndexedDB (same length, so only the content is wrong).
  const key = (await storeKeys(page)).find((k) => /^chunk\/.*\/model\.safetensors\/0$/.test(k))!;
  expect(key).toBeTruthy();
  await page.evaluate(
    (chunkKey) =>
      new Promise<void>((resolve, reject) => {
        const open = indexedDB.open('moe-studio');
        open.onsuccess = () => {
          const store = open.result.transaction('models', 'readwrite').objectStore('models');
          const get = store.get(chunkKey);
          get.onsuccess = () => {
            const bytes = new Uint8Array((get.result as Uint8Array).byteLength).fill(0xff);
            store.put(bytes, chunkKey).onsuccess = () => resolve();
          };
          get.onerror = () => reject(get.error);
        };
      }),
    key,
  );
  await stored.getByRole('button', { name: 'Re-verify' }).click();
  await expect(stored.getByRole('status')).toHaveText(
    /^'math' would not load \(.*\): safetensors: math\/model\.safetensors: header length \d+ exceeds the cap/,
  );
  await page.setViewportSize({ width: 420, height: 900 });
  await screenshot(page, 'library-reverify-420');
  expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBe(
    0,
  );
});

test('offline, a hub lookup is one plain line with no requests, and the zoo is still listed', async ({
  page,
  context,
}) => {
  await clearOrigin(page);
  await expect(page.getByTestId('zoo-list')).toBeVisible();
  const errors = consoleErrors(page);
  const hubRequests: string[] = [];
  page.on('request', (r) => {
    if (r.url().includes(`:${HUB_PORT}/`)) hubRequests.push(r.url());
  });
  await context.setOffline(true);
  await page.getByLabel('Hub base URL').fill(`http://127.0.0.1:${HUB_PORT}`);
  await page.getByLabel('Repository').fill('org/zoo-base');
  await page.getByRole('button', { name: 'Look up files' }).click();
  await expect(page.getByTestId('library-message')).toHaveText(OFFLINE_LINE);
  expect(hubRequests).toEqual([]);
  expect(errors).toEqual([]);
  await expect(
    page
      .getByTestId('zoo-list')
      .getByRole('button', { name: /^Chat with/ })
      .first(),
  ).toBeEnabled();
  await context.setOffline(false);
});

test('an unreachable hub is one request, one line, and the zoo still chats', async ({ page }) => {
  await clearOrigin(page);
  const errors = consoleErrors(page);
  const hubRequests: string[] = [];
  await page.route(`http://127.0.0.1:${HUB_PORT}/**`, (route) => {
    hubRequests.push(route.request().url());
    return route.abort('connectionrefused');
  });
  await page.getByLabel('Hub base URL').fill(`http://127.0.0.1:${HUB_PORT}`);
  await page.getByLabel('Repository').fill('org/zoo-base');
  await page.getByRole('button', { name: 'Look up files' }).click();
  await expect(page.getByTestId('library-message')).toHaveText(OFFLINE_LINE);
  expect(hubRequests).toHaveLength(1); // the tree API; no probing of ten file names after it
  expect(errors.length).toBeLessThanOrEqual(1); // the browser's own line for the one failed request
  await chatWithZoo(page, 'math');
});

test('a folder the browser has no room for is refused before a byte is written, with the sizes', async ({ page }) => {
  // The browser's estimate answered as 1 MB free (test hook, shown in the banner); zoo/math is 6.9 MB.
  await clearOrigin(page, '?simulateFree=1000000');
  await expect(page.getByTestId('test-hook-banner')).toContainText('simulated free storage: 1000000 bytes');
  await page.getByTestId('folder-input').setInputFiles(join(ZOO, 'math'));
  await expect(page.getByTestId('library-message')).toHaveText(
    /store: not enough storage for 'math': it needs [\d.]+ MB and the browser allows 1\.0 MB more \(0\.0 MB of 1\.0 MB used\)\. Nothing was written\. Free disk space or allow this site more storage\./,
    { timeout: 60_000 },
  );
  await expect(page.getByTestId('stored-model')).toHaveCount(0);
  await expect(page.getByTestId('pending-model')).toHaveCount(0);
  expect(await storeKeys(page)).toEqual([]);
});
