/**
 * Compose's "Build for export only" in real Chromium with the real merge worker: a DeepSeek MoE
 * (which the engine cannot open) from the zoo is merged straight into one zip. Its entries are
 * listed and its tensors checked against the CLI's merge of the same YAML (names, shapes, dtypes,
 * sha256 of every tensor's bytes); nothing goes into the library. Then the same build streamed to
 * a file handle (the save-picker path) is cancelled mid-merge and leaves no file behind.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, type Page, test } from '@playwright/test';
import { openSafetensors } from '../src/core/formats/safetensors.ts';
import { readZipEntries } from '../src/core/formats/zip.ts';
import { bytesSource } from '../src/core/io/byte-source.ts';
import { clearOrigin, openPage } from './helpers.ts';

const REPO = join(import.meta.dirname, '..');

/** The zoo's hidden-gate example made a DeepSeek MoE: a shared expert and architecture: deepseek. */
async function composeDeepseek(page: Page, title: string): Promise<string> {
  await page.goto('/#compose');
  await page.getByLabel('Example').selectOption('moe-hidden.yml');
  await expect(page.getByTestId('compose-ok')).toContainText('Mixtral', { timeout: 120_000 });
  const editor = page.getByTestId('yaml-editor');
  const yaml = `${await editor.inputValue()}architecture: deepseek\nshared_experts:\n  - source_model: zoo/math\n`;
  await editor.fill(yaml);
  await expect(page.getByTestId('compose-export-only')).toContainText('DeepSeek MoE', { timeout: 120_000 });
  await page.getByLabel('Name', { exact: true }).fill(title);
  return yaml;
}

async function tensorDigests(bytes: Uint8Array, name: string) {
  const file = await openSafetensors(bytesSource(bytes, name));
  const out = new Map<string, string>();
  for (const t of file.tensors) {
    const { data } = await file.readTensor(t.name);
    out.set(t.name, `${t.dtype} [${t.shape.join(', ')}] ${createHash('sha256').update(data).digest('hex')}`);
  }
  return out;
}

