import { expect as baseExpect, test, type Page } from '@playwright/test';
import { clearOrigin } from './helpers.ts';
import { TOUR_TRACE } from './studio-tour.ts';

/**
 * Every page survives a cold load at its own hash (a bookmark) and a reload there: the page
 * heading and the page navigation show, and the page throws nothing (no `pageerror`, no console
 * error). A page that does throw while rendering shows its error boundary, and "Reset this page"
 * brings it back.
 */
const PAGES = [
  { id: 'library', label: 'Library' },
  { id: 'compose', label: 'Compose' },
  { id: 'chat', label: 'Chat' },
  { id: 'routing', label: 'Routing' },
  { id: 'export', label: 'Export' },
] as const;

const expect = baseExpect.configure({ timeout: 15_000 }); // the shell shows in well under a second

/** Uncaught exceptions and console errors of the page, collected from the start. */
function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
  });
  return errors;
}

async function expectPageShown(page: Page, label: string): Promise<void> {
  const nav = page.getByRole('navigation', { name: 'Pages' });
  await expect(nav).toBeVisible();
  await expect(nav.getByRole('button', { name: label, exact: true })).toHaveAttribute('aria-current', 'page');
  await expect(page.getByRole('heading', { level: 2, name: label, exact: true })).toBeVisible();
  await expect(page.getByTestId(`page-${label.toLowerCase()}`)).toBeVisible();
  await expect(page.getByTestId('page-error')).toHaveCount(0);
}

for (const { id, label } of PAGES) {
  test(`#${id} renders on a cold deep link and after a reload, with no page error`, async ({ page }) => {
    await clearOrigin(page);
    await page.goto('about:blank'); // so the next goto loads the app afresh, not a same-document hash change
    const errors = collectErrors(page);
    await page.goto(`/#${id}`);
    await expectPageShown(page, label);
    await page.reload();
    await expectPageShown(page, label);
    await page.waitForTimeout(500); // late errors (effects after the zoo arrives) count too
    expect(errors).toEqual([]);
  });
}

test('changing the hash in the address (back/forward, a pasted bookmark) opens that page', async ({ page }) => {
  await clearOrigin(page);
  const errors = collectErrors(page);
  for (const { id, label } of PAGES) {
    await page.goto(`/#${id}`); // same document: only a hashchange
    await expectPageShown(page, label);
  }
  await page.goBack();
  await expectPageShown(page, 'Routing');
  expect(errors).toEqual([]);
});

test('an unknown hash opens the Library', async ({ page }) => {
  await clearOrigin(page);
  const errors = collectErrors(page);
  await page.goto('/#no-such-page');
  await expectPageShown(page, 'Library');
  expect(errors).toEqual([]);
});

test('after navigation focus is on the page heading; "Skip to content" leads there without changing the page', async ({
  page,
}) => {
  await clearOrigin(page);
  await page.goto('about:blank');
  await page.goto('/#chat');
  await page.keyboard.press('Tab');
  const skip = page.getByRole('button', { name: 'Skip to content' });
  await expect(skip).toBeFocused();
  await expect(skip).toBeInViewport();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { level: 2, name: 'Chat', exact: true })).toBeFocused();
  expect(new URL(page.url()).hash).toBe('#chat');
  await page.getByRole('navigation', { name: 'Pages' }).getByRole('button', { name: 'Compose', exact: true }).click();
  await expect(page.getByRole('heading', { level: 2, name: 'Compose', exact: true })).toBeFocused();
});

