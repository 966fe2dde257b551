/**
 * `npm run bench -- --ttft`: time from opening the studio to the first token of a zoo chat,
 * as a user does it — open the page, press "Chat with" on a zoo model, send a message — in
 * the built app (`vite build`, served by `vite preview` with COOP/COEP) in headless Chromium.
 *   fresh   a new, empty browser profile (nothing cached: HTTP cache, V8/wasm code caches, IndexedDB)
 *   warm    the same profile again in a new browser process (what a returning user has)
 * Each run reads the app's performance marks (`moe:*`, page and engine worker, on the page's
 * clock: 0 = navigation start), so the table says where the time went. Writes the "ttft"
 * block of bench/RESULTS.md.
 *   npm run bench -- --ttft [--runs 5] [--model chat] [--no-build] [--dist dist-before,dist] [--input in-page]
 */
import { execSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from '@playwright/test';
import { preview } from 'vite';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../chromium.config.ts';
import { median } from './results.ts';
import { writeResultsBlock } from './results-file.ts';

const repo = fileURLToPath(new URL('..', import.meta.url));
const log = (line: string) => console.log(`[ttft ${new Date().toISOString().slice(11, 19)}] ${line}`);

/** One open-to-first-token: ms from navigation start, and every `moe:*` mark on that clock. */
interface TtftRun {
  firstTokenMs: number;
  marks: Record<string, number>;
}

/**
 * Page-side: the new answer's first token is in the DOM, as the user sees it. The live answer
 * shows its tokens under live-tokens; a short answer can finish between two frames and become
 * one more finished answer (assistant-tokens). Answers of earlier runs (a warm profile keeps
 * its conversations, and the Chat page opens the latest) are counted out: `window.__answersBefore`
 * is their number at Send.
 */
const ANSWER_COUNT = `document.querySelectorAll('[data-testid="assistant-tokens"]').length`;
const FIRST_TOKEN_SHOWN = `(document.querySelector('[data-testid="live-tokens"] .tok') || ${ANSWER_COUNT} > window.__answersBefore)`;

async function marksOf(page: Page): Promise<Record<string, number>> {
  const read = () =>
    performance
      .getEntriesByType('mark')
      .filter((m) => m.name.startsWith('moe:'))
      .map((m) => [m.name, performance.timeOrigin + m.startTime] as const);
  const pageOrigin = await page.evaluate(() => performance.timeOrigin);
  const all = [...(await page.evaluate(read))];
  // Only the engine worker: the WASM pool's workers sit in Atomics.wait and never answer an evaluate.
  for (const worker of page.workers().filter((w) => w.url().includes('engine.worker')))
    all.push(...(await worker.evaluate(read)));
  return Object.fromEntries(all.map(([name, at]) => [name, at - pageOrigin]));
}

/**
 * How the user's actions reach the page:
 *   in-page     each click and the typing are dispatched inside the page the moment the control
 *               is usable (found on an animation frame): the app's own time, no automation in it
 *   playwright  Playwright's click() and fill(): real input events through CDP, after its
 *               actionability checks; on a 2-core machine those round trips add 300–600 ms
 */
type InputMode = 'in-page' | 'playwright';
const INPUT_MODES: InputMode[] = ['in-page', 'playwright'];

/**
 * The in-page user, as a string (a function written here would carry the TS runner's helpers
 * into the page): resolves to performance.now() at the first frame that shows an answer token.
 */
const IN_PAGE_USER = `async (modelTestId) => {
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  const until = async (find) => { for (;;) { const found = find(); if (found) return found; await frame(); } };
  const buttonNamed = (name) => [...document.querySelectorAll('button')].find((b) => b.textContent.trim() === name && !b.disabled);
  (await until(() => document.querySelector('[data-testid="' + modelTestId + '"] button'))).click();
  const box = await until(() => [...document.querySelectorAll('label')].find((l) => l.textContent.trim().startsWith('Message'))?.querySelector('textarea'));
  // React tracks a textarea's value through its own setter: set it the way typing does, then say so
  Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value').set.call(box, 'Hello!');
  box.dispatchEvent(new Event('input', { bubbles: true }));
  const send = await until(() => buttonNamed('Send'));
  window.__answersBefore = ${ANSWER_COUNT};
  send.click();
  await until(() => ${FIRST_TOKEN_SHOWN});
  return performance.now();
}`;

/** The Playwright user: resolves to the page's performance.now() at the first frame that shows an answer token. */
async function playwrightUser(page: Page, modelTestId: string): Promise<number> {
  // Each wait polls on animation frames in the page: Playwright's own actionability retries
  // back off up to 500 ms, which would be measured as app time.
  await page.waitForFunction((id) => document.querySelector(`[data-testid="${id}"] button`), modelTestId, {
    polling: 'raf',
  });
  await page
    .getByTestId(modelTestId)
    .getByRole('button', { name: /^Chat with/ })
    .click();
  await page.getByRole('textbox', { name: 'Message' }).fill('Hello!');
  await page.waitForFunction(
    () => [...document.querySelectorAll('button')].some((b) => b.textContent?.trim() === 'Send' && !b.disabled),
    null,
    { polling: 'raf' },
  ); // the page takes a message (while the model still loads: the answer waits for it)
  await page.evaluate(`window.__answersBefore = ${ANSWER_COUNT}`);
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  // Checked every animation frame in the page: the time is the first frame that has the token (±16 ms).
  const seen = await page.waitForFunction(`${FIRST_TOKEN_SHOWN} && performance.now()`, null, { polling: 'raf' });
  return (await seen.jsonValue()) as number;
}

async function openToFirstToken(profile: string, url: string, modelTestId: string, input: InputMode): Promise<TtftRun> {
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
    headless: true,
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(120_000);
    page.on('pageerror', (error) => log(`  [pageerror] ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') log(`  [console] ${message.text()}`);
    });
    await page.goto(url, { waitUntil: 'commit' });
    const firstTokenMs =
      input === 'in-page'
        ? ((await page.evaluate(`(${IN_PAGE_USER})(${JSON.stringify(modelTestId)})`)) as number)
        : await playwrightUser(page, modelTestId);
    const marks = await marksOf(page);
    if (process.env.TTFT_DEBUG)
      log(
        JSON.stringify(
          Object.entries(marks)
            .sort((a, b) => a[1] - b[1])
            .map(([k, v]) => `${k} ${v.toFixed(0)}`),
        ),
      );
    return { firstTokenMs, marks };
  } finally {
    await context.close();
  }
}

/** Mark name → the phase that ends there, in the order a load runs. */
const PHASES: [string, string][] = [
  ['moe:main', 'HTML + bundle fetched, parsed, run'],
  ['moe:rendered', 'first React render committed (Library page)'],
  ['moe:zoo-listed', 'zoo index read: "Chat with" buttons can render'],
  ['moe:engine-worker-start', 'engine worker script running'],
  ['moe:spares-ready', 'warm-up: wasm kernels compiled, thread-pool workers started'],
  ['moe:load-start', '"Chat with" pressed: the page asks for the model'],
  ['moe:model-read', 'model files read (fetch/cache) and parsed, tokenizer built'],
  ['moe:session-open', 'backend opened: wasm compiled, thread pool started, weights packed'],
  ['moe:engine-ready', 'engine ready (page told)'],
  ['moe:send', 'message sent (the answer waits for the load if it is still running)'],
  ['moe:prompt-encoded', 'chat template + tokenizer encode'],
  ['moe:first-token-out', 'prefill + first sample (worker)'],
];

function phaseRows(label: string, runs: TtftRun[]): string[] {
  const what = new Map(PHASES);
  const medians = PHASES.map(([mark]) => [mark, median(runs.map((r) => r.marks[mark] ?? NaN))] as const)
    .filter(([, at]) => Number.isFinite(at))
    .sort((a, b) => a[1] - b[1]);
  const rows: string[] = [];
  let previous = 0;
  for (const [mark, at] of [...medians, ['first token in the DOM', median(runs.map((r) => r.firstTokenMs))] as const]) {
    rows.push(`| ${label} | ${mark} | ${what.get(mark) ?? ''} | ${at.toFixed(0)} | ${(at - previous).toFixed(0)} |`);
    previous = at;
  }
  return rows;
}

type Profile = 'fresh' | 'warm';

/** One built app under test: its folder (vite build's outDir) and its preview server's URL. */
interface Build {
  label: string;
  url: string;
  /** Runs by input mode, then profile. */
  runs: Record<InputMode, Record<Profile, TtftRun[]>>;
  close: () => Promise<void>;
}

async function serveBuild(outDir: string): Promise<Build> {
  const server = await preview({
    root: repo,
    logLevel: 'error',
    build: { outDir },
    preview: { port: 4541, strictPort: false },
  });
  return {
    label: outDir,
    url: server.resolvedUrls?.local[0] ?? 'http://localhost:4541/',
    runs: { 'in-page': { fresh: [], warm: [] }, playwright: { fresh: [], warm: [] } },
    close: () => server.close(),
  };
}

/**
 *   --dist dist-before,dist   compare builds side by side, runs interleaved (build them first;
 *                             the first is the baseline of the ratio column)
 *   --input in-page|playwright   one input mode only (default: both, interleaved)
 */
export async function runTtftBench(argv: string[]): Promise<void> {
  const value = (flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
  const runs = Number(value('--runs') ?? 5);
  const model = value('--model') ?? 'chat';
  const dists = (value('--dist') ?? 'dist').split(',');
  const inputs = value('--input') ? [value('--input') as InputMode] : INPUT_MODES;
  if (!inputs.every((input) => INPUT_MODES.includes(input)))
    throw new Error(`--input: expected ${INPUT_MODES.join(' or ')}, got '${value('--input')}'`);
  const load = [loadavg()];
  if (!argv.includes('--no-build') && !value('--dist')) {
    log('vite build');
    execSync('npx vite build --logLevel error', { cwd: repo, stdio: 'inherit' });
  }
  const builds: Build[] = [];
  try {
    for (const dist of dists) builds.push(await serveBuild(dist));
    for (let i = 0; i < runs; i++) {
      for (const build of builds)
        for (const input of inputs) {
          // A fresh profile, then that profile warm twice (each a new browser process).
          const profile = mkdtempSync(join(tmpdir(), 'moe-ttft-'));
          try {
            for (const kind of ['fresh', 'warm', 'warm'] as const) {
              const run = await openToFirstToken(profile, build.url, `zoo-model-${model}`, input);
              log(
                `run ${i + 1}/${runs} ${build.label} ${input} ${kind}: first token at ${run.firstTokenMs.toFixed(0)} ms`,
              );
              build.runs[input][kind].push(run);
            }
          } finally {
            rmSync(profile, { recursive: true, force: true });
          }
        }
    }
  } finally {
    for (const build of builds) await build.close();
  }
  load.push(loadavg());
  const fmt = (xs: number[]) =>
    `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;
  const firstTokens = (build: Build, input: InputMode, kind: Profile) =>
    build.runs[input][kind].map((r) => r.firstTokenMs);
  const base = builds[0]!;
  const rows = builds.flatMap((build) =>
    inputs.flatMap((input) =>
      (['warm', 'fresh'] as const).map((kind) => {
        const ms = median(firstTokens(build, input, kind));
        const target = kind === 'warm' && input === 'in-page' ? `≤ 1000 ${ms <= 1000 ? '✅' : '❌'}` : '—';
        const ratio = builds.length > 1 ? ` | ${(ms / median(firstTokens(base, input, kind))).toFixed(2)}` : '';
        return `| ${build.label} | ${input} | ${kind} | ${fmt(firstTokens(build, input, kind))} | ${build.runs[input][kind].length}${ratio} | ${target} |`;
      }),
    ),
  );
  const ratioHead = builds.length > 1 ? ` | ÷ ${base.label}` : '';
  const body = [
    '## Time to first token from opening the page (zoo, built app)',
    '',
    `- Date: ${new Date().toISOString()}; machine: ${cpus()[0]?.model}, ${cpus().length} vCPU; Chromium at ${CHROMIUM_PATH}`,
    `- Load average (1/5/15 min) before: ${load[0]!.map((x) => x.toFixed(1)).join(' / ')}, after: ${load[1]!.map((x) => x.toFixed(1)).join(' / ')} (shared machine)`,
    `- Command: \`npm run bench -- --ttft --runs ${runs} --model ${model}${value('--dist') ? ` --dist ${dists.join(',')}` : ''}\``,
    `- Flow: open \`/\` (Library), press "Chat with" on zoo/${model}, type "Hello!", Send; stop at the first answer token in the DOM (checked every animation frame). The Chat page takes a message while its model loads, so the send overlaps the load. Input: **in-page** dispatches each click and the typing inside the page on the first frame its control is usable (the app's own time: what the target is about); **playwright** uses Playwright's click()/fill() (real CDP input after its actionability checks: the same flow plus the automation's round trips). Backend: the default (auto: WASM SIMD here, WebGPU is SwiftShader). fresh = a new profile; warm = the same profile in a new browser process; runs interleaved${builds.length > 1 ? ' across builds' : ''}.`,
    '',
    `| build | input | profile | first token ms, median (min–max) | runs${ratioHead} | target |`,
    `|---|---|---|---:|---:|${builds.length > 1 ? '---:|' : ''}---|`,
    ...rows,
    '',
    'Where the time goes (medians of each mark, ms from navigation start; page and engine-worker marks on one clock, sorted by time):',
    '',
    '| build, input, profile | mark | phase ending there | at ms | phase ms |',
    '|---|---|---|---:|---:|',
    ...builds.flatMap((build) =>
      inputs.flatMap((input) => [
        ...phaseRows(`${build.label}, ${input}, warm`, build.runs[input].warm),
        ...phaseRows(`${build.label}, ${input}, fresh`, build.runs[input].fresh),
      ]),
    ),
  ].join('\n');
  log(`wrote ${writeResultsBlock('ttft', 'bench/ttft.ts', body)}\n${body}`);
}
