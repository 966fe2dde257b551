/**
 * bench/RESULTS.md is shared by several benches; each owns blocks between its own markers
 *   <!-- NAME bench:begin (WRITER) --> … <!-- NAME bench:end -->
 * and rewrites only those (a new block goes at the end), so one bench never wipes another's rows.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const RESULTS_PATH = fileURLToPath(new URL('./RESULTS.md', import.meta.url));

/** Replaces (or appends) the block `name` of RESULTS.md with `body`; returns the path written. */
export function writeResultsBlock(name: string, writer: string, body: string): string {
  const begin = `<!-- ${name} bench:begin (${writer}) -->`;
  const end = `<!-- ${name} bench:end -->`;
  const previous = existsSync(RESULTS_PATH) ? readFileSync(RESULTS_PATH, 'utf8') : '';
  const block = `${begin}\n${body.trim()}\n${end}`;
  const start = previous.indexOf(`<!-- ${name} bench:begin`);
  const stop = previous.indexOf(end);
  const next =
    start >= 0 && stop > start
      ? previous.slice(0, start) + block + previous.slice(stop + end.length)
      : `${previous.trimEnd()}\n\n${block}\n`;
  writeFileSync(RESULTS_PATH, next);
  return RESULTS_PATH;
}
