/**
 * Screenshots of every page at 1280, 420 and 360 px wide, light and dark, into docs/screenshots/
 * (<page>-<width>-<scheme>.png), for the README. Runs the production build (`npx vite build`
 * first) through `vite preview` in Debian's Chromium, walking the same tour as the axe spec
 * (e2e/studio-tour.ts): zoo only, no network.
 *
 *   npx vite build && npx tsx scripts/screenshots.ts     # SCREENSHOT_PORT moves the server (default 4430)
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { chromium } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../chromium.config.ts';
import { blockExternalNetwork } from '../e2e/helpers.ts';
import { studioTour } from '../e2e/studio-tour.ts';

const PORT = Number(process.env.SCREENSHOT_PORT ?? 4430);
const OUT = 'docs/screenshots';
const WIDTHS = [1280, 420, 360] as const;
const SCHEMES = ['light', 'dark'] as const;
/** Pages are cut at this height: the top of each page is what a reader needs to see, and it keeps the files small. */
const MAX_HEIGHT = 1600;

async function waitForServer(url: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(
    `screenshots: the preview server at ${url} did not answer within ${ms / 1000} s (did you run vite build?)`,
  );
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  // Its own process group: npx starts vite as a child, and killing npx alone left vite serving the port.
  const server = spawn('npx', ['vite', 'preview', '--port', String(PORT), '--strictPort'], {
    stdio: 'ignore',
    detached: true,
  });
  try {
    const base = `http://localhost:${PORT}`;
    await waitForServer(base, 60_000);
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    for (const colorScheme of SCHEMES)
      for (const width of WIDTHS) {
        const context = await browser.newContext({ viewport: { width, height: 900 }, colorScheme, baseURL: base });
        const page = await context.newPage();
        await blockExternalNetwork(page);
        await page.goto('/');
        await studioTour(page, async (name) => {
          const path = `${OUT}/${name}-${width}-${colorScheme}.png`;
          const height = await page.evaluate(() => document.documentElement.scrollHeight);
          await page.screenshot({
            path,
            fullPage: true,
            clip: { x: 0, y: 0, width, height: Math.min(height, MAX_HEIGHT) },
          });
          console.log(path);
        });
        await context.close();
      }
    await browser.close();
  } finally {
    if (server.pid !== undefined) process.kill(-server.pid, 'SIGTERM');
  }
}

await main();