test('Build for export only writes the DeepSeek MoE as one zip equal to the CLI merge, and not into the library', async ({
  page,
}) => {
  test.setTimeout(600_000);
  await clearOrigin(page);
  const yaml = await composeDeepseek(page, 'DS export');
  await expect(page.getByRole('button', { name: 'Build MoE' })).toBeDisabled();
  const download = page.waitForEvent('download', { timeout: 300_000 });
  await page.getByRole('button', { name: 'Build for export only (.zip)' }).click();
  const file = await download;
  expect(file.suggestedFilename()).toBe('DS-export.zip');
  await expect(page.getByTestId('build-status')).toContainText(
    /Saved DS-export\.zip \(\d+(\.\d)? MB\), downloaded: .*not added to the library/,
    { timeout: 300_000 },
  );
  const zip = readZipEntries(new Uint8Array(readFileSync((await file.path())!)));
  expect([...zip.keys()].sort()).toEqual(
    [
      'README.md',
      'config.json',
      'generation_config.json',
      'mergekit_moe_config.yml',
      'model.safetensors',
      'special_tokens_map.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ].map((f) => `DS-export/${f}`),
  );
  for (const colorScheme of ['light', 'dark'] as const)
    for (const width of [1280, 420]) {
      await page.emulateMedia({ colorScheme });
      await page.setViewportSize({ width, height: 900 });
      await page.getByTestId('build-status').scrollIntoViewIfNeeded();
      await page.screenshot({ path: `test-results/screenshots/compose-export-built-${width}-${colorScheme}.png` });
      expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1)).toBe(true);
    }

  // The CLI's merge of the same YAML (zoo/<name> resolves to public/zoo/<name>).
  const dir = mkdtempSync(join(tmpdir(), 'export-only-'));
  try {
    writeFileSync(join(dir, 'config.yml'), yaml);
    execFileSync(
      process.execPath,
      ['bin/moe-studio.mjs', 'merge', join(dir, 'config.yml'), join(dir, 'out'), '--models-dir', 'public'],
      {
        cwd: REPO,
        stdio: 'pipe',
      },
    );
    const cli = (f: string) => new Uint8Array(readFileSync(join(dir, 'out', f)));
    const text = (b: Uint8Array | undefined) => new TextDecoder().decode(b);
    expect(JSON.parse(text(zip.get('DS-export/config.json')))).toEqual(JSON.parse(text(cli('config.json'))));
    expect(JSON.parse(text(zip.get('DS-export/config.json'))).model_type).toBe('deepseek');
    expect(text(zip.get('DS-export/tokenizer.json'))).toBe(text(cli('tokenizer.json')));
    expect(text(zip.get('DS-export/mergekit_moe_config.yml'))).toBe(yaml);
    const tab = await tensorDigests(zip.get('DS-export/model.safetensors')!, 'zip');
    const reference = await tensorDigests(cli('model.safetensors'), 'cli');
    expect([...tab.keys()]).toEqual([...reference.keys()]);
    expect(tab.size).toBeGreaterThan(20);
    for (const [name, digest] of reference) expect(tab.get(name), name).toBe(digest);
    expect([...tab.keys()].some((n) => n.includes('.mlp.shared_experts.'))).toBe(true);
    expect([...tab.keys()].some((n) => n.endsWith('.mlp.gate.weight'))).toBe(true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // Nothing went into the library.
  await page.setViewportSize({ width: 1280, height: 900 });
  await openPage(page, 'Library');
  await expect(page.getByTestId('zoo-list').getByRole('listitem')).toHaveCount(5);
  await expect(page.getByText('DS export')).toHaveCount(0);
});

/** Names in the origin's private file system (where the stand-in save picker puts its files). */
function privateFiles(page: Page): Promise<string[]> {
  return page.evaluate(async () => {
    const out: string[] = [];
    const root = (await navigator.storage.getDirectory()) as FileSystemDirectoryHandle & {
      keys(): AsyncIterable<string>;
    };
    for await (const name of root.keys()) out.push(name);
    return out;
  });
}

test('a cancelled export-only build streamed to a picked file leaves no file', async ({ page }) => {
  test.setTimeout(600_000);
  // The save dialog cannot be driven headless: this stands in for it with a real file handle in
  // the origin's private file system, whose writable passes the first three chunks to disk at
  // once and each later one after 2 s, as a slow disk would; the rest of the path (streaming,
  // back-pressure, abort, clean-up) is the app's.
  await page.addInitScript(() => {
    const w = window as Window & { showSaveFilePicker?: unknown; chunksWritten?: number };
    w.chunksWritten = 0;
    w.showSaveFilePicker = async ({ suggestedName }: { suggestedName: string }) => {
      const root = await navigator.storage.getDirectory();
      const handle = await root.getFileHandle(suggestedName, { create: true });
      const createWritable = handle.createWritable.bind(handle);
      return Object.assign(handle, {
        createWritable: async () => {
          const disk = await createWritable();
          const writer = disk.getWriter();
          return new WritableStream<Uint8Array>({
            async write(chunk) {
              await writer.write(chunk);
              w.chunksWritten! += 1;
              if (w.chunksWritten! >= 3) await new Promise((r) => setTimeout(r, 2000)); // the slow disk
            },
            close: () => writer.close(),
            abort: (reason) => writer.abort(reason),
          });
        },
      });
    };
  });
  await clearOrigin(page);
  await composeDeepseek(page, 'DS cancel');
  await page.getByRole('button', { name: 'Build for export only (.zip)' }).click();
  await expect
    .poll(() => page.evaluate(() => (window as Window & { chunksWritten?: number }).chunksWritten))
    .toBeGreaterThanOrEqual(3);
  await expect(page.getByRole('progressbar')).toBeVisible();
  expect(await privateFiles(page)).toContain('DS-cancel.zip'); // the picker's file (and its .crswap) while the merge streams
  await page.getByRole('button', { name: 'Cancel the build' }).click();
  await expect(page.getByTestId('build-status')).toHaveText('Cancelled; no zip was saved.', { timeout: 60_000 });
  expect(await privateFiles(page)).toEqual([]);
  await openPage(page, 'Library');
  await expect(page.getByText('DS cancel')).toHaveCount(0);
});
