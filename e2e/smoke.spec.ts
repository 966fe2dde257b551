import { expect, test } from '@playwright/test';

test('the built page reports a WebGPU adapter or the CPU fallback', async ({ page }) => {
  await page.goto('/');
  const status = page.getByTestId('backend');
  await expect(status).toHaveText(/WebGPU adapter: .+|CPU fallback: .+/);
  console.log('backend:', await status.textContent());
});
