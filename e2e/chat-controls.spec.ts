import { expect, test, type Page } from '@playwright/test';
import { clearOrigin, chatWithZoo } from './helpers.ts';

/**
 * Chat's own controls in real Chromium with a zoo model: sampling inputs say what is wrong next
 * to the input and never change a value silently; the message list follows the newest message
 * unless the person scrolled up.
 */

async function openZooBase(page: Page): Promise<void> {
  await chatWithZoo(page, 'base');
}

test('sampling inputs reject bad values with a message next to them; an emptied Top-p never becomes 0', async ({
  page,
}) => {
  await clearOrigin(page);
  await openZooBase(page);
  const temperature = page.getByLabel('Temperature');
  const send = page.getByRole('button', { name: 'Send' });
  await page.getByRole('textbox', { name: 'Message' }).fill('Once upon a time');
  await expect(send).toBeEnabled();

  await temperature.fill('-5');
  await expect(page.getByTestId('sampling-temperature-error')).toHaveText(
    'Temperature -5 is not a number from 0 to 2. Answers use 0.7 until then.',
  );
  await expect(temperature).toHaveAttribute('aria-invalid', 'true');
  await expect(temperature).toHaveValue('-5'); // what was typed stays: nothing is changed behind the person's back
  await expect(send).toBeDisabled();
  await expect(page.getByTestId('send-blocked')).toHaveText('Fix Temperature in Sampling to send.');

  const topP = page.getByLabel('Top-p');
  await topP.fill('');
  await expect(page.getByTestId('sampling-topP-error')).toContainText('Top-p is empty');
  await expect(topP).toHaveValue('');
  await expect(page.getByTestId('send-blocked')).toHaveText('Fix Temperature, Top-p in Sampling to send.');
  await page.getByLabel('Top-k').fill('0');
  await expect(page.getByTestId('sampling-topK-error')).toContainText('Top-k 0 is not a whole number from 1 to 1000');
  await page.getByLabel('Max tokens').fill('2000');
  await expect(page.getByTestId('sampling-maxTokens-error')).toContainText('from 1 to 1024');

  // Fixed values are used: greedy, 3 tokens.
  await temperature.fill('0');
  await topP.fill('0.9');
  await page.getByLabel('Top-k').fill('40');
  await page.getByLabel('Max tokens').fill('3');
  await expect(page.locator('.field-error')).toHaveCount(0);
  await expect(temperature).not.toHaveAttribute('aria-invalid');
  await send.click();
  await expect(page.getByTestId('msg-assistant').last().getByTestId('answer-summary')).toHaveText(
    /^[1-3] tokens · .* stopped by (maxTokens|eos)$/,
    { timeout: 60_000 },
  );
  await expect(page.getByRole('alert')).toHaveCount(0); // no ConfigError from the sampler
});

/** Seeds the saved conversations (IndexedDB 'moe-studio-chats', as chat.ts stores them) with a long one. */
async function seedLongConversation(page: Page, turns: number): Promise<void> {
  await page.evaluate(async (n) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const q = indexedDB.open('moe-studio-chats');
      q.onupgradeneeded = () => q.result.createObjectStore('conversations');
      q.onsuccess = () => resolve(q.result);
      q.onerror = () => reject(q.error);
    });
    const conversation = {
      schemaVersion: 1,
      id: 'c-long',
      title: 'A long one',
      system: '',
      updatedAt: Date.now(),
      turns: Array.from({ length: n }, (_, i) => ({
        role: i % 2 ? 'assistant' : 'user',
        content: `Turn ${i}: ${'a line of text that fills the list. '.repeat(3)}`,
      })),
    };
    await new Promise((resolve, reject) => {
      const tx = db.transaction('conversations', 'readwrite');
      tx.objectStore('conversations').put([conversation], 'conversations');
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
    });
    db.close();
  }, turns);
}

/** How far the message list is from its end, in px (0 = the newest message is in view). */
const distanceFromEnd = (page: Page) =>
  page.getByTestId('messages').evaluate((el) => Math.round(el.scrollHeight - el.scrollTop - el.clientHeight));

test('the message list follows the newest message unless the person scrolled up; "Jump to latest" returns', async ({
  page,
}) => {
  await clearOrigin(page);
  await seedLongConversation(page, 40);
  await page.reload();
  await openZooBase(page);
  const messages = page.getByTestId('messages');
  await expect(messages.getByText('Turn 39:')).toBeVisible();
  expect(await messages.evaluate((el) => el.scrollHeight > el.clientHeight * 2)).toBe(true);
  expect(await distanceFromEnd(page)).toBeLessThan(24); // opens at the newest message

  await page.getByLabel('Temperature').fill('0');
  await page.getByLabel('Max tokens').fill('16');
  await page.getByRole('textbox', { name: 'Message' }).fill('Once upon a time');
  await page.getByRole('button', { name: 'Send' }).click();
  // 40 turns outgrow the zoo's 512-token context: the notice asks before any turn is dropped.
  await page
    .getByTestId('context-notice')
    .getByRole('button', { name: 'Drop the oldest turns and go on' })
    .click({ timeout: 60_000 });
  await expect(page.getByTestId('msg-assistant').last().getByTestId('answer-summary')).toBeVisible({
    timeout: 60_000,
  });
  await expect(page.getByTestId('msg-assistant').last().getByTestId('answer-summary')).toContainText(
    'oldest messages left out to fit the context',
  );
  expect(await distanceFromEnd(page)).toBeLessThan(24); // followed the answer
  await expect(page.getByRole('button', { name: 'Jump to latest' })).toHaveCount(0);

  // Scrolled up: a new answer (Regenerate) does not pull the list down.
  await messages.hover();
  await page.mouse.wheel(0, -100_000);
  await expect.poll(() => messages.evaluate((el) => el.scrollTop)).toBe(0);
  const jump = page.getByRole('button', { name: 'Jump to latest' });
  await expect(jump).toBeVisible();
  await page.getByRole('button', { name: 'Regenerate', exact: true }).click();
  await expect(page.getByTestId('msg-assistant').last().getByTestId('answer-summary')).toBeVisible({
    timeout: 60_000,
  });
  await expect(page.getByRole('button', { name: 'Send' })).toBeEnabled(); // the answer has finished
  expect(await messages.evaluate((el) => el.scrollTop)).toBe(0);
  await expect(messages.getByText('Turn 0:')).toBeInViewport();

  await jump.click();
  expect(await distanceFromEnd(page)).toBeLessThan(24);
  await expect(jump).toHaveCount(0);
});
