/**
 * Chat in real Chromium: one run on WebGPU (SwiftShader here) chosen by the user — the header
 * says WebGPU runs and why — and stop/regenerate on the automatic backend.
 */
import { expect, test } from '@playwright/test';
import { clearOrigin, openPage, screenshot, chatWithZoo } from './helpers.ts';

test('chat on the WebGPU backend chosen by the user', async ({ page }) => {
  await clearOrigin(page);
  await openPage(page, 'Chat');
  await page.getByLabel('Backend').selectOption('webgpu');
  await chatWithZoo(page, 'stories');
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
  await chatWithZoo(page, 'base');
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

test('a message sent while the model loads is answered once it is ready, and the zoo files come from the cache next time', async ({
  page,
}) => {
  await clearOrigin(page);
  // The model's weights are held back until the message is sent, so the send surely meets a load in flight.
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const weightRequests: string[] = [];
  await page.route('**/zoo/stories/model.safetensors', async (route) => {
    weightRequests.push(route.request().url());
    await held;
    await route.continue();
  });
  await chatWithZoo(page, 'stories', { waitReady: false });
  await page.getByLabel('Max tokens').fill('4');
  await page.getByRole('textbox', { name: 'Message' }).fill('Once upon a time');
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(page.getByTestId('waiting-for-model')).toHaveText('The answer starts when the model has loaded…');
  await expect(page.getByTestId('msg-user').last()).toHaveText(/Once upon a time/);
  await expect(page.getByTestId('engine-ready')).toBeHidden();
  await screenshot(page, 'chat-waiting-for-model');
  release();
  await expect(page.getByTestId('msg-assistant').last().getByTestId('answer-summary')).toHaveText(/^\d+ tokens · /, {
    timeout: 120_000,
  });
  await expect(page.getByTestId('waiting-for-model')).toBeHidden();
  expect(weightRequests).toHaveLength(1);
  // Kept in Cache Storage under its sha256 from the zoo index: the next load reads no weights over HTTP.
  await expect
    .poll(() => page.evaluate(async () => (await (await caches.open('moe-studio-files-v1')).keys()).map((r) => r.url)))
    .toContainEqual(expect.stringMatching(/\/zoo\/stories\/model\.safetensors\?sha256=[0-9a-f]{64}$/));
  // The Library's Storage section says what is kept (read again on each visit), and frees it:
  // the next load fetches again.
  await openPage(page, 'Library');
  await expect(page.getByTestId('zoo-files')).toHaveText(
    /^Demo zoo files kept for a fast start: \d+ files?, [\d.]+ MB\.$/,
  );
  await screenshot(page, 'library-zoo-files');
  await page.reload(); // opens at the Library
  await chatWithZoo(page, 'stories');
  expect(weightRequests).toHaveLength(1);
  await openPage(page, 'Library');
  await page.getByRole('button', { name: 'Clear kept zoo files' }).click();
  await expect(page.getByTestId('zoo-files')).toHaveText(
    'No demo zoo files are kept: each zoo model is fetched when first chatted with.',
  );
  await expect(page.getByRole('button', { name: 'Clear kept zoo files' })).toBeDisabled();
  await page.reload();
  await chatWithZoo(page, 'stories');
  expect(weightRequests).toHaveLength(2);
});
