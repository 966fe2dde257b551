/**
 * The routing picture in real Chromium: a 3,000-token trace (the studio's own trace JSON,
 * generated here) renders with a bounded number of DOM columns, scrolls to its end, and is
 * readable by keyboard (roving focus, a detail panel); a bad trace file names its field. On a
 * zoo MoE's Compose preview: legend with donor names and what colour/intensity mean, layer
 * numbers and token text on the axes, and the CSV download's content.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { clearOrigin, openPage, screenshot } from './helpers.ts';

const LAYERS = 4;
const EXPERTS = 4;

/** A seeded synthetic trace in the studio's trace JSON (schemaVersion 1): top-2 of 4 experts at 4 layers. */
function traceJson(tokens: number): string {
  let x = 12345;
  const rand = () => {
    x = (x * 1664525 + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
  return JSON.stringify({
    schemaVersion: 1,
    tokens: Array.from({ length: tokens }, (_, t) => ({
      piece: `t${t}`,
      routing: {
        layers: Array.from({ length: LAYERS }, () => {
          const probs = Array.from({ length: EXPERTS }, () => rand());
          const sum = probs.reduce((a, b) => a + b, 0);
          const p = probs.map((v) => v / sum);
          const order = p.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]);
          const w = order[0]![0] + order[1]![0];
          return {
            expertIds: [order[0]![1], order[1]![1]],
            expertWeights: [order[0]![0] / w, order[1]![0] / w],
            moeProbs: p,
          };
        }),
      },
    })),
  });
}

test('a 3,000-token trace renders a bounded window, scrolls, and reads by keyboard', async ({ page }) => {
  await clearOrigin(page);
  await openPage(page, 'Routing');
  const a = page.getByRole('region', { name: 'Trace A' });
  await a.getByLabel('Open a trace file (JSON)').setInputFiles({
    name: 'long-trace.json',
    mimeType: 'application/json',
    buffer: Buffer.from(traceJson(3000)),
  });
  const slot = page.getByRole('region', { name: 'Trace long-trace.json' });
  const heatmap = slot.getByTestId('heatmap');
  await expect(heatmap.locator('figcaption')).toContainText('4 layers × 3,000 tokens');
  const grid = heatmap.getByRole('grid');
  await expect(grid).toHaveAttribute('aria-colcount', '3001');
  // Only the visible window is in the DOM: far fewer token columns than tokens.
  const columns = heatmap.getByTestId('heatmap-token');
  const shown = await columns.count();
  console.log(`token columns in the DOM for 3000 tokens: ${shown}`);
  expect(shown).toBeGreaterThan(10);
  expect(shown).toBeLessThan(200);
  expect(await heatmap.locator('td[data-token]').count()).toBe(shown * LAYERS);
  await expect(grid.getByRole('rowheader')).toHaveText(['L0', 'L1', 'L2', 'L3', 'agree']);
  await expect(columns.first()).toHaveText('t0');

  // Keyboard: Tab reaches the grid's one tab stop; arrows move; the detail panel follows.
  const first = heatmap.locator('td[data-token="0"][data-layer="0"]');
  await expect(first).toHaveAttribute('tabindex', '0');
  await first.focus();
  for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowDown');
  const focused = page.locator(':focus');
  await expect(focused).toHaveAttribute('data-token', '3');
  await expect(focused).toHaveAttribute('data-layer', '1');
  await expect(focused).toHaveAttribute('aria-label', /token 3 “t3”, layer 1: E\d \d+%/);
  const detail = heatmap.getByTestId('heatmap-detail');
  await expect(detail).toContainText('Token 3 t3');
  await expect(detail.getByRole('row')).toHaveCount(LAYERS);
  await expect(detail.locator('tr[aria-current]')).toContainText('L1');
  // The picture's colour for that cell is its top-1 expert's (read from the file), at an opacity.
  const trace = JSON.parse(traceJson(3000));
  const top1 = trace.tokens[3].routing.layers[1].expertIds[0];
  await expect(detail.locator('tr[aria-current]')).toContainText(`E${top1}`);

  // End jumps to the last token: it scrolls into view, and the DOM still holds only a window.
  await page.keyboard.press('End');
  await expect(page.locator(':focus')).toHaveAttribute('data-token', '2999');
  await expect(detail).toContainText('Token 2999 t2999');
  await expect(heatmap.getByTestId('heatmap-token').last()).toHaveText('t2999');
  expect(await heatmap.getByTestId('heatmap-token').count()).toBeLessThan(200);
  await expect(heatmap.getByTestId('heatmap-token').filter({ hasText: /^t0$/ })).toHaveCount(0);
  await screenshot(page, 'routing-3000-tokens');

  // A damaged trace file is refused with its field named, and nothing else changes.
  await page
    .getByRole('region', { name: 'Trace B' })
    .getByLabel('Open a trace file (JSON)')
    .setInputFiles({
      name: 'bad.json',
      mimeType: 'application/json',
      buffer: Buffer.from(JSON.stringify({ schemaVersion: 1, tokens: [{ piece: 3 }] })),
    });
  await expect(page.getByRole('region', { name: 'Trace B' }).getByRole('alert')).toContainText(
    'bad.json: FormatError: trace: tokens[0].piece is 3, not a string',
  );
});