test('a page that throws while rendering shows its error boundary; "Reset this page" brings it back', async ({
  page,
}) => {
  await clearOrigin(page);
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto('/#compose');
  await page.getByRole('button', { name: 'Start from the demo zoo' }).click();
  await page.getByRole('textbox', { name: 'Name' }).fill('Crashed draft');
  await page.goto('about:blank');
  await page.goto('/?crashPage=compose#compose'); // TEST HOOK: Compose throws until it is reset
  await expect(page.getByTestId('test-hook-banner')).toContainText('page "compose" throws');
  const boundary = page.getByTestId('page-error');
  await expect(boundary).toContainText('Compose stopped working');
  await expect(boundary).toContainText('test hook ?crashPage=compose');
  // The shell survives: heading and navigation show, another page opens, and Compose still shows the boundary.
  await expect(page.getByRole('heading', { level: 2, name: 'Compose', exact: true })).toBeVisible();
  await page.getByRole('navigation', { name: 'Pages' }).getByRole('button', { name: 'Library', exact: true }).click();
  await expectPageShown(page, 'Library');
  await page.getByRole('navigation', { name: 'Pages' }).getByRole('button', { name: 'Compose', exact: true }).click();
  await expect(boundary).toBeVisible();
  await boundary.getByRole('button', { name: 'Reset this page' }).click();
  await expectPageShown(page, 'Compose');
  // The reset cleared the draft that was there before the crash, in the store and in storage.
  await expect(page.getByTestId('yaml-editor')).toHaveValue(/experts: \[\]/);
  await expect(page.getByRole('textbox', { name: 'Name' })).toHaveValue('My MoE');
  await page.goto('/#compose');
  await page.reload();
  await expect(page.getByTestId('yaml-editor')).toHaveValue(/experts: \[\]/);
  expect(pageErrors).toEqual([]); // caught by the boundary, not uncaught
});

/**
 * What runs past the right (or left) edge of a `width` px window: the page itself (scrollWidth)
 * and every visible control or text block, except inside a container that scrolls sideways on
 * purpose (the heatmap, the YAML editor) — a control cut off by an `overflow: hidden` parent
 * would not widen the page, so it is looked for element by element.
 */
async function sidewaysOverflow(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    const { scrollWidth, clientWidth } = document.documentElement;
    if (scrollWidth > clientWidth) out.push(`the page is ${scrollWidth} px wide in a ${clientWidth} px window`);
    const scrolls = (el: Element) => /auto|scroll/.test(getComputedStyle(el).overflowX);
    for (const el of document.querySelectorAll(
      'button, input, select, textarea, label, p, h2, h3, li, table, figure',
    )) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0 || el.closest('.skip-link')) continue;
      let parent = el.parentElement;
      while (parent && !scrolls(parent)) parent = parent.parentElement;
      if (parent && parent !== document.documentElement && parent !== document.body) continue;
      if (r.right > clientWidth + 1 || r.left < -1) {
        const name = (el.getAttribute('aria-label') ?? el.textContent ?? '').trim().slice(0, 40);
        out.push(`${el.tagName.toLowerCase()} "${name}" spans ${Math.round(r.left)}…${Math.round(r.right)} px`);
      }
    }
    return out;
  });
}

for (const width of [420, 360])
  test(`at ${width} px wide nothing runs past the edge on any page (Compose with the zoo experts, Routing with a trace)`, async ({
    page,
  }) => {
    await clearOrigin(page);
    await page.setViewportSize({ width, height: 900 });
    for (const { id, label } of PAGES) {
      await page.goto(`/#${id}`);
      await expectPageShown(page, label);
      if (id === 'compose') {
        await page.getByRole('button', { name: 'Start from the demo zoo' }).click();
        await expect(page.getByTestId('expert-0')).toBeVisible();
      }
      if (id === 'routing') {
        await page
          .getByRole('region', { name: 'Trace B' })
          .getByLabel('Open a trace file (JSON)')
          .setInputFiles({ name: 'trace.json', mimeType: 'application/json', buffer: Buffer.from(TOUR_TRACE) });
        await expect(page.getByTestId('heatmap-legend')).toBeVisible();
      }
      expect(await sidewaysOverflow(page), `#${id} at ${width} px`).toEqual([]);
    }
    // The check can fail: a button wider than the window is reported.
    await page.evaluate(() => {
      const b = document.createElement('button');
      b.textContent = 'too wide';
      b.style.minWidth = '2000px';
      document.querySelector('main')?.append(b);
    });
    expect((await sidewaysOverflow(page)).join('\n')).toContain('button "too wide"');
  });

