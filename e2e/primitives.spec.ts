/**
 * The React Aria primitives and the icons, used as a keyboard user would: Delete asks in an alert
 * dialog that names the model (Escape keeps it, the named confirm button removes it), the
 * heatmap's zoom is a slider that arrow keys step, an icon-only button names its action in a
 * tooltip on keyboard focus, and the navigation's icons leave each page's name as its word.
 */
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { clearOrigin, openPage } from './helpers.ts';
import { TOUR_TRACE } from './studio-tour.ts';

test.use({ actionTimeout: 30_000 });

/** Drops the zoo's code model on the Library's drop zone (real files) and waits until it is stored. */
async function storeZooCode(page: Page): Promise<string> {
  const dataTransfer = await page.evaluateHandle(async () => {
    const dt = new DataTransfer();
    for (const name of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) {
      const bytes = await (await fetch(`/zoo/code/${name}`)).arrayBuffer();
      dt.items.add(new File([bytes], name));
    }
    return dt;
  });
  await page.getByRole('region', { name: 'Drop a model folder here' }).dispatchEvent('drop', { dataTransfer });
  const stored = page.getByTestId('stored-model');
  await expect(stored).toHaveCount(1, { timeout: 120_000 });
  return (await stored.locator('strong').first().textContent()) ?? '';
}

test('Delete asks in a dialog that names the model; Escape keeps it, the named button deletes it', async ({ page }) => {
  await clearOrigin(page);
  const title = await storeZooCode(page);
  expect(title).not.toBe('');
  const stored = page.getByTestId('stored-model');
  const trigger = stored.getByRole('button', { name: `Delete ${title}`, exact: true });
  await trigger.focus();
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('alertdialog', { name: `Delete ${title}?` });
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText('cannot be undone');
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused(); // the safe choice first
  // Both themes: the open dialog has no serious or critical axe violation.
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    const axe = await new AxeBuilder({ page })
      .include('[role="alertdialog"]')
      .withTags(['wcag2a', 'wcag2aa'])
      .analyze();
    expect(axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id)).toEqual(
      [],
    );
  }
  // Tab stays inside the dialog.
  await page.keyboard.press('Tab');
  await expect(dialog.getByRole('button', { name: `Delete ${title}`, exact: true })).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
  await expect(trigger).toBeFocused(); // focus goes back where it was
  await expect(stored).toHaveCount(1);
  await page.reload();
  await expect(stored).toHaveCount(1); // nothing was deleted behind the dialog

  await stored.getByRole('button', { name: `Delete ${title}`, exact: true }).click();
  await page
    .getByRole('alertdialog')
    .getByRole('button', { name: `Delete ${title}`, exact: true })
    .click();
  await expect(stored).toHaveCount(0);
  await page.reload();
  await expect(page.getByTestId('stored-list')).toBeAttached();
  await expect(stored).toHaveCount(0);
});

test("the heatmap's cell width is a slider: arrow keys widen the columns", async ({ page }) => {
  await clearOrigin(page);
  await openPage(page, 'Routing');
  await page
    .getByRole('region', { name: 'Trace B' })
    .getByLabel('Open a trace file (JSON)')
    .setInputFiles({ name: 'trace.json', mimeType: 'application/json', buffer: Buffer.from(TOUR_TRACE) });
  const heatmap = page.getByTestId('heatmap'); // trace A is empty on a fresh origin: B is the only picture
  await expect(heatmap).toHaveCount(1);
  const grid = heatmap.getByRole('grid');
  const slider = heatmap.getByRole('slider', { name: 'Cell width (px)' });
  await expect(slider).toHaveValue('18');
  const width = () => grid.evaluate((el) => el.getBoundingClientRect().width);
  expect(await width()).toBe(44 + 40 * 18); // label column + 40 tokens
  await slider.focus();
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  await expect(slider).toHaveValue('22');
  await expect(heatmap.locator('.zoom-output')).toHaveText('22');
  expect(await width()).toBe(44 + 40 * 22);
  await page.keyboard.press('Home');
  await expect(slider).toHaveValue('6');
  expect(await width()).toBe(44 + 40 * 6);
});

test('an icon-only button names its action in a tooltip on keyboard focus; page names stay words beside icons', async ({
  page,
}) => {
  await clearOrigin(page);
  const nav = page.getByRole('navigation', { name: 'Pages' });
  for (const name of ['Library', 'Compose', 'Chat', 'Routing', 'Export']) {
    const button = nav.getByRole('button', { name, exact: true });
    await expect(button).toBeVisible();
    await expect(button.locator('svg[aria-hidden="true"]')).toHaveCount(1);
  }
  await openPage(page, 'Compose');
  await page.getByRole('button', { name: 'Start from the demo zoo' }).click();
  const prompt = page.getByRole('textbox', { name: 'Expert 0 positive prompt 1' });
  await prompt.focus();
  await page.keyboard.press('Tab');
  const remove = page.getByRole('button', { name: 'Remove Expert 0 positive prompt 1' });
  await expect(remove).toBeFocused();
  const tooltip = page.getByRole('tooltip');
  await expect(tooltip).toHaveText('Remove Expert 0 positive prompt 1');
  await page.keyboard.press('Escape');
  await expect(tooltip).toHaveCount(0);
  await expect(remove).toBeFocused();
  const before = await page.getByRole('textbox', { name: /^Expert 0 positive prompt/ }).count();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('textbox', { name: /^Expert 0 positive prompt/ })).toHaveCount(before - 1);
});
