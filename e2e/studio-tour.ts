/**
 * Every page of the studio with content in it, one step per page: the zoo listed, a Compose
 * example with its routing preview, a chat with an answer, a routing trace, the Export page.
 * The axe spec checks each step; scripts/screenshots.ts photographs each. Runs on the built app
 * with the zoo only (no network); the Chat step loads the zoo stories model on the CPU backend.
 */
import { expect, type Page } from '@playwright/test';
import { openPage, chatWithZoo } from './helpers.ts';

export type TourPage = 'library' | 'compose' | 'chat' | 'routing' | 'export';

/** A small routing trace in the studio's trace JSON: 40 tokens, top-2 of 4 experts at 4 layers. */
export const TOUR_TRACE = JSON.stringify({
  schemaVersion: 1,
  tokens: Array.from({ length: 40 }, (_, t) => ({
    piece: t % 3 ? ` w${t}` : `\n${t}`,
    routing: {
      layers: Array.from({ length: 4 }, (_, l) => ({
        expertIds: [(t + l) % 4, (t + l + 1) % 4],
        expertWeights: [0.6 + (t % 4) / 10, 0.4 - (t % 4) / 10],
        moeProbs: [0.4, 0.3, 0.2, 0.1],
      })),
    },
  })),
});

/** Walks the pages in order, calling `visit` on each once it shows its content. Starts on a clean origin's Library. */
export async function studioTour(page: Page, visit: (name: TourPage) => Promise<void>): Promise<void> {
  await expect(page.getByTestId('zoo-list').getByRole('listitem')).toHaveCount(5, { timeout: 60_000 });
  await visit('library');

  await openPage(page, 'Compose');
  await page.getByLabel('Example').selectOption('moe-hidden.yml');
  await expect(page.getByTestId('compose-ok')).toContainText('Mixtral', { timeout: 120_000 });
  await page.getByRole('button', { name: 'Preview routing' }).click();
  await expect(page.getByTestId('heatmap')).toBeVisible({ timeout: 180_000 });
  await visit('compose');

  await openPage(page, 'Chat');
  await page.getByLabel('Backend').selectOption('cpu');
  await chatWithZoo(page, 'stories');
  await page.getByLabel('Max tokens').fill('24');
  await page.getByRole('textbox', { name: 'Message' }).fill('Once upon a time');
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(page.getByTestId('answer-summary')).toBeVisible({ timeout: 120_000 });
  await visit('chat');

  await openPage(page, 'Routing');
  await page
    .getByRole('region', { name: 'Trace B' })
    .getByLabel('Open a trace file (JSON)')
    .setInputFiles({ name: 'trace.json', mimeType: 'application/json', buffer: Buffer.from(TOUR_TRACE) });
  await expect(page.getByTestId('heatmap')).toHaveCount(2); // A: the dense answer (no routing), B: the file
  await visit('routing');

  await openPage(page, 'Export');
  await expect(page.getByTestId('page-export')).toBeVisible(); // a lazy page: its chunk loads on the first visit
  await visit('export');
}
