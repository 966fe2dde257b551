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
  await page.getByRole('button', { name: /^HF folder of .*\.zip/ }).click();
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
  // The file the worker streamed tensor by tensor (saveStream: a Blob download here, no picker): a whole GGUF our reader opens.
  const bytes = new Uint8Array(readFileSync((await (await gguf).path())!));
  const file = await readGguf(bytesSource(bytes, 'download.gguf'));
  expect(file.metadata.get('general.architecture')?.value).toBe('llama');
  expect(file.tensors.some((t) => t.dtype === 'q8_0')).toBe(true);
});

/**
 * "Into a folder you pick": the picker's dialog cannot be clicked in headless Chromium, so the
 * init script answers showDirectoryPicker with the origin-private file system's root — a real
 * FileSystemDirectoryHandle, written by the real File System Access code. Only the dialog is replaced.
 */
test('the HF folder is written file by file into a picked folder, the same bytes as the zip, never over an existing one', async ({
  page,
}) => {
  await page.addInitScript(() => {
    Object.defineProperty(window, 'showDirectoryPicker', {
      configurable: true,
      value: () => navigator.storage.getDirectory(),
    });
  });
  await clearOrigin(page);
  await page.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    for await (const name of (root as unknown as { keys(): AsyncIterable<string> }).keys())
      await root.removeEntry(name, { recursive: true });
  });
  await openPage(page, 'Export');
  await page.getByLabel('Model to export').selectOption('zoo/math');
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: /^HF folder of .*\.zip/ }).click();
  const zip = readZipEntries(new Uint8Array(readFileSync((await (await download).path())!)));
  await page.getByRole('button', { name: /^HF folder of .* into a folder you pick$/ }).click();
  await expect(page.getByTestId('export-message')).toContainText(
    /HF folder saved: \d+ files in [\w.-]+\/ \(\d+(\.\d)? MB\)/,
  );
  // What the folder holds, read back through the same handles: names, sizes and sha256 per file.
  const written = await page.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    const out: Record<string, string> = {};
    const walk = async (dir: FileSystemDirectoryHandle, prefix: string) => {
      for await (const [name, handle] of (
        dir as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }
      ).entries()) {
        if (handle.kind === 'directory') await walk(handle as FileSystemDirectoryHandle, `${prefix}${name}/`);
        else {
          const bytes = await (await (handle as FileSystemFileHandle).getFile()).arrayBuffer();
          const sha = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
          out[`${prefix}${name}`] = [...sha].map((b) => b.toString(16).padStart(2, '0')).join('');
        }
      }
    };
    await walk(root, '');
    return out;
  });
  const { createHash } = await import('node:crypto');
  const fromZip = Object.fromEntries(
    [...zip].map(([name, bytes]) => [name, createHash('sha256').update(bytes).digest('hex')] as const),
  );
  expect(Object.keys(written).sort()).toEqual(Object.keys(fromZip).sort());
  expect(written).toEqual(fromZip);
  // A second save finds the folder there: refused, and the folder keeps its files.
  await page.getByRole('button', { name: /^HF folder of .* into a folder you pick$/ }).click();
  await expect(page.getByTestId('export-message')).toContainText(/is already in .*nothing was overwritten/);
  const after = await page.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    const names: string[] = [];
    for await (const name of (root as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(name);
    return names;
  });
  expect(after).toEqual([Object.keys(fromZip)[0]!.split('/')[0]]);
});