test('Compose keeps its draft (YAML, name, layout) across a reload', async ({ page }) => {
  await clearOrigin(page);
  const errors = collectErrors(page);
  await page.goto('/#compose');
  await page.getByRole('button', { name: 'Start from the demo zoo' }).click();
  await expect(page.getByTestId('expert-3')).toBeVisible();
  const editor = page.getByTestId('yaml-editor');
  await editor.fill(`${await editor.inputValue()}# a comment only the YAML holds\n`);
  await page.getByRole('textbox', { name: 'Name' }).fill('Kept MoE');
  await page.getByLabel('Layout').selectOption('fused');
  const yaml = await editor.inputValue();
  await page.reload();
  await expectPageShown(page, 'Compose');
  await expect(editor).toHaveValue(yaml);
  await expect(page.getByRole('textbox', { name: 'Name' })).toHaveValue('Kept MoE');
  await expect(page.getByLabel('Layout')).toHaveValue('fused');
  await expect(page.getByTestId('expert-3')).toBeVisible(); // the form is parsed from the kept YAML
  await expect(page.getByTestId('compose-draft-note')).toHaveCount(0);
  expect(errors).toEqual([]);
});

test('a saved draft this version cannot read is not opened, is said so, and stays stored until the draft is edited', async ({
  page,
}) => {
  await clearOrigin(page);
  const future = JSON.stringify({ schemaVersion: 99, yaml: 'base_model: future', title: 'Future', layout: 'x' });
  await page.evaluate((v) => localStorage.setItem('moe-studio-compose-draft', v), future);
  await page.goto('/#compose');
  await page.reload();
  await expectPageShown(page, 'Compose');
  await expect(page.getByTestId('compose-draft-note')).toContainText('schema version 99 (this app reads 1)');
  await expect(page.getByTestId('yaml-editor')).toHaveValue(/base_model: ""/);
  expect(await page.evaluate(() => localStorage.getItem('moe-studio-compose-draft'))).toBe(future);
  await page.getByRole('textbox', { name: 'Name' }).fill('Mine now');
  await expect(page.getByTestId('compose-draft-note')).toHaveCount(0);
  const saved = await page.evaluate(() => JSON.parse(localStorage.getItem('moe-studio-compose-draft') ?? 'null'));
  expect(saved).toMatchObject({ schemaVersion: 1, title: 'Mine now', layout: 'classic' });
});

test('from 360 px to a wide screen the page navigation is one row, every tab whole and at least 44 px tall', async ({
  page,
}) => {
  await clearOrigin(page);
  for (const width of [360, 420, 719, 721, 1280]) {
    await page.setViewportSize({ width, height: 800 });
    const boxes = await page
      .getByRole('navigation', { name: 'Pages' })
      .getByRole('button')
      .evaluateAll((buttons) =>
        buttons.map((b) => {
          const r = b.getBoundingClientRect();
          return { top: r.top, left: r.left, right: r.right, height: r.height, clipped: b.scrollWidth > b.clientWidth };
        }),
      );
    expect(boxes).toHaveLength(5);
    for (const box of boxes) {
      expect(box.top, `${width} px: one row`).toBe(boxes[0]!.top);
      expect(box.clipped, `${width} px: the word fits its tab`).toBe(false);
      expect(box.right, `${width} px: inside the window`).toBeLessThanOrEqual(width);
      if (width <= 720) expect(box.height, `${width} px: a touch target`).toBeGreaterThanOrEqual(44);
    }
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await page.screenshot({
      path: `test-results/screenshots/nav-${width}.png`,
      clip: { x: 0, y: 0, width, height: 200 },
    });
  }
});
