/**
 * Shared e2e helpers: a clean origin (IndexedDB + localStorage) with the network fenced off
 * (only localhost / 127.0.0.1 answer; everything else is aborted and counted), screenshots
 * kept as artifacts.
 */
import { expect, type Page } from '@playwright/test';

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const blocked = new WeakMap<Page, string[]>();

/** Aborts every request (page and its workers) to a non-local host; idempotent per page. */
export async function blockExternalNetwork(page: Page): Promise<void> {
  if (blocked.has(page)) return;
  const aborted: string[] = [];
  blocked.set(page, aborted);
  await page.context().route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (/^(https?|wss?):$/.test(url.protocol) && !LOCAL_HOSTS.has(url.hostname)) {
      aborted.push(url.href);
      return route.abort('blockedbyclient');
    }
    return route.continue();
  });
}

/** Requests to non-local hosts aborted so far (assert `[]` at the end of a flow). */
export function externalRequests(page: Page): string[] {
  return [...(blocked.get(page) ?? [])];
}

export async function clearOrigin(page: Page, query = ''): Promise<void> {
  await blockExternalNetwork(page);
  await page.goto(`/${query}`);
  await page.evaluate(async () => {
    localStorage.clear();
    for (const name of await caches.keys()) await caches.delete(name); // zoo files kept by content
    for (const db of await indexedDB.databases())
      if (db.name)
        await new Promise((r) => {
          const q = indexedDB.deleteDatabase(db.name!);
          q.onsuccess = q.onerror = q.onblocked = r;
        });
  });
  await page.goto(`/${query}`);
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `test-results/screenshots/${name}.png`, fullPage: true });
}

export async function openPage(
  page: Page,
  label: 'Library' | 'Compose' | 'Chat' | 'Routing' | 'Export',
): Promise<void> {
  await page.getByRole('navigation', { name: 'Pages' }).getByRole('button', { name: label, exact: true }).click();
}

/** Opens the Library and presses "Chat with" on the zoo model at `path`; waits until the engine is ready unless told not to. */
export async function chatWithZoo(page: Page, path: string, { waitReady = true } = {}): Promise<void> {
  await openPage(page, 'Library');
  await page
    .getByTestId(`zoo-model-${path}`)
    .getByRole('button', { name: /^Chat with/ })
    .click();
  if (waitReady) await expect(page.getByTestId('engine-ready')).toBeVisible({ timeout: 120_000 });
}
