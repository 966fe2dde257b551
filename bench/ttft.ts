/**
 * `npm run bench -- --ttft`: time from opening the studio to the first token of a zoo chat,
 * as a user does it — open the page, press "Chat with" on a zoo model, send a message — in
 * the built app (`vite build`, served by `vite preview` with COOP/COEP) in headless Chromium.
 *   fresh   a new, empty browser profile (nothing cached: HTTP cache, V8/wasm code caches, IndexedDB)
 *   warm    the same profile again in a new browser process (what a returning user has)
 * Each run reads the app's performance marks (`moe:*`, page and engine worker, on the page's
 * clock: 0 = navigation start), so the table says where the time went. Writes the "ttft"
 * block of bench/RESULTS.md.
 *   npm run bench -- --ttft [--runs 5] [--model chat] [--no-build] [--dist dist-before,dist]
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

/** The first answer token, as the user sees it (answer text in the DOM). */
const FIRST_TOKEN = '[data-testid="live-tokens"] .tok, [data-testid="assistant-tokens"] .tok';

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

async function openToFirstToken(profile: string, url: string, modelTestId: string): Promise<TtftRun> {
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
    ); // the engine is ready
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    // Checked every animation frame in the page: the time is the first frame that has the token (±16 ms).
    const seen = await page.waitForFunction(
      (selector) => document.querySelector(selector) && performance.now(),
      FIRST_TOKEN,
      {
        polling: 'raf',
      },
    );
    const firstTokenMs = (await seen.jsonValue()) as number;
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
  ['moe:load-start', '"Chat with" pressed: the page asks for the model'],
  ['moe:model-read', 'model files read (fetch/cache) and parsed, tokenizer built'],
  ['moe:session-open', 'backend opened: wasm compiled, thread pool started, weights packed'],
  ['moe:engine-ready', 'engine ready (page told)'],
  ['moe:send', 'message sent (automation: fill + click)'],
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
  runs: Record<Profile, TtftRun[]>;
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
    runs: { fresh: [], warm: [] },
    close: () => server.close(),
  };
}

/**
 *   --dist dist-before,dist   compare builds side by side, runs interleaved (build them first;
 *                             the first is the baseline of the ratio column)
 */
export async function runTtftBench(argv: string[]): Promise<void> {
  const value = (flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
  const runs = Number(value('--runs') ?? 5);
  const model = value('--model') ?? 'chat';
  const dists = (value('--dist') ?? 'dist').split(',');
  const load = [loadavg()];
  if (!argv.includes('--no-build') && !value('--dist')) {
    log('vite build');
    execSync('npx vite build --logLevel error', { cwd: repo, stdio: 'inherit' });
  }
  const builds: Build[] = [];
  try {
    for (const dist of dists) builds.push(await serveBuild(dist));
    for (let i = 0; i < runs; i++) {
      for (const build of builds) {
        // A fresh profile, then that profile warm twice (each a new browser process).
        const profile = mkdtempSync(join(tmpdir(), 'moe-ttft-'));
        try {
          for (const kind of ['fresh', 'warm', 'warm'] as const) {
            const run = await openToFirstToken(profile, build.url, `zoo-model-${model}`);
            log(`run ${i + 1}/${runs} ${build.label} ${kind}: first token at ${run.firstTokenMs.toFixed(0)} ms`);
            build.runs[kind].push(run);
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
  const firstTokens = (build: Build, kind: Profile) => build.runs[kind].map((r) => r.firstTokenMs);
  const base = builds[0]!;
  const rows = builds.flatMap((build) =>
    (['warm', 'fresh'] as const).map((kind) => {
      const ms = median(firstTokens(build, kind));
      const target = kind === 'warm' ? `≤ 1000 ${ms <= 1000 ? '✅' : '❌'}` : '—';
      const ratio = builds.length > 1 ? ` | ${(ms / median(firstTokens(base, kind))).toFixed(2)}` : '';
      return `| ${build.label} | ${kind} | ${fmt(firstTokens(build, kind))} | ${build.runs[kind].length}${ratio} | ${target} |`;
    }),
  );
  const ratioHead = builds.length > 1 ? ` | ÷ ${base.label}` : '';
  const body = [
    '## Time to first token from opening the page (zoo, built app)',
    '',
    `- Date: ${new Date().toISOString()}; machine: ${cpus()[0]?.model}, ${cpus().length} vCPU; Chromium at ${CHROMIUM_PATH}`,
    `- Load average (1/5/15 min) before: ${load[0]!.map((x) => x.toFixed(1)).join(' / ')}, after: ${load[1]!.map((x) => x.toFixed(1)).join(' / ')} (shared machine)`,
    `- Command: \`npm run bench -- --ttft --runs ${runs} --model ${model}${value('--dist') ? ` --dist ${dists.join(',')}` : ''}\``,
    `- Flow: open \`/\` (Library), press "Chat with" on zoo/${model}, type "Hello!", Send; stop at the first answer token in the DOM. Playwright drives it as fast as the page allows (each wait polls on animation frames), so the user's own typing time is not in it. Backend: the default (auto: WASM SIMD here, WebGPU is SwiftShader). fresh = a new profile; warm = the same profile in a new browser process; runs interleaved${builds.length > 1 ? ' across builds' : ''}.`,
    '',
    `| build | profile | first token ms, median (min–max) | runs${ratioHead} | target |`,
    `|---|---|---:|---:|${builds.length > 1 ? '---:|' : ''}---|`,
    ...rows,
    '',
    'Where the time goes (medians of each mark, ms from navigation start; page and engine-worker marks on one clock, sorted by time):',
    '',
    '| build, profile | mark | phase ending there | at ms | phase ms |',
    '|---|---|---|---:|---:|',
    ...builds.flatMap((build) => [
      ...phaseRows(`${build.label}, warm`, build.runs.warm),
      ...phaseRows(`${build.label}, fresh`, build.runs.fresh),
    ]),
  ].join('\n');
  log(`wrote ${writeResultsBlock('ttft', 'bench/ttft.ts', body)}\n${body}`);
}
