/**
 * Chat's dynamic-routing control in real Chromium on a zoo MoE built in Compose: choosing an
 * Experts top-p hands the fixed count over to it (disabled, cleared), the answer is made with
 * it and says so, the Routing page's Route text applies it, and "off" gives the count back.
 */
import { expect, test } from '@playwright/test';
import { clearOrigin, openPage } from './helpers.ts';

test('Experts top-p routes the next answer dynamically and says so; off restores experts per token', async ({
  page,
}) => {
  await clearOrigin(page);
  await openPage(page, 'Compose');
  await page.getByLabel('Example').selectOption('moe-hidden.yml');
  await expect(page.getByTestId('compose-ok')).toContainText('Mixtral', { timeout: 120_000 });
  await page.getByRole('button', { name: 'Build MoE' }).click();
  await expect(page.getByTestId('engine-ready')).toContainText('4 experts', { timeout: 300_000 });

  const controls = page.getByTestId('routing-controls');
  const perToken = controls.getByLabel('Experts per token');
  const topP = controls.getByLabel('Experts top-p');
  await perToken.selectOption('3');
  await topP.selectOption('0.5');
  await expect(perToken).toBeDisabled();
  await expect(perToken).toHaveValue(''); // the fixed count is cleared, not silently kept beside top-p

  await page.getByLabel('Max tokens').fill('6');
  await page.getByLabel('Temperature').fill('0');
  await page.getByRole('textbox', { name: 'Message' }).fill('Once upon a time');
  await page.getByRole('button', { name: 'Send' }).click();
  const answer = page.getByTestId('msg-assistant').last();
  await expect(answer.getByTestId('answer-summary')).toBeVisible({ timeout: 120_000 });
  await expect(answer.getByTestId('answer-made-with')).toContainText('routing: experts top-p 0.5');
  await expect(page.getByRole('alert')).toHaveCount(0); // no ConfigError from planRouting

  await openPage(page, 'Routing');
  await expect(page.locator('[data-testid^="routing-overrides-"]').first()).toContainText('experts top-p 0.5');

  await openPage(page, 'Chat');
  await topP.selectOption('');
  await expect(perToken).toBeEnabled();
  await perToken.selectOption('1');
  await page.getByRole('textbox', { name: 'Message' }).fill('def add(a, b):');
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(page.getByTestId('msg-assistant').last().getByTestId('answer-made-with')).toContainText(
    'routing: top-1 experts',
    { timeout: 120_000 },
  );
});
