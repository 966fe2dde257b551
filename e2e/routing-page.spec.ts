/**
 * The Routing page on arrival and in comparison, in real Chromium on a zoo MoE built in
 * Compose: it opens on the conversation's last answer (made with an expert banned at one layer,
 * Chat's per-layer control), and two traces get computed differences per layer.
 */
import { expect, test } from '@playwright/test';
import { clearOrigin, openPage } from './helpers.ts';

test('the Routing page opens on the last answer and compares A and B per layer', async ({ page }) => {
  await clearOrigin(page);
  await openPage(page, 'Compose');
  await page.getByLabel('Example').selectOption('moe-hidden.yml');
  await expect(page.getByTestId('compose-ok')).toContainText('Mixtral', { timeout: 120_000 });
  await page.getByRole('button', { name: 'Build MoE' }).click();
  await expect(page.getByTestId('engine-ready')).toContainText('4 experts', { timeout: 300_000 });
  await page.getByLabel('Max tokens').fill('6');
  // Ban the stories expert at layer 1 only: a layer that is not the model's is refused with a message.
  await page.getByLabel('Expert 0 routing (zoo/stories)').selectOption('ban');
  const atLayers = page.getByLabel('Force and ban at layers');
  await atLayers.fill('1, 9');
  await expect(page.locator('#routing-layers-note')).toHaveText(
    "Layers: '9' is not a layer of this model (0 to 3); nothing changed.",
  );
  await atLayers.fill('1');
  await page.getByRole('textbox', { name: 'Message' }).fill('Once upon a time');
  await page.getByRole('button', { name: 'Send' }).click();
  const answer = page.getByTestId('msg-assistant').last();
  await expect(answer.getByTestId('answer-summary')).toBeVisible({ timeout: 120_000 });
  await expect(answer.getByTestId('answer-made-with')).toContainText('routing: ban E0 zoo/stories at layers 1');

  await openPage(page, 'Routing');
  const a = page.getByRole('region', { name: 'Trace last answer' });
  await expect(a).toBeVisible(); // no button pressed: the last answer is there on arrival
  // The ban held at layer 1 (no token's experts include E0 there)
  await expect(a.getByTestId('layer-overview').getByRole('columnheader').nth(1)).toHaveText('E0 zoo/stories');
  const layer1 = a.getByTestId('layer-overview').getByRole('row').nth(2); // header, layer 0, layer 1
  await expect(layer1.getByRole('cell').first()).toHaveText('0.0%');
  for (const width of [1280, 420]) {
    await page.setViewportSize({ width, height: 900 });
    await a.getByTestId('layer-overview').scrollIntoViewIfNeeded();
    await page.screenshot({ path: `test-results/screenshots/routing-layer-donors-${width}.png` });
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1)).toBe(true);
  }
  await page.setViewportSize({ width: 1280, height: 800 });

  const b = page.getByRole('region', { name: 'Trace B' });
  await b.getByLabel('Text B').fill('def add(a, b): return a + b');
  await b.getByRole('button', { name: 'Route text' }).click();
  const compare = page.getByTestId('routing-compare');
  await expect(compare).toBeVisible({ timeout: 60_000 });
  await expect(compare.getByRole('row')).toHaveCount(1 + 4); // header + the zoo MoE's 4 layers
  await expect(compare).toContainText('different texts'); // A and B are different texts: loads only
  await expect(compare).toContainText('%');

  // Routing by domain on the zoo held-out texts, with Chat's ban (E0 at layer 1) still on:
  // the stories texts cannot go first to their own expert at layer 1.
  const domains = page.getByTestId('routing-domains');
  await expect(domains).toContainText("Chat's routing controls apply");
  // by keyboard, as a person without a mouse would: focus the button, press Enter
  await domains.getByRole('button', { name: 'Route the zoo held-out texts' }).focus();
  await page.keyboard.press('Enter');
  const table = domains.getByTestId('routing-domains-table');
  await expect(table).toBeVisible({ timeout: 120_000 });
  await expect(table.getByRole('row')).toHaveCount(1 + 4); // header + the four zoo domains
  const stories = table.getByTestId('routing-domain-0');
  await expect(stories.getByRole('rowheader')).toHaveText('E0 zoo/stories');
  const header = await table.getByRole('columnheader').allTextContents();
  expect(header.slice(0, 4)).toEqual(['texts of', 'tokens', 'own share (mean)', 'layer 0']);
  expect(header.slice(-4)).toEqual([
    'top-1 → E0 zoo/stories',
    'top-1 → E1 zoo/code',
    'top-1 → E2 zoo/math',
    'top-1 → E3 zoo/chat',
  ]);
  const storiesCells = await stories.getByRole('cell').allTextContents();
  expect(Number(storiesCells[0]!.replace(/,/g, ''))).toBeGreaterThan(500); // the whole held-out text, in pieces
  expect(storiesCells[3]).toBe('0.0%'); // layer 1: E0 banned
  // each row's top-1 shares add up to 100% (to rounding)
  for (let e = 0; e < 4; e++) {
    const cells = await table.getByTestId(`routing-domain-${e}`).getByRole('cell').allTextContents();
    const sum = cells.slice(-4).reduce((s, c) => s + Number.parseFloat(c), 0);
    expect(Math.abs(sum - 100)).toBeLessThan(0.3);
  }
  for (const [width, colorScheme] of [
    [1280, 'light'],
    [420, 'light'],
    [420, 'dark'],
  ] as const) {
    await page.emulateMedia({ colorScheme });
    await page.setViewportSize({ width, height: 900 });
    await table.scrollIntoViewIfNeeded();
    await page.screenshot({ path: `test-results/screenshots/routing-domains-${width}-${colorScheme}.png` });
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1)).toBe(true);
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1280, height: 800 });
  // A texts file with a bad line: the message names the file, the line and the field, and the table goes.
  await domains.getByLabel('Route a texts file (.jsonl)').setInputFiles({
    name: 'domains.jsonl',
    mimeType: 'text/plain',
    buffer: Buffer.from('{"expert": 0, "text": "Once upon a time"}\n{"expert": 7, "text": "def f(): pass"}\n'),
  });
  await expect(domains.getByRole('alert')).toContainText("domains.jsonl:2 field 'expert' is 7, outside [0, 4)");
  await expect(table).toHaveCount(0);
});
