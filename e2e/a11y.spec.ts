/**
 * axe-core on every page, in real Chromium, in the light and the dark colour scheme: no
 * serious or critical violation (WCAG 2.1 A/AA rules). Each page is checked with content in
 * it, not only empty (e2e/studio-tour.ts): the zoo listed, a Compose example with its routing
 * preview, a chat with an answer, a routing trace, the Export page.
 */
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { clearOrigin } from './helpers.ts';
import { studioTour } from './studio-tour.ts';

test.use({ actionTimeout: 30_000 });

const SEVERE = new Set(['serious', 'critical']);

/** Serious and critical axe violations of the page as it is now, one line each (rule, help, where). */
async function severeViolations(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  return result.violations
    .filter((v) => SEVERE.has(v.impact ?? ''))
    .flatMap((v) =>
      v.nodes.map((n) => `${v.impact} ${v.id}: ${v.help} — ${n.target.join(' ')} ${n.failureSummary ?? ''}`),
    );
}

for (const colorScheme of ['light', 'dark'] as const)
  test(`every page passes axe (no serious or critical violation) in the ${colorScheme} scheme`, async ({ page }) => {
    await page.emulateMedia({ colorScheme });
    await clearOrigin(page);
    const found: Record<string, string[]> = {};
    await studioTour(page, async (name) => {
      found[name] = await severeViolations(page);
    });
    expect(found).toEqual({ library: [], compose: [], chat: [], routing: [], export: [] });
    // The compact navigation below 720 px (one row of tabs) passes too, on the page the tour ends on.
    await page.setViewportSize({ width: 360, height: 800 });
    expect(await severeViolations(page)).toEqual([]);

    // The check can fail: a button with no name, added on purpose, is reported as critical.
    await page.evaluate(() => document.querySelector('main')?.append(document.createElement('button')));
    expect((await severeViolations(page)).join('\n')).toContain('critical button-name');
  });
