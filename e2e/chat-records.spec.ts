/**
 * What an answer remembers, in real Chromium on the zoo: the model and the sampling it was
 * made with and its routing interventions; a new conversation starts without the last one's
 * system prompt; the header's speed belongs to the backend that produced it; a tiny demo
 * model says that it babbles.
 */
import { expect, test } from '@playwright/test';
import { clearOrigin, openPage, chatWithZoo } from './helpers.ts';

test('answers record model, sampling and routing; new conversations start clean; speeds follow the backend', async ({
  page,
}) => {
  await clearOrigin(page);
  await openPage(page, 'Chat');
  await page.getByLabel('Backend').selectOption('cpu');
  await chatWithZoo(page, 'stories');
  await expect(page.getByTestId('tiny-model-note')).toContainText('tiny demo model');

  await page.getByLabel('System prompt').fill('You are a storyteller.');
  await page.getByLabel('Max tokens').fill('4');
  await page.getByLabel('Temperature').fill('0');
  await page.getByRole('textbox', { name: 'Message' }).fill('Once upon a time');
  await page.getByRole('button', { name: 'Send' }).click();
  const madeWith = page.getByTestId('msg-assistant').last().getByTestId('answer-made-with');
  await expect(madeWith).toContainText('Zoo', { timeout: 120_000 });
  await expect(madeWith).toContainText('greedy');
  await expect(page.getByTestId('backend')).toContainText('tok/s');

  // Switching the backend drops the old backend's speed from the header.
  await page.getByLabel('Backend').selectOption('wasm');
  await expect(page.getByTestId('backend')).toContainText('Backend: wasm');
  await expect(page.getByTestId('backend')).not.toContainText('tok/s');

  await page.getByRole('button', { name: 'New conversation' }).click();
  await expect(page.getByLabel('System prompt')).toHaveValue('');
});
