/**
 * Export of a zoo model, which the library holds as URLs, not in the store: one picker for
 * every model, the HF folder as one zip (entries listed), GGUF after loading it, each result
 * named with its size.
 */
import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { readGguf } from '../src/core/formats/gguf.ts';
import { bytesSource } from '../src/core/io/byte-source.ts';
import { clearOrigin, openPage } from './helpers.ts';
import { readZipEntries } from '../src/core/formats/zip.ts';

test('a zoo model exports as an HF-folder zip and as GGUF from the one model picker', async ({ page }) => {
  await clearOrigin(page);
  await openPage(page, 'Export');
  await page.getByLabel('Model to export').selectOption('zoo/code'); // the option's value is the model id
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: /^HF folder of/ }).click();
  const zip = readZipEntries(new Uint8Array(readFileSync((await (await download).path())!)));
  const names = [...zip.keys()];
  expect(names.every((n) => n.startsWith(names[0]!.split('/')[0]!))).toBe(true); // one folder
  for (const file of ['config.json', 'tokenizer.json', 'model.safetensors'])
    expect(names.some((n) => n.endsWith(`/${file}`))).toBe(true);
  await expect(page.getByTestId('export-message')).toContainText(/HF folder saved: .*\.zip \(\d+(\.\d)? MB\)/);

  const gguf = page.waitForEvent('download');
  await page.getByRole('button', { name: /^GGUF q8_0 of/ }).click();
  expect((await gguf).suggestedFilename()).toMatch(/\.q8_0\.gguf$/);
  await expect(page.getByTestId('export-message')).toContainText(/GGUF q8_0 saved: .*\.q8_0\.gguf \(\d+(\.\d)? MB\)/, {
    timeout: 120_000,
  });
  // The file the worker built as a Blob, tensor by tensor: a whole GGUF our reader opens.
  const bytes = new Uint8Array(readFileSync((await (await gguf).path())!));
  const file = await readGguf(bytesSource(bytes, 'download.gguf'));
  expect(file.metadata.get('general.architecture')?.value).toBe('llama');
  expect(file.tensors.some((t) => t.dtype === 'q8_0')).toBe(true);
});
