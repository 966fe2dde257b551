import { expect, test } from '@playwright/test';
import { clearOrigin } from './helpers.ts';

/**
 * Compose says what mergekit leaves silent: a key mergekit-moe ignores is named with its line and
 * a "did you mean"; an output the engine cannot open (DeepSeek MoE) is refused before building,
 * with the reason, and Build stays off.
 */
test('Compose names ignored keys and refuses an output the studio cannot open', async ({ page }) => {
  await clearOrigin(page);
  await page.goto('/#compose');
  await page.getByRole('button', { name: 'Start from the demo zoo' }).click();
  await expect(page.getByTestId('expert-3')).toBeVisible();
  const editor = page.getByTestId('yaml-editor');
  const yaml = await editor.inputValue();
  await expect(page.getByTestId('compose-ok')).toContainText('Mixtral', { timeout: 60_000 });
  await expect(page.getByRole('button', { name: 'Build MoE' })).toBeEnabled();

  const misspelt = `${yaml}experts_per_tokens: 1\n`;
  await editor.fill(misspelt);
  const line = misspelt.trimEnd().split('\n').length;
  await expect(page.getByTestId('compose-ok')).toContainText(
    `'experts_per_tokens' (line ${line}) is not a mergekit-moe key and is ignored, as mergekit ignores it; did you mean 'experts_per_token'?`,
    { timeout: 60_000 },
  );

  // the zoo experts with a shared expert and architecture: deepseek → mergekit's DeepSeek MoE
  const withoutArch = yaml.replace(/^architecture:.*\n/m, '');
  await editor.fill(`${withoutArch}architecture: deepseek\nshared_experts:\n  - source_model: zoo/math\n`);
  await expect(page.getByTestId('compose-export-only')).toContainText(
    'a DeepSeek MoE model (model_type deepseek) is what mergekit would write, but this studio cannot open it',
    { timeout: 60_000 },
  );
  await expect(page.getByRole('button', { name: 'Build MoE' })).toBeDisabled();
  for (const colorScheme of ['light', 'dark'] as const)
    for (const width of [1280, 420]) {
      await page.emulateMedia({ colorScheme });
      await page.setViewportSize({ width, height: 900 });
      await page.getByTestId('compose-export-only').scrollIntoViewIfNeeded();
      await page.screenshot({ path: `test-results/screenshots/compose-export-only-${width}-${colorScheme}.png` });
      expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1)).toBe(true);
    }
});