test('the Compose preview names donors in its legend, labels both axes, and downloads its CSV', async ({ page }) => {
  await clearOrigin(page);
  await openPage(page, 'Compose');
  await page.getByLabel('Example').selectOption('moe-hidden.yml');
  await expect(page.getByTestId('compose-ok')).toContainText('Mixtral', { timeout: 120_000 });
  await page.getByLabel('Test text').fill('Once upon a time. def main(): return 12 + 7');
  await page.getByRole('button', { name: 'Preview routing' }).click();
  const heatmap = page.getByTestId('heatmap');
  await expect(heatmap).toBeVisible({ timeout: 180_000 });

  const legend = heatmap.getByTestId('heatmap-legend');
  for (const donor of ['zoo/stories', 'zoo/code', 'zoo/math', 'zoo/chat']) await expect(legend).toContainText(donor);
  // A top-2 MoE: cells are split by default, and the legend says what the bands mean.
  await expect(legend).toContainText('Top-2 split: the upper band is the expert ranked first');
  await expect(legend).toContainText("each band's height is that expert's weight");
  await heatmap.getByRole('radio', { name: 'Top-1 intensity' }).click();
  await expect(legend).toContainText('Colour: the expert ranked first');
  await expect(legend).toContainText('Intensity: its weight');
  await heatmap.getByRole('radio', { name: 'Top-2 split' }).click();
  await expect(heatmap.getByRole('grid').getByRole('rowheader')).toHaveText(['L0', 'L1', 'L2', 'L3', 'agree']);
  // Token text along the axis, whitespace made visible ("·" for a space).
  const tokens = await heatmap.getByTestId('heatmap-token').allTextContents();
  expect(tokens.join('')).toContain('Once');
  expect(tokens.some((t) => t.includes('·'))).toBe(true);
  await screenshot(page, 'compose-preview-picture');

  const download = page.waitForEvent('download');
  await heatmap.getByRole('button', { name: /^Download CSV/ }).click();
  const file = await download;
  expect(file.suggestedFilename()).toBe('routing-Preview.csv');
  const path = join(test.info().outputDir, 'preview.csv');
  await file.saveAs(path);
  const rows = readFileSync(path, 'utf8').trim().split('\n');
  expect(rows[0]).toBe('token,piece,layer,rank,expert,weight,donor');
  expect(rows.length - 1).toBe(tokens.length * LAYERS * 2); // every token × layer × top-2 (no newline in this text)
  const donors = new Set(rows.slice(1).map((r) => r.slice(r.lastIndexOf(',') + 1)));
  expect([...donors].every((d) => /^"zoo\/(stories|code|math|chat)"$/.test(d))).toBe(true);
  await expect(heatmap.getByTestId('heatmap-saved')).toContainText('Saved routing-Preview.csv');

  // PNG and SVG are real pictures: a PNG signature, an SVG naming the layers and donors.
  const png = page.waitForEvent('download');
  await heatmap.getByRole('button', { name: /^Download PNG/ }).click();
  const pngPath = join(test.info().outputDir, 'preview.png');
  await (await png).saveAs(pngPath);
  expect([...readFileSync(pngPath).subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
  const svg = page.waitForEvent('download');
  await heatmap.getByRole('button', { name: /^Download SVG/ }).click();
  const svgPath = join(test.info().outputDir, 'preview.svg');
  await (await svg).saveAs(svgPath);
  const svgText = readFileSync(svgPath, 'utf8');
  expect(svgText).toContain('>L3</text>');
  expect(svgText).toContain('E1 zoo/code');
  expect(svgText).toContain('lower band = top-2 expert'); // the file is drawn as the page shows it: split cells
});

test('a cell shows the second expert too: two bands as tall as their weights, said in the legend and the cell name', async ({
  page,
}) => {
  await clearOrigin(page);
  await openPage(page, 'Routing');
  // token 0: E1 75% over E3 25%; token 1: E2 alone at 60% (top-p left the rest); 2 layers
  const layers = (t: number) =>
    t === 0
      ? { expertIds: [1, 3], expertWeights: [0.75, 0.25], moeProbs: [0.1, 0.6, 0.1, 0.2] }
      : { expertIds: [2], expertWeights: [0.6], moeProbs: [0.1, 0.1, 0.6, 0.2] };
  const trace = {
    schemaVersion: 1,
    tokens: [0, 1].map((t) => ({ piece: `w${t}`, routing: { layers: [layers(t), layers(t)] } })),
  };
  await page
    .getByRole('region', { name: 'Trace A' })
    .getByLabel('Open a trace file (JSON)')
    .setInputFiles({ name: 'split.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(trace)) });
  const heatmap = page.getByTestId('heatmap');
  await expect(heatmap.getByTestId('cell-note')).toContainText('Top-2 split');
  await expect(heatmap.getByRole('radio', { name: 'Top-2 split' })).toBeChecked();
  const cell = (t: number) => heatmap.locator(`td[data-token="${t}"][data-layer="0"]`);
  const image = (t: number) => cell(t).evaluate((el) => getComputedStyle(el).backgroundImage);
  // E1 is sky blue (86, 180, 233), E3 yellow (240, 228, 66), E2 bluish green (0, 158, 115): solid bands.
  expect(await image(0)).toMatch(
    /rgb\(86, 180, 233\) 0%, rgb\(86, 180, 233\) 75%, rgb\(240, 228, 66\) 75%, rgb\(240, 228, 66\) 100%/,
  );
  expect(await image(1)).toMatch(/rgb\(0, 158, 115\) 0%, rgb\(0, 158, 115\) 60%, rgba\(0, 0, 0, 0\) 60%/);
  await expect(cell(0)).toHaveAttribute('aria-label', 'token 0 “w0”, layer 0: E1 75%, then E3 25%');

  // Top-1 intensity: one colour, its opacity the weight; the legend and the cell name say so.
  await heatmap.getByRole('radio', { name: 'Top-1 intensity' }).click();
  await expect(heatmap.getByTestId('cell-note')).toContainText('Intensity: its weight');
  expect(await image(0)).toMatch(/^linear-gradient\(rgba\(86, 180, 233, 0\.8\) 0%, rgba\(86, 180, 233, 0\.8\) 100%\)$/);
  await expect(cell(0)).toHaveAttribute('aria-label', 'token 0 “w0”, layer 0: E1 75%');
  await screenshot(page, 'routing-split-cells');
});
