/**
 * Hub downloads against the local hub server (e2e/hub-server.ts, HF layout on 127.0.0.1):
 * sizes and where the model fits before download (config.json alone is read), a model the
 * studio cannot run refused before its download, pause mid-file and resume with an HTTP Range request, a reload in
 * the middle of a file resumed from the store, the library kept across reloads, and a
 * (simulated) quota failure that says what to delete and leaves nothing marked ready.
 */
import { expect, test, type Page } from '@playwright/test';
import { HUB_PORT, HUB_REPO, REFUSED_REPO } from './hub-server.ts';
import { clearOrigin, screenshot } from './helpers.ts';

const HUB = `http://127.0.0.1:${HUB_PORT}`;
const CHUNK = 'chunkBytes=262144';

async function requests(page: Page): Promise<{ path: string; range: string | null }[]> {
  return (await page.request.get(`${HUB}/__requests`)).json();
}

async function resetHub(page: Page, stall: number[]) {
  await page.request.get(`${HUB}/__reset?stall=${stall.join(',')}`);
}

async function lookUp(page: Page, repo = HUB_REPO) {
  await page.getByLabel('Hub base URL').fill(HUB);
  await page.getByLabel('Repository').fill(repo);
  await page.getByRole('button', { name: 'Look up files' }).click();
  await expect(page.getByTestId('hub-listing')).toContainText('model.safetensors');
  await expect(page.getByTestId('hub-listing')).toContainText('6.5 MB');
}

test('before the download: what the model is, where it fits, and a model the studio cannot run refused', async ({
  page,
}) => {
  await clearOrigin(page, `?${CHUNK}`);
  await resetHub(page, []);
  await lookUp(page);
  const preview = page.getByTestId('hub-preview');
  await expect(preview).toContainText(/^llama · 3\.[0-9]M parameters · dense · stored as f16/);
  // f16 widens to f32 in WASM (4 bytes a parameter); WebGPU keeps f16 (2)
  await expect(page.getByTestId('hub-fits')).toHaveText(
    /^WASM in this tab: about 1[0-9]\.\d MB of weights in its 4 GiB · WebGPU: about 6\.\d MB of GPU memory$/,
  );
  // the quantization setting changes what will be stored, and so the fit, before any download
  await page.getByLabel('Store weights as').selectOption('q4_0');
  await expect(preview).toContainText('stored as q4_0');
  await expect(page.getByTestId('hub-fits')).toHaveText(/· WebGPU: about [12]\.\d MB of GPU memory$/);
  expect((await requests(page)).filter((r) => r.path.endsWith('.safetensors'))).toEqual([]);
  await screenshot(page, 'hub-0-preview');

  await lookUp(page, REFUSED_REPO);
  await expect(page.getByTestId('hub-refusal')).toContainText(/The studio cannot use this model.*model_type/);
  await expect(page.getByRole('button', { name: /^Download/ })).toBeDisabled();
  await expect(page.getByTestId('hub-preview')).toHaveCount(0);
  expect((await requests(page)).filter((r) => r.path.endsWith('.safetensors'))).toEqual([]);
  await page.setViewportSize({ width: 420, height: 900 });
  await screenshot(page, 'hub-0-refused-420');
});

async function storedFraction(page: Page): Promise<number> {
  const bar = page.getByRole('progressbar', { name: /model\.safetensors/ }).first();
  return Number(await bar.getAttribute('aria-valuenow'));
}

test('download with pause/resume over HTTP Range, survive a reload, keep the library', async ({ page }) => {
  await clearOrigin(page, `?${CHUNK}`);
  await resetHub(page, [0.4, 0.7]); // the first response stalls at 40%, the resumed one at 70%
  await lookUp(page);
  await page.getByRole('button', { name: /^Download/ }).click();
  await expect.poll(() => storedFraction(page), { timeout: 30_000 }).toBeGreaterThanOrEqual(35);
  await page.getByRole('button', { name: 'Pause' }).click();
  await expect(page.getByTestId('transfer')).toHaveAttribute('data-status', 'paused');
  await screenshot(page, 'hub-1-paused');
  const before = (await requests(page)).length;
  await page.getByRole('button', { name: 'Resume' }).click();
  await expect
    .poll(
      async () => (await requests(page)).slice(before).find((r) => r.path.endsWith('model.safetensors'))?.range ?? '',
    )
    .toMatch(/^bytes=[1-9]\d*-$/);

  // Reload in the middle of the file: the pending import survives and resumes by Range.
  await expect.poll(() => storedFraction(page), { timeout: 30_000 }).toBeGreaterThanOrEqual(65);
  await page.reload();
  await expect(page.getByTestId('pending-model')).toHaveCount(1);
  await expect(page.getByTestId('stored-model')).toHaveCount(0);
  const mark = (await requests(page)).length;
  await page.getByRole('button', { name: 'Resume download' }).click();
  await expect(page.getByTestId('stored-model')).toHaveCount(1, { timeout: 60_000 });
  const resumed = (await requests(page)).slice(mark).filter((r) => r.path.endsWith('model.safetensors'));
  expect(resumed[0].range).toMatch(/^bytes=[1-9]\d*-$/);
  await screenshot(page, 'hub-2-done');

  // The library keeps the model across a reload, re-verifies it and chats with it.
  await page.reload();
  await expect(page.getByTestId('stored-model')).toContainText(HUB_REPO);
  await page.getByRole('button', { name: 'Re-verify' }).click();
  await expect(page.getByTestId('stored-model')).toContainText('verified');
  await page.getByTestId('stored-model').getByRole('button', { name: 'Chat' }).click();
  await expect(page.getByTestId('engine-ready')).toContainText('dense', { timeout: 120_000 });

  // Delete (after confirming) removes the manifest and every chunk.
  await page.getByRole('navigation', { name: 'Pages' }).getByRole('button', { name: 'Library', exact: true }).click();
  await page.getByTestId('stored-model').getByRole('button', { name: 'Delete' }).click();
  const confirm = page.getByRole('alertdialog');
  await expect(confirm).toBeVisible();
  await confirm.getByRole('button', { name: /^Delete / }).click();
  await expect(page.getByTestId('stored-model')).toHaveCount(0);
  const keys = await page.evaluate(async () => {
    const open = indexedDB.open('moe-studio');
    const db: IDBDatabase = await new Promise((r) => {
      open.onsuccess = () => r(open.result);
    });
    const req = db.transaction('models').objectStore('models').getAllKeys();
    return new Promise<IDBValidKey[]>((r) => {
      req.onsuccess = () => r(req.result);
    });
  });
  expect(keys).toEqual([]);
});

test('a quota failure says what to delete and leaves nothing half-written marked ready', async ({ page }) => {
  await clearOrigin(page, `?${CHUNK}&simulateQuota=3000000`);
  // The hook also works in the built app, so it is never silent: the header says it is on.
  await expect(page.getByTestId('test-hook-banner')).toContainText('simulated quota: 3000000 bytes');
  await resetHub(page, []);
  await lookUp(page);
  await page.getByRole('button', { name: /^Download/ }).click();
  await expect(page.getByTestId('library-message')).toContainText('out of storage quota', { timeout: 60_000 });
  await expect(page.getByTestId('stored-model')).toHaveCount(0);
  await page.reload();
  await expect(page.getByTestId('pending-model')).toHaveCount(1);
  await expect(page.getByTestId('stored-model')).toHaveCount(0);
  await screenshot(page, 'hub-3-quota');
  await page.getByRole('button', { name: 'Discard' }).click();
  await expect(page.getByTestId('pending-model')).toHaveCount(0);
});
