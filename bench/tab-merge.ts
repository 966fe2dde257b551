/**
 * `npm run bench -- --tab-merge` — a real-size frankenMoE made in a tab, as a person does it:
 * four random bf16 llama donors (bench/memory.ts's writeDonor: TinyLlama-1.1B dims) served
 * from localhost as HF folders, merged by Compose's MergeHost straight into IndexedDB (the
 * donors read by Range requests), exported as an HF zip (zipFileSet over the store, read to its
 * end as a save picker would write it), quantized to q4_0 in the store (EngineHost.quantizeStored,
 * which replaces the bf16 model), loaded and chatted on WASM, exported as GGUF
 * (EngineHost.exportGguf), then deleted.
 * Each step runs in a fresh page and a fresh dedicated worker (bench/page/tab-merge-worker.ts).
 *
 *   npm run bench -- --tab-merge [--sizes tiny6,tiny22] [--tokens 16] [--steps merge,export-hf,…] [--keep]
 *
 * Memory: VmRSS sampled every 200 ms of Chromium's renderer + GPU processes (the "tab", as
 * #14 counts it) and, in its own column, of the browser process. `before` is taken when the step's page is ready.
 * tiny22 needs ~9 GB of disk for the donors and ~7 GB of IndexedDB (the bf16 merge): check `df` and the quota line in the table. Donors are kept under MOE_BENCH_DIR
 * with --keep (they take minutes to write).
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { chromium } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../chromium.config.ts';
import { BENCH_DIR } from './fixture-gguf.ts';
import { chromiumRssMb } from './measure.ts';
import { gitHead, MEMORY_SIZES, mergeYaml, writeDonor } from './memory.ts';
import type { TabMergeRequest, TabMergeRun, TabMergeStep } from './page/tab-merge-worker.ts';
import { writeResultsBlock } from './results-file.ts';
import { startBenchServer } from './server.ts';

const EXPERTS = 4;
// export-hf before quantize: quantizeStored replaces the bf16 merge by its q4_0 copy.
const STEPS: TabMergeStep[] = ['merge', 'export-hf', 'quantize', 'chat', 'export-gguf', 'delete'];
const MB = 2 ** 20;
const log = (line: string) => console.log(`[bench tab-merge ${new Date().toISOString().slice(11, 19)}] ${line}`);

interface Row {
  size: string;
  step: TabMergeStep;
  run?: TabMergeRun;
  error?: string;
  before: { tab: number; browser: number };
  peak: { tab: number; browser: number };
}

function donorFolders(key: string): string[] {
  return Array.from({ length: EXPERTS }, (_, i) => `tab-merge-${key}-donor${i}`);
}

async function ensureDonors(key: string): Promise<TabMergeRequest['donors']> {
  const { spec } = MEMORY_SIZES[key]!;
  const donors: TabMergeRequest['donors'] = [];
  for (const [i, folder] of donorFolders(key).entries()) {
    const dir = join(BENCH_DIR, folder);
    if (!existsSync(join(dir, 'tokenizer_config.json'))) {
      log(`${key}: writing donor ${i} (${dir})`);
      await writeDonor(dir, spec, i + 1);
    }
    const files = readdirSync(dir).map((name) => ({ name, size: statSync(join(dir, name)).size }));
    donors.push({ name: `donor${i}`, folder, files });
  }
  return donors;
}

async function measureSize(key: string, tokens: number, steps: TabMergeStep[]): Promise<Row[]> {
  const label = MEMORY_SIZES[key]!.label;
  const donors = await ensureDonors(key);
  const donorBytes = donors.flatMap((d) => d.files).reduce((s, f) => s + f.size, 0);
  const size = `${label}, 4 bf16 donors of ${(donorBytes / EXPERTS / MB).toFixed(0)} MB`;
  const profile = join(BENCH_DIR, 'tab-merge-profile');
  rmSync(profile, { recursive: true, force: true });
  const { url, server } = await startBenchServer();
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
    headless: true,
  });
  const rows: Row[] = [];
  let quantizedId: string | undefined;
  try {
    for (const step of steps) {
      const page = await context.newPage();
      page.setDefaultTimeout(60 * 60_000);
      page.on('pageerror', (error) => log(`  [pageerror] ${error.message}`));
      page.on('crash', () => log('  [page crashed]'));
      await page.goto(url);
      await page.waitForFunction(() => window.benchReady === true, undefined, { timeout: 120_000 });
      const before = chromiumRssMb();
      const peak = { ...before };
      const sample = () => {
        const now = chromiumRssMb();
        peak.tab = Math.max(peak.tab, now.tab);
        peak.browser = Math.max(peak.browser, now.browser);
      };
      const sampler = setInterval(sample, 200);
      const request: TabMergeRequest = { step, yaml: mergeYaml(), donors, quantizedId, tokens, threads: 2 };
      log(`${key}: ${step}`);
      const row: Row = { size, step, before, peak };
      try {
        row.run = await page.evaluate((r) => window.benchTabMerge(r), request);
        quantizedId = row.run.quantizedId ?? quantizedId;
      } catch (error) {
        row.error = (error as Error).message.split('\n')[0]!.replace(/^page\.evaluate: /, '');
      } finally {
        clearInterval(sampler);
        sample();
      }
      log(`  ${JSON.stringify(row)}`);
      rows.push(row);
      await page.close();
      if (row.error && (step === 'merge' || step === 'quantize')) break; // nothing to go on with
    }
  } finally {
    await context.close();
    await server.close();
    rmSync(profile, { recursive: true, force: true });
  }
  return rows;
}

const fmt = (x: number | undefined, digits = 0) => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(digits));

function table(rows: Row[]): string {
  return [
    '| model | step | seconds | output MB | tab before MB | tab peak MB | wasm memory MB | tab peak − before − wasm MB | browser process before → peak MB | notes |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows.map((r) => {
      const wasm = r.run?.wasmBytes !== undefined ? r.run.wasmBytes / MB : 0;
      const notes = r.error
        ? `FAILED: ${r.error}`
        : [
            r.run?.loadSeconds !== undefined ? `load ${fmt(r.run.loadSeconds, 1)} s` : '',
            r.run?.tokens !== undefined
              ? `${r.run.tokens} tokens, prefill ${fmt(r.run.prefillTokPerSec, 1)} tok/s, decode ${fmt(r.run.decodeTokPerSec, 1)} tok/s`
              : '',
            r.run?.quota !== undefined
              ? `IndexedDB usage ${fmt((r.run.usage ?? 0) / MB)} MB of quota ${fmt(r.run.quota / MB)} MB after`
              : '',
          ]
            .filter(Boolean)
            .join('; ');
      return `| ${r.size} | ${r.step} | ${fmt(r.run?.seconds, 1)} | ${fmt(r.run?.outputBytes !== undefined ? r.run.outputBytes / MB : undefined)} | ${fmt(r.before.tab)} | ${fmt(r.peak.tab)} | ${wasm ? fmt(wasm) : '-'} | ${fmt(r.peak.tab - r.before.tab - wasm)} | ${fmt(r.before.browser)} → ${fmt(r.peak.browser)} | ${notes} |`;
    }),
  ].join('\n');
}

function writeSection(rows: Row[], argv: string[], load: number[][]): void {
  const loadText = load.map((l) => l.map((x) => x.toFixed(1)).join(' / '));
  const section = [
    '## A real-size merge made in a tab (Compose → store → quantize → chat → export)',
    '',
    `- Date: ${new Date().toISOString()}; commit ${gitHead()}`,
    `- Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} vCPU, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM; load average before ${loadText[0]}, after ${loadText[1]} (shared machine)`,
    `- Command: \`npm run bench -- ${argv.join(' ')}\``,
    "- Headless Chromium, persistent profile. Four random bf16 llama donors in HF layout (bench/memory.ts's donors: donor0 is the base, all four are experts, gate_mode random, top-2) served from localhost. `merge` = Compose's MergeHost.build reading the donors by Range requests and streaming the merged bf16 MoE into IndexedDB; `quantize` = EngineHost.quantizeStored q4_0 (it replaces the bf16 model in the store); `chat` = that q4_0 model loaded from the store on WASM (2 threads) + a greedy chat; `export-gguf` = the same load + EngineHost.exportGguf q4_0 streamed into a WritableStream that lets each chunk go (what a save picker does with it); `export-hf` = the bf16 merge's HF folder zipped from the store and read to its end (what a save picker streams to disk); each step in a fresh page and dedicated worker.",
    "- tab = Chromium renderer + GPU processes (VmRSS sampled every 200 ms; #14 counts these), wasm memory = the session's linear memory (the loaded weights); the browser process is its own column.",
    '',
    table(rows),
  ].join('\n');
  writeResultsBlock('tab-merge', 'bench/tab-merge.ts', section);
}

export async function runTabMergeBench(argv: string[]): Promise<void> {
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const sizes = (value('--sizes') ?? 'tiny6,tiny22').split(',');
  for (const s of sizes) if (!MEMORY_SIZES[s]) throw new Error(`bench tab-merge: unknown size '${s}'`);
  const tokens = Number(value('--tokens') ?? 16);
  const steps = (value('--steps')?.split(',') ?? STEPS) as TabMergeStep[];
  for (const s of steps) if (!STEPS.includes(s)) throw new Error(`bench tab-merge: unknown step '${s}'`);
  const loadBefore = loadavg();
  const rows: Row[] = [];
  for (const key of sizes) {
    rows.push(...(await measureSize(key, tokens, steps)));
    writeSection(rows, argv, [loadBefore, loadavg()]);
    if (!argv.includes('--keep'))
      for (const folder of donorFolders(key)) rmSync(join(BENCH_DIR, folder), { recursive: true, force: true });
  }
  log(`wrote bench/RESULTS.md\n${table(rows)}`);
}
