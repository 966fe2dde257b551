/**
 * A build cancelled in Compose leaves nothing: no model, no "(incomplete)" entry, before or after
 * a reload, and Compose says so. The build streams into the store, which writes in 1 KiB chunks
 * here (`?chunkBytes=`, a test hook), so the cancel lands mid-merge, after chunks were written.
 */
import { expect, test } from '@playwright/test';
import { clearOrigin, openPage } from './helpers.ts';

test('a build cancelled while it merges into the library leaves nothing there, and Compose says so', async ({
  page,
}) => {
  test.setTimeout(300_000);
  await clearOrigin(page, '?chunkBytes=1024');
  await openPage(page, 'Compose');
  await page.getByLabel('Example').selectOption('moe-hidden.yml');
  await expect(page.getByTestId('compose-ok')).toContainText('Mixtral', { timeout: 120_000 });
  await page.getByRole('button', { name: 'Build MoE' }).click();
  const saving = page.getByRole('progressbar', { name: /Merging into the library: tensors/ });
  await expect(saving).toBeVisible({ timeout: 120_000 });
  await expect
    .poll(async () => Number(await saving.getAttribute('aria-valuenow')), { timeout: 60_000 })
    .toBeGreaterThan(0);
  await page.getByRole('button', { name: 'Cancel the build' }).click();
  await expect(page.getByTestId('build-status')).toHaveText('Cancelled; nothing was stored in the library.', {
    timeout: 60_000,
  });
  for (const reload of [false, true]) {
    if (reload) await page.reload();
    await openPage(page, 'Library');
    await expect(page.getByText('Nothing stored yet')).toBeVisible();
    await expect(page.getByTestId('stored-model')).toHaveCount(0);
    await expect(page.getByTestId('pending-model')).toHaveCount(0);
  }
  // and no chunk of it is left in IndexedDB
  const keys = await page.evaluate(async () => {
    const dbs = await indexedDB.databases();
    let count = 0;
    for (const { name } of dbs) {
      if (!name) continue;
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const open = indexedDB.open(name);
        open.onsuccess = () => resolve(open.result);
        open.onerror = () => reject(open.error);
      });
      for (const store of db.objectStoreNames) {
        const keys = await new Promise<IDBValidKey[]>((resolve) => {
          const request = db.transaction(store).objectStore(store).getAllKeys();
          request.onsuccess = () => resolve(request.result);
        });
        count += keys.filter((k) => String(k).includes('My-MoE') || String(k).includes('merge:')).length;
      }
      db.close();
    }
    return count;
  });
  expect(keys).toBe(0);
});

test('a build the browser has no room for is refused before it merges, with the sizes, and nothing is stored', async ({
  page,
}) => {
  test.setTimeout(180_000);
  // The browser's estimate answered as 1 MB free (test hook, shown in the banner); the zoo MoE is ~16 MB.
  await clearOrigin(page, '?simulateFree=1000000');
  await openPage(page, 'Compose');
  await page.getByLabel('Example').selectOption('moe-hidden.yml');
  await expect(page.getByTestId('compose-ok')).toContainText('Mixtral', { timeout: 120_000 });
  await page.getByRole('button', { name: 'Build MoE' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'not enough storage' })).toHaveText(
    /StoreError: store: not enough storage for the merged model 'Zoo MoE \(hidden\)': it needs [\d.]+ MB and the browser allows 1\.0 MB more \(0\.0 MB of 1\.0 MB used\)\. Nothing was written\./,
    { timeout: 60_000 },
  );
  // refused before any tensor was merged: no merge progress was ever shown
  await expect(page.getByRole('progressbar')).toHaveCount(0);
  await openPage(page, 'Library');
  await expect(page.getByTestId('stored-model')).toHaveCount(0);
  await expect(page.getByTestId('pending-model')).toHaveCount(0);
});
