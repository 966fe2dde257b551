import { expect, test, type Page } from '@playwright/test';
import { clearOrigin, chatWithZoo } from './helpers.ts';

/**
 * Chat through the library API in real Chromium with a zoo model: stop strings from the
 * Sampling settings end the answer before them; a conversation that outgrows the model's
 * context (the zoo's 512 tokens) stops with a notice and a choice — stop here, or drop the
 * oldest turns and go on — looked at in both schemes at 1280 and 420 px.
 */

async function openZooBase(page: Page): Promise<void> {
  await chatWithZoo(page, 'base');
}

async function lookAt(page: Page, name: string, target: string): Promise<void> {
  for (const colorScheme of ['light', 'dark'] as const)
    for (const width of [1280, 420]) {
      await page.emulateMedia({ colorScheme });
      await page.setViewportSize({ width, height: 900 });
      await page.getByTestId(target).scrollIntoViewIfNeeded();
      await page.screenshot({ path: `test-results/screenshots/${name}-${width}-${colorScheme}.png` });
      expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1)).toBe(true);
    }
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1280, height: 900 });
}

test('stop strings in the settings end the answer before the first one', async ({ page }) => {
  await clearOrigin(page);
  await openZooBase(page);
  await page.getByLabel('Temperature').fill('0');
  await page.getByLabel('Max tokens').fill('24');
  await page.getByRole('textbox', { name: 'Message' }).fill('Once upon a time');
  await page.getByRole('button', { name: 'Send' }).click();
  const answer = page.getByTestId('msg-assistant').last();
  await expect(answer.getByTestId('answer-summary')).toBeVisible({ timeout: 60_000 });
  const full = (await answer.getByTestId('assistant-tokens').textContent()) ?? '';
  // A word from the middle of the greedy answer: the same answer again ends right before it.
  const word = full.split(/\s+/).filter((w) => /^[a-z]{3,}$/i.test(w))[2];
  expect(word, `a third plain word in ${JSON.stringify(full)}`).toBeTruthy();
  const before = full.slice(0, full.indexOf(word!));

  const stop = page.getByLabel('Stop strings');
  await stop.fill('x'.repeat(300));
  await expect(page.getByTestId('stop-strings-error')).toHaveText(/300 characters, at most 256/);
  await expect(page.getByTestId('send-blocked')).toHaveText('Fix Stop strings in Sampling to send.');
  await lookAt(page, 'chat-stop-strings-error', 'stop-strings-error');
  await expect(page.getByRole('button', { name: 'Regenerate', exact: true })).toBeDisabled();
  await stop.fill(`${word}\nnever-written`);
  await expect(page.getByTestId('stop-strings-error')).toHaveCount(0);
  await page.getByRole('button', { name: 'Regenerate', exact: true }).click();
  await expect(answer.getByTestId('answer-summary')).toContainText('stopped by eos', { timeout: 60_000 });
  await expect(answer.getByTestId('assistant-tokens')).toHaveText(before);
  await expect(answer.getByTestId('answer-made-with')).toContainText(`stop "${word}" "never-written"`);
});

test('a conversation past the context stops with a notice: stop here, or drop the oldest turns and go on', async ({
  page,
}) => {
  await clearOrigin(page);
  await openZooBase(page);
  await page.getByLabel('Temperature').fill('0');
  await page.getByLabel('Max tokens').fill('4');
  const message = page.getByRole('textbox', { name: 'Message' });
  // About 300 tokens each: one fits the 512-token context, two do not.
  const long = 'Once upon a time there was a little girl who liked to play. '.repeat(22);
  await message.fill(long);
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(page.getByTestId('msg-assistant')).toHaveCount(1, { timeout: 60_000 });
  await expect(page.getByTestId('context-notice')).toHaveCount(0);
  await message.fill(long);
  await page.getByRole('button', { name: 'Send' }).click();

  const notice = page.getByTestId('context-notice');
  await expect(notice).toContainText("The conversation no longer fits the model's context (512 tokens)", {
    timeout: 60_000,
  });
  await expect(page.getByTestId('msg-user')).toHaveCount(2);
  await expect(page.getByTestId('msg-assistant')).toHaveCount(1); // nothing was dropped or answered silently
  await lookAt(page, 'chat-context-full', 'context-notice');

  await notice.getByRole('button', { name: 'Stop here' }).click();
  await expect(notice).toHaveCount(0);
  await expect(page.getByTestId('msg-assistant')).toHaveCount(1);

  await page.getByRole('button', { name: 'Regenerate', exact: true }).click(); // asks again
  await notice.getByRole('button', { name: 'Drop the oldest turns and go on' }).click({ timeout: 60_000 });
  await expect(page.getByTestId('msg-assistant')).toHaveCount(2, { timeout: 60_000 });
  await expect(page.getByTestId('msg-assistant').last().getByTestId('answer-summary')).toContainText(
    '2 oldest messages left out to fit the context',
  );
  await expect(notice).toHaveCount(0);
  await lookAt(page, 'chat-context-dropped', 'messages');
});
