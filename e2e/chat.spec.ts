/**
 * Chat in real Chromium: one run on WebGPU (SwiftShader here) chosen by the user — the header
 * says WebGPU runs and why — and stop/regenerate on the automatic backend.
 */
import { expect, test } from '@playwright/test';
import { clearOrigin, openPage, screenshot } from './helpers.ts';

test('chat on the WebGPU backend chosen by the user', async ({ page }) => {
  await clearOrigin(page);
  await openPage(page, 'Chat');
  await page.getByLabel('Backend').selectOption('webgpu');
  await openPage(page, 'Library');
  await page
    .getByTestId('zoo-model-stories')
    .getByRole('button', { name: /^Chat with/ })
    .click();
  await expect(page.getByTestId('engine-ready')).toBeVisible({ timeout: 120_000 });
  await expect(page.getByTestId('backend')).toContainText('Backend: webgpu (chosen by you)');
  await page.getByLabel('Max tokens').fill('12');
  await page.getByRole('textbox', { name: 'Message' }).fill('Once upon a time');
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(page.getByTestId('msg-assistant').last().getByTestId('assistant-tokens')).not.toBeEmpty({
    timeout: 180_000,
  });
  // The summary names the backend that produced this answer: a silent fallback to WASM/CPU fails here.
  await expect(page.getByTestId('msg-assistant').last().getByTestId('answer-summary')).toHaveText(
    /^\d+ tokens · webgpu · /,
  );
  await expect(page.getByTestId('backend')).toContainText('Backend: webgpu (chosen by you)');
  await screenshot(page, 'webgpu-chat');
});

test('stop ends a long answer early and regenerate answers again', async ({ page }) => {
  await clearOrigin(page);
  // The CPU reference is the slowest backend: the answer is still running when Stop is pressed.
  await openPage(page, 'Chat');
  await page.getByLabel('Backend').selectOption('cpu');
  await openPage(page, 'Library');
  await page
    .getByTestId('zoo-model-base')
    .getByRole('button', { name: /^Chat with/ })
    .click();
  await expect(page.getByTestId('engine-ready')).toBeVisible({ timeout: 120_000 });
  await page.getByLabel('Max tokens').fill('1000');
  // Greedy, so the answer is the zoo base's known long one (84 tokens before <|end|>, see
  // `moe-studio generate public/zoo/base --chat --temperature 0`): a sampled answer can end
  // by eos within a few tokens, before Stop is pressed.
  await page.getByLabel('Temperature').fill('0');
  await page.getByRole('textbox', { name: 'Message' }).fill('Once upon a time');
  await page.getByRole('textbox', { name: 'Message' }).press('Enter');
  await expect
    .poll(() => page.getByTestId('live-tokens').locator('.tok').count(), { timeout: 60_000, intervals: [50] })
    .toBeGreaterThan(0);
  await page.getByRole('button', { name: 'Stop' }).click();
  await expect(page.getByTestId('msg-assistant').last().getByTestId('answer-summary')).toContainText(
    'stopped by abort',
    { timeout: 30_000 },
  );
  await expect(page.getByTestId('msg-assistant').last().getByTestId('answer-summary')).toContainText('cpu');
  await page.getByLabel('Max tokens').fill('5');
  await page.getByRole('button', { name: 'Regenerate', exact: true }).click();
  await expect(page.getByTestId('msg-assistant').last().getByTestId('answer-summary')).toHaveText(
    /^[1-5] tokens · .* stopped by (maxTokens|eos) · \d+ of \d+ prompt tokens reused from the last turn$/,
    { timeout: 60_000 },
  );
  await expect(page.getByTestId('msg-assistant')).toHaveCount(1);
  // Regenerate forks right before the answer: every prompt token but the last is reused.
  const summary = await page.getByTestId('msg-assistant').last().getByTestId('answer-summary').textContent();
  const [, reused, prompt] = /(\d+) of (\d+) prompt tokens reused/.exec(summary ?? '') ?? [];
  expect(Number(reused)).toBe(Number(prompt) - 1);
});
