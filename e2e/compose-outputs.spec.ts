/**
 * Every output architecture Compose offers either opens here or is marked export-only. Mixtral
 * is the studio flow's (studio-flow.spec.ts), DeepSeek MoE the export-only build's
 * (compose-export-only.spec.ts); Qwen3 MoE needs Qwen3 donors, which Compose names as the reason
 * when the zoo's are chosen. This spec takes the remaining one, Qwen MoE (a shared expert), from
 * the zoo through build → chat → Export: the HF folder zip, and a GGUF refused with its reason.
 */
import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { readZipEntries } from '../src/core/formats/zip.ts';
import { clearOrigin, openPage } from './helpers.ts';

test('a Qwen MoE from the zoo builds, chats and exports as an HF folder; its GGUF is refused with the reason', async ({
  page,
}) => {
  test.setTimeout(600_000);
  await clearOrigin(page);
  await page.goto('/#compose');
  await page.getByLabel('Example').selectOption('moe-hidden.yml');
  await expect(page.getByTestId('compose-ok')).toContainText('Mixtral', { timeout: 120_000 });
  const editor = page.getByTestId('yaml-editor');
  const yaml = await editor.inputValue();
  await editor.fill(`${yaml}architecture: qwen3\n`);
  await expect(page.getByTestId('compose-check')).toContainText('Qwen3 MoE only supports Qwen3 input models', {
    timeout: 120_000,
  });
  await editor.fill(
    `${yaml}architecture: qwen\nshared_experts:\n  - source_model: zoo/base\n    positive_prompts: ["Hello"]\n`,
  );
  await expect(page.getByTestId('compose-ok')).toContainText('Compatible: builds a Qwen MoE model', {
    timeout: 120_000,
  });
  await expect(page.getByTestId('compose-export-only')).toHaveCount(0);
  await page.getByLabel('Name', { exact: true }).fill('Qwen zoo');
  await page.getByRole('button', { name: 'Build MoE' }).click();
  await expect(page.getByTestId('engine-ready')).toContainText('4 experts', { timeout: 300_000 });
  await expect(page.getByTestId('engine-ready')).toContainText('qwen2_moe');
  await page.getByLabel('Max tokens').fill('6');
  await page.getByRole('textbox', { name: 'Message' }).fill('Once upon a time');
  await page.getByRole('button', { name: 'Send' }).click();
  const answer = page.getByTestId('msg-assistant').last();
  await expect(answer.getByTestId('answer-summary')).toContainText('tokens', { timeout: 120_000 });

  await openPage(page, 'Export');
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: /^HF folder of Qwen zoo.*\.zip/ }).click();
  const zip = readZipEntries(new Uint8Array(readFileSync((await (await download).path())!)));
  expect(JSON.parse(new TextDecoder().decode(zip.get('Qwen-zoo/config.json'))).model_type).toBe('qwen2_moe');
  expect(zip.has('Qwen-zoo/model.safetensors')).toBe(true);
  await page.getByRole('button', { name: /^GGUF q8_0 of Qwen zoo/ }).click();
  await expect(page.getByTestId('export-message')).toContainText(
    "GGUF q8_0 failed: ConfigError: gguf export: llama.cpp's qwen2moe never renormalizes the top-k expert weights",
    { timeout: 120_000 },
  );
});
