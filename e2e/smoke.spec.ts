import { expect, test } from '@playwright/test';

/**
 * The header before any model loads: what the page itself sees from navigator.gpu decides what
 * the UI must say — an adapter ⇒ "WebGPU adapter: <vendor architecture>", none ⇒ the CPU
 * fallback with a reason. CI's Chromium always has SwiftShader, so there an adapter is required.
 */
test('the built page reports the WebGPU adapter the browser offers, or the CPU fallback with a reason', async ({
  page,
}) => {
  await page.goto('/');
  const adapter = await page.evaluate(async () => {
    const gpu = (
      navigator as Navigator & {
        gpu?: { requestAdapter(): Promise<{ info: { vendor: string; architecture: string } } | null> };
      }
    ).gpu;
    const a = gpu ? await gpu.requestAdapter().catch(() => null) : null;
    return a ? { vendor: a.info.vendor, architecture: a.info.architecture } : null;
  });
  console.log('navigator.gpu adapter:', JSON.stringify(adapter));
  if (process.env.CI) expect(adapter, 'CI Chromium runs with SwiftShader: a WebGPU adapter is expected').not.toBeNull();
  const status = page.getByTestId('backend');
  if (adapter) {
    const label = `${adapter.vendor || 'unknown vendor'} ${adapter.architecture || ''}`.trim();
    await expect(status).toHaveText(
      new RegExp(`^WebGPU adapter: ${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}( \\(fallback\\))?$`),
    );
  } else {
    await expect(status).toHaveText(/^CPU fallback: .+/);
  }
  console.log('backend:', await status.textContent());
  await expect(page.getByTestId('test-hook-banner')).toHaveCount(0); // no test hook without its URL parameter
});
