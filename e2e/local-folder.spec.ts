/**
 * Adding a local folder through the webkitdirectory input (real files from public/zoo/math),
 * stored chunked in IndexedDB; with "q8_0" chosen it is quantized on import (GGUF beside the
 * tokenizer) and still chats.
 */
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { clearOrigin } from './helpers.ts';

const FOLDER = join(import.meta.dirname, '..', 'public', 'zoo', 'math');

test('a local folder is imported, quantized to q8_0 on import, and chats', async ({ page }) => {
  await clearOrigin(page, '?chunkBytes=1048576');
  await page.getByLabel('Store weights as').selectOption('q8_0');
  await page.getByTestId('folder-input').setInputFiles(FOLDER);
  const stored = page.getByTestId('stored-model');
  await expect(stored).toHaveCount(1, { timeout: 120_000 });
  await expect(stored).toContainText('math (q8_0)');
  await expect(stored).toContainText('local');
  await stored.getByRole('button', { name: 'Chat' }).click();
  await expect(page.getByTestId('engine-ready')).toContainText('dense', { timeout: 120_000 });
  await page.getByLabel('Max tokens').fill('6');
  await page.getByRole('textbox', { name: 'Message' }).fill('12 + 35 =');
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(page.getByTestId('msg-assistant').last()).toContainText(/tokens · /, { timeout: 60_000 });
});

test('files dropped on the drop zone are imported as a model', async ({ page }) => {
  await clearOrigin(page);
  const names = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'];
  const dataTransfer = await page.evaluateHandle(async (files) => {
    const dt = new DataTransfer();
    for (const name of files) {
      const bytes = await (await fetch(`/zoo/code/${name}`)).arrayBuffer();
      dt.items.add(new File([bytes], name));
    }
    return dt;
  }, names);
  await page.getByRole('region', { name: 'Drop a model folder here' }).dispatchEvent('drop', { dataTransfer });
  const stored = page.getByTestId('stored-model');
  await expect(stored).toHaveCount(1, { timeout: 120_000 });
  await expect(stored).toContainText('4 files');
  await stored.getByRole('button', { name: 'Re-verify' }).click();
  await expect(stored).toContainText('verified');
});
