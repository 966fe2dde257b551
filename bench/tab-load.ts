/**
 * `npm run bench -- --tab-load` — the MoE Studio engine in a tab with real-size models: the
 * q4_0 GGUF of the memory bench's MoE (fixture-memory-gguf.ts, written on demand into
 * MOE_BENCH_DIR, never committed) imported into IndexedDB, then loaded from the store and
 * from the URL folder (Range reads) by the app's EngineHost on the WASM backend (2 threads)
 * in a dedicated worker, with a short greedy chat; then the stored model is deleted.
 *
 *   npm run bench -- --tab-load [--sizes smol,tiny22] [--tokens 8] [--experts 4] [--quant q4_0] [--keep]
 *
 * `--experts 6 --quant q8_0` on tiny22 is a model past wasm32's 4 GiB (5.2 GB GGUF, ~5.5 GB
 * packed): the tab holds it in weight banks (multi-memory; docs/wasm-backend.md "Past 4 GiB").
 * A variant other than 4 experts in q4_0 writes its own section of bench/RESULTS.md.
 *
 * Headless Chromium with a persistent profile under MOE_BENCH_DIR: Playwright's default
 * (incognito-like) contexts keep IndexedDB in memory and refused the 1.9 GB import at 1.4 GB
 * although navigator.storage.estimate() promised 10 GiB. Memory is the renderer + GPU
 * processes' VmRSS, sampled every 200 ms: `before` when the step starts (a fresh page and its
 * module graph: each step has its own page, closed after), `peak` during it.
 */
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../chromium.config.ts';
import { BENCH_DIR } from './fixture-gguf.ts';
import { ensureMemoryGguf, memoryMoeSpec } from './fixture-memory-gguf.ts';
import { chromiumRssMb, measureNative } from './measure.ts';
import { median } from './results.ts';
import { gitHead, MEMORY_SIZES } from './memory.ts';
import type { TabLoadRequest, TabLoadRun } from './page/tab-load-worker.ts';
import { startBenchServer } from './server.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
/** The section markers of a variant ('' = 4 experts in q4_0, the default). */
const markers = (variant: string) => ({
  begin: `<!-- tab-load bench:begin (bench/tab-load.ts)${variant ? ` ${variant}` : ''} -->`,
  end: `<!-- tab-load bench:end${variant ? ` ${variant}` : ''} -->`,
});
type Quant = 'q4_0' | 'q8_0';
const log = (line: string) => console.log(`[bench tab-load ${new Date().toISOString().slice(11, 19)}] ${line}`);
const MB = 2 ** 20;

interface Row {
  size: string;
  step: TabLoadRequest['step'] | 'native';
  run?: TabLoadRun;
  error?: string;
  beforeMb: number;
  peakMb: number;
}

async function measureSize(key: string, tokens: number, experts: number, quant: Quant): Promise<Row[]> {
  const { spec } = MEMORY_SIZES[key]!;
  const label = MEMORY_SIZES[key]!.label.replace(/^4×/, `${experts}×`);
  const folder = `tab-load-${key}-${experts}x-${quant}`;
  const gguf = await ensureMemoryGguf(join(BENCH_DIR, folder, 'model.gguf'), memoryMoeSpec(spec, experts), quant, log);
  const size = statSync(gguf).size;
  const profile = join(BENCH_DIR, 'tab-load-profile');
  rmSync(profile, { recursive: true, force: true });
  const { url, server } = await startBenchServer();
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
    headless: true,
  });
  const rows: Row[] = [];
  try {
    for (const step of ['import', 'store', 'url', 'delete'] as const) {
      // A fresh page per step (the last one closed, its renderer gone), so `before` is the page alone.
      const page = await context.newPage();
      page.setDefaultTimeout(60 * 60_000);
      page.on('pageerror', (error) => log(`  [pageerror] ${error.message}`));
      page.on('crash', () => log('  [page crashed]'));
      await page.goto(url);
      await page.waitForFunction(() => window.benchReady === true, undefined, { timeout: 120_000 });
      const beforeMb = chromiumRssMb().tab;
      let peakMb = beforeMb;
      const sampler = setInterval(() => {
        peakMb = Math.max(peakMb, chromiumRssMb().tab);
      }, 200);
      const request: TabLoadRequest = { step, folder, size, tokens, threads: 2 };
      log(`${key}: ${step}`);
      const row: Row = { size: `${label}, ${quant} GGUF ${(size / MB).toFixed(0)} MB`, step, beforeMb, peakMb };
      try {
        row.run = await page.evaluate((r) => window.benchTabLoad(r), request);
      } catch (error) {
        row.error = (error as Error).message.split('\n')[0]!.replace(/^page\.evaluate: /, '');
      } finally {
        clearInterval(sampler);
      }
      row.peakMb = Math.max(peakMb, chromiumRssMb().tab);
      log(`  ${JSON.stringify(row)}`);
      rows.push(row);
      await page.close();
    }
  } finally {
    await context.close();
    await server.close();
    rmSync(profile, { recursive: true, force: true });
  }
  rows.push(await nativeRow(gguf, `${label}, ${quant} GGUF ${(size / MB).toFixed(0)} MB`, tokens));
  return rows;
}

