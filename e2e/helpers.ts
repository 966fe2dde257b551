/** Shared e2e helpers: a clean origin (IndexedDB + localStorage), screenshots kept as artifacts. */
import type { Page } from '@playwright/test';

export async function clearOrigin(page: Page, query = ''): Promise<void> {
  await page.goto(`/${query}`);
  await page.evaluate(async () => {
    localStorage.clear();
    for (const db of await indexedDB.databases()) if (db.name) await new Promise((r) => { const q = indexedDB.deleteDatabase(db.name!); q.onsuccess = q.onerror = q.onblocked = r; });
  });
  await page.goto(`/${query}`);
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `test-results/screenshots/${name}.png`, fullPage: true });
}

export async function openPage(page: Page, label: 'Library' | 'Compose' | 'Chat' | 'Routing' | 'Export'): Promise<void> {
  await page.getByRole('navigation', { name: 'Pages' }).getByRole('button', { name: label, exact: true }).click();
}
