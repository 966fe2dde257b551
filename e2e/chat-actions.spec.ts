/**
 * Per-message actions in real Chromium on the zoo: copy puts the message on the clipboard;
 * editing your message or regenerating an answer drops everything after it; delete removes
 * one message; a conversation remembers its system prompt and its model, and offers to load
 * that model back when another one is loaded.
 */
import { expect, test, type Page } from '@playwright/test';
import { clearOrigin, openPage } from './helpers.ts';

test.use({ actionTimeout: 30_000 }); // a missing button fails in seconds, not at the test's timeout

async function chatWith(page: Page, zooId: string): Promise<void> {
  await openPage(page, 'Library');
  await page
    .getByTestId(`zoo-model-${zooId}`)
    .getByRole('button', { name: /^Chat with/ })
    .click();
  await expect(page.getByTestId('engine-ready')).toBeVisible({ timeout: 120_000 });
}

async function send(page: Page, text: string, answers: number): Promise<void> {
  await page.getByRole('textbox', { name: 'Message' }).fill(text);
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(page.getByTestId('msg-assistant').getByTestId('answer-summary')).toHaveCount(answers, {
    timeout: 120_000,
  });
}

test('copy, edit, regenerate and delete per message; conversations keep their model and system prompt', async ({
  page,
}) => {
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  await clearOrigin(page);
  await openPage(page, 'Chat');
  await page.getByLabel('Backend').selectOption('cpu');
  await chatWith(page, 'stories');
  await page.getByLabel('Max tokens').fill('4');
  await page.getByLabel('Temperature').fill('0');
  await page.getByLabel('System prompt').fill('Tell stories.');
  await send(page, 'Once upon a time', 1);
  await send(page, 'The cat', 2);
  const log = page.getByTestId('messages');
  const roles = () =>
    log.locator(':scope > [data-testid^="msg-"]').evaluateAll((els) => els.map((e) => e.dataset.testid));
  expect(await roles()).toEqual(['msg-user', 'msg-assistant', 'msg-user', 'msg-assistant']);

  // Keyboard: the answer is one tab stop; arrow keys walk its tokens and the detail panel follows.
  const tokensOf = page.getByTestId('msg-assistant').nth(0).getByTestId('assistant-tokens');
  await tokensOf.focus();
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  const second = tokensOf.locator('.tok').nth(1);
  await expect(second).toBeFocused();
  await expect(page.getByTestId('token-detail')).toContainText(`“${await second.textContent()}”`);

  // Copy: the answer's own text reaches the clipboard.
  const answer2 = page.getByTestId('msg-assistant').nth(1);
  const answerText = await answer2.getByTestId('assistant-tokens').textContent();
  await page.getByRole('button', { name: 'Copy answer 4' }).click();
  await expect(answer2.getByRole('status')).toHaveText('Copied.');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(answerText);

  // Edit your first message: it changes, and everything after it is replaced by one new answer.
  await page.getByRole('button', { name: 'Edit your message 1' }).click();
  await page.getByLabel('Edit your message 1').fill('The little dog');
  await page.getByRole('button', { name: 'Send edited message' }).click();
  await expect(page.getByTestId('msg-assistant').getByTestId('answer-summary')).toHaveCount(1, { timeout: 120_000 });
  expect(await roles()).toEqual(['msg-user', 'msg-assistant']);
  await expect(page.getByTestId('msg-user')).toHaveText(/The little dog/);

  // Regenerate the answer: still one answer after the message, made again.
  await page.getByRole('button', { name: 'Regenerate answer 2' }).click();
  await expect(page.getByRole('button', { name: 'Send' })).toBeEnabled({ timeout: 120_000 });
  await expect(page.getByTestId('msg-assistant').getByTestId('answer-summary')).toHaveCount(1);
  expect(await roles()).toEqual(['msg-user', 'msg-assistant']);

  // Delete removes just that message.
  await page.getByRole('button', { name: 'Delete answer 2' }).click();
  expect(await roles()).toEqual(['msg-user']);

  // A new conversation with another model; the first one keeps its system prompt and its model.
  await page.getByRole('button', { name: 'New conversation' }).click();
  await expect(page.getByLabel('System prompt')).toHaveValue('');
  await chatWith(page, 'code');
  await openPage(page, 'Chat');
  await send(page, 'def main', 1);
  const conversations = page.getByRole('complementary', { name: 'Conversations' });
  await conversations.getByRole('button', { name: /The little dog/ }).click();
  await expect(page.getByLabel('System prompt')).toHaveValue('Tell stories.');
  const note = page.getByTestId('conversation-model');
  await expect(note).toContainText('This conversation was with Zoo stories');
  await note.getByRole('button', { name: /^Load Zoo stories/ }).click();
  await expect(page.getByTestId('engine-ready')).toContainText('Zoo stories', { timeout: 120_000 });
  await expect(note).toHaveCount(0);
});