/** Native llama.cpp on the same GGUF, 2 threads (bench/native-llamacpp.ts): the tab's decode is judged against it. */
async function nativeRow(gguf: string, size: string, tokens: number): Promise<Row> {
  const promptIds = Array.from({ length: 24 }, (_, i) => 1000 + 37 * i); // the tab's chat prompt is ~24 tokens
  log(`native llama.cpp on ${gguf}`);
  const started = performance.now();
  try {
    const run = await measureNative(gguf, {
      ggufUrl: '',
      promptIds,
      promptText: '',
      decodeTokens: tokens,
      threads: 2,
      bannedIds: [],
    });
    return {
      size,
      step: 'native',
      beforeMb: NaN,
      peakMb: (run.peakRssBytes ?? NaN) / MB,
      run: {
        seconds: (performance.now() - started) / 1000,
        prefillTokPerSec: (promptIds.length * 1000) / run.ttftMs,
        decodeTokPerSec: 1000 / median(run.decodeMs),
        tokens,
      },
    };
  } catch (error) {
    return { size, step: 'native', beforeMb: NaN, peakMb: NaN, error: (error as Error).message.split('\n')[0] };
  }
}

const fmt = (x: number | undefined, digits = 0) => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(digits));

function table(rows: Row[]): string {
  return [
    '| model | step | seconds | load s | prefill tok/s | decode tok/s | tab RSS before MB | peak MB | wasm memory MB | peak − before − wasm MB | notes |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows.map((r) => {
      const wasm = r.run?.wasmBytes !== undefined ? r.run.wasmBytes / MB : undefined;
      const above = wasm !== undefined ? r.peakMb - r.beforeMb - wasm : undefined;
      const native = rows.find((n) => n.size === r.size && n.step === 'native')?.run?.decodeTokPerSec;
      const notes = r.error
        ? `FAILED: ${r.error}`
        : r.step === 'native'
          ? `llama.cpp native, 2 threads, 24-token prompt, ${r.run?.tokens} tokens; peak MB = its process's max RSS`
          : r.step === 'store' || r.step === 'url'
            ? `${r.run?.tokens} tokens; decode ÷ native ${fmt((r.run?.decodeTokPerSec ?? NaN) / (native ?? NaN), 2)}`
            : r.run?.quota !== undefined
              ? `IndexedDB usage ${fmt((r.run.usage ?? 0) / MB)} MB of quota ${fmt(r.run.quota / MB)} MB after`
              : r.run?.tokens !== undefined
                ? `${r.run.tokens} tokens`
                : '';
      return `| ${r.size} | ${r.step} | ${fmt(r.run?.seconds, 1)} | ${fmt(r.run?.loadSeconds, 1)} | ${fmt(r.run?.prefillTokPerSec, 1)} | ${fmt(r.run?.decodeTokPerSec, 1)} | ${fmt(r.beforeMb)} | ${fmt(r.peakMb)} | ${fmt(wasm)} | ${fmt(above)} | ${notes} |`;
    }),
  ].join('\n');
}

function writeSection(rows: Row[], argv: string[], load: number[][], variant: string): void {
  const { begin: BEGIN, end: END } = markers(variant);
  const path = join(here, 'RESULTS.md');
  const text = readFileSync(path, 'utf8');
  const loadText = load.map((l) => l.map((x) => x.toFixed(1)).join(' / '));
  const section = [
    BEGIN,
    `## Real-size MoEs in a tab (IndexedDB, WASM)${variant ? `: ${variant.replace('x-', ' experts, ')}` : ''}`,
    '',
    `- Date: ${new Date().toISOString()}; commit ${gitHead()}`,
    `- Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} vCPU, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM; load average before ${loadText[0]}, after ${loadText[1]} (shared machine)`,
    `- Command: \`npm run bench -- ${argv.join(' ')}\``,
    "- Headless Chromium, persistent profile; the app's EngineHost in a dedicated worker, WASM backend, 2 threads; the " +
      (variant ? variant.split('-')[1] : 'q4_0') +
      " GGUF of the merge's shapes (random weights) served from localhost; wasm memory = every linear memory of the session (past 4 GiB: the main one and its weight banks). `import` = modelStoreImportFileSet into IndexedDB; `store` / `url` = load (from the store / the URL folder by Range reads) + a greedy chat; tab RSS = renderer + GPU processes (VmRSS sampled every 200 ms). `native` = llama.cpp (node-llama-cpp's prebuilt CPU binary, bench/native-llamacpp.ts) on the same GGUF file at the same 2 threads.",
    '',
    table(rows),
    END,
  ].join('\n');
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  const next =
    start >= 0 && end > start
      ? text.slice(0, start) + section + text.slice(end + END.length)
      : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(path, next);
}

export async function runTabLoadBench(argv: string[]): Promise<void> {
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const sizes = (value('--sizes') ?? 'smol,tiny22').split(',');
  for (const s of sizes) if (!MEMORY_SIZES[s]) throw new Error(`bench tab-load: unknown size '${s}'`);
  const tokens = Number(value('--tokens') ?? 8);
  const experts = Number(value('--experts') ?? 4);
  const quant = (value('--quant') ?? 'q4_0') as Quant;
  if (!Number.isInteger(experts) || experts < 2 || experts > 16) throw new Error('bench tab-load: --experts 2..16');
  if (quant !== 'q4_0' && quant !== 'q8_0') throw new Error('bench tab-load: --quant q4_0 or q8_0');
  const variant = experts === 4 && quant === 'q4_0' ? '' : `${experts}x-${quant}`;
  const loadBefore = loadavg();
  const rows: Row[] = [];
  for (const key of sizes) {
    rows.push(...(await measureSize(key, tokens, experts, quant)));
    writeSection(rows, argv, [loadBefore, loadavg()], variant);
    if (!argv.includes('--keep'))
      rmSync(join(BENCH_DIR, `tab-load-${key}-${experts}x-${quant}`), { recursive: true, force: true });
  }
  log(`wrote bench/RESULTS.md\n${table(rows)}`);
}
