/**
 * Model output is text, never markup: a stored conversation whose answer tokens contain HTML
 * and script is rendered literally (no elements created, no script run), as is user input.
 */
import { expect, test } from '@playwright/test';
import { clearOrigin, openPage } from './helpers.ts';

const EVIL = ['<img src=x onerror="window.__pwned=1">', '<script>window.__pwned=2</script>', ' <b>bold</b>'];

test('HTML and script in model output and user input are shown as text', async ({ page }) => {
  await clearOrigin(page);
  await page.evaluate(async (tokens) => {
    const open = indexedDB.open('moe-studio-chats');
    const db: IDBDatabase = await new Promise((resolve, reject) => {
      open.onupgradeneeded = () => open.result.createObjectStore('conversations');
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    const tx = db.transaction('conversations', 'readwrite');
    tx.objectStore('conversations').put(
      [
        {
          schemaVersion: 1,
          id: 'evil',
          title: 'evil',
          system: '',
          updatedAt: Date.now(),
          turns: [
            { role: 'user', content: '<img src=x onerror="window.__pwned=3">' },
            {
              role: 'assistant',
              content: tokens.join(''),
              tokens: tokens.map((text, id) => ({
                id,
                text,
                routing: { layers: [{ expertIds: [id % 2], expertWeights: [1], moeProbs: [0.5, 0.5] }] },
              })),
            },
          ],
        },
      ],
      'conversations',
    );
    await new Promise((r) => {
      tx.oncomplete = r;
    });
    db.close();
  }, EVIL);
  await page.reload();
  await openPage(page, 'Chat');
  const answer = page.getByTestId('assistant-tokens');
  await expect(answer).toContainText('<script>window.__pwned=2</script>');
  await expect(answer).toContainText('<img src=x onerror=');
  await expect(page.getByTestId('msg-user')).toContainText('<img src=x onerror="window.__pwned=3">');
  expect(
    await page
      .locator('[data-testid="messages"] img, [data-testid="messages"] script, [data-testid="messages"] b')
      .count(),
  ).toBe(0);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
});
