import { expect, test } from '@playwright/test';
import { clearOrigin, openPage } from '../e2e/helpers.ts';

for (const width of [1280, 420]) {
  test(`compose build progress at ${width}`, async ({ page }) => {
    test.setTimeout(300_000);
    await page.setViewportSize({ width, height: 900 });
    await clearOrigin(page, '?chunkBytes=1024');
    await openPage(page, 'Compose');
    await page.getByLabel('Example').selectOption('moe-hidden.yml');
    await expect(page.getByTestId('compose-ok')).toContainText('Mixtral', { timeout: 120_000 });
    await page.getByRole('button', { name: 'Build MoE' }).click();
    const bar = page.getByRole('progressbar', { name: /Merging into the library: tensors/ });
    await expect(bar).toBeVisible({ timeout: 120_000 });
    await bar.scrollIntoViewIfNeeded();
    await page.screenshot({ path: `/tmp/shot-compose-${width}.png` });
    await page.getByRole('button', { name: 'Cancel the build' }).click();
  });
}
