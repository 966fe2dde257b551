/**
 * One run on WebGPU (SwiftShader here): the user picks the WebGPU backend, loads a zoo model
 * and gets a streamed answer; the header says WebGPU runs and why; the answer's tokens carry
 * routing when the model is a MoE (here the dense base: tokens are plain).
 */
import { expect, test } from '@playwright/test';
import { clearOrigin, openPage, screenshot } from './helpers.ts';

test('chat on the WebGPU backend chosen by the user', async ({ page }) => {
  await clearOrigin(page);
  await openPage(page, 'Chat');
  await page.getByLabel('Backend').selectOption('webgpu');
  await openPage(page, 'Library');
  await page.getByTestId('zoo-model-stories').getByRole('button', { name: /^Chat with/ }).click();
  await expect(page.getByTestId('engine-ready')).toBeVisible({ timeout: 120_000 });
  await expect(page.getByTestId('backend')).toContainText('Backend: webgpu (chosen by you)');
  await page.getByLabel('Max tokens').fill('12');
  await page.getByRole('textbox', { name: 'Message' }).fill('Once upon a time');
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(page.getByTestId('msg-assistant').last().getByTestId('assistant-tokens')).not.toBeEmpty({ timeout: 180_000 });
  await expect(page.getByTestId('msg-assistant').last()).toContainText('webgpu');
  await screenshot(page, 'webgpu-chat');
});
