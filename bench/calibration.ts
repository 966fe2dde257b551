/**
 * `npm run bench -- --calibration` — how long router calibration (src/core/calibrate) takes,
 * in Node on this machine's CPU (V8, one thread: the same JIT and the same single worker as
 * the tab's merge worker; the tab itself is not driven here). Two models:
 *   zoo             public/zoo/moe-hidden.yml merged in memory, the built-in texts
 *                   public/zoo/calibration/<domain>.jsonl, calibrateMergedModel's defaults
 *   4×SmolLM2-dims  bench/fixture-model.ts's random MoE (q8_0), synthetic windows (random token
 *                   ids, one vocabulary band per expert), calibrateRouters with the default method
 * Writes the "Router calibration" section of bench/RESULTS.md (other sections are kept).
 *
 *   npm run bench -- --calibration [--smol-windows N (32)] [--smol-window-tokens N (64)] [--skip-smol] [--skip-tab]
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeDirFileSet } from '../src/cli/node-io.ts';
import { calibrateRouters } from '../src/core/calibrate/calibrate.ts';
import { calibrateMergedModel, DEFAULT_CALIBRATION } from '../src/core/calibrate/merged.ts';
import { setRowMatmulKernel } from '../src/core/calibrate/row-matmul.ts';
import { checkCalibrationTexts, parseCalibrationJsonl, type CalibrationText } from '../src/core/calibrate/texts.ts';
import { buildMergeInMemory } from '../src/core/merge/build.ts';
import { mulberry32 } from '../src/core/model/random.ts';
import { dequantizeModel } from '../src/core/runtime/cpu/model-f32.ts';
import { chromium } from '@playwright/test';
import { readdirSync } from 'node:fs';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../chromium.config.ts';
import { BENCH_MOE_SPEC, benchMoeWeights } from './fixture-model.ts';
import { chromiumRendererCpuSeconds } from './measure.ts';
import type { CalibrateRequest } from './page/calibrate-worker.ts';
import { startBenchServer } from './server.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const ROOT = join(here, '..');
const BEGIN = '<!-- calibration bench:begin (bench/calibration.ts) -->';
const END = '<!-- calibration bench:end -->';
const log = (line: string) => console.log(`[bench calibration ${new Date().toISOString().slice(11, 19)}] ${line}`);

interface Row {
  model: string;
  texts: string;
  tokens: number;
  seconds: number;
  /** CPU time of this process (user + system) over the same span: on a shared machine, closer to a quiet run than wall time. */
  cpuSeconds: number;
  phases: string;
}

async function zooRow(kernel: boolean): Promise<Row> {
  setRowMatmulKernel(kernel);
  const yaml = await readFile(join(ROOT, 'public/zoo/moe-hidden.yml'), 'utf8');
  const built = await buildMergeInMemory(yaml, async (ref) => nodeDirFileSet(join(ROOT, 'public', ref.path)));
  const texts = await zooTexts();
  const phases = new Map<string, number>();
  let phase = 'start';
  let mark = performance.now();
  const started = mark;
  const cpuStarted = process.cpuUsage();
  const fitted = await calibrateMergedModel(built.model!.weights, built.model!.tokenizer!, texts, {
    onProgress: (p) => {
      const name = p.phase === 'fit' ? 'fit' : p.phase;
      if (name === phase) return;
      phases.set(phase, (phases.get(phase) ?? 0) + performance.now() - mark);
      phase = name;
      mark = performance.now();
    },
  });
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStarted);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  phases.set(phase, (phases.get(phase) ?? 0) + performance.now() - mark);
  const split = ['forward', 'fit'].map((p) => `${p} ${((phases.get(p) ?? 0) / 1000).toFixed(1)} s`).join(', ');
  log(
    `zoo (${kernel ? 'kernel' : 'JS'}): ${fitted.record.tokens} tokens in ${seconds.toFixed(1)} s, CPU ${cpuSeconds.toFixed(1)} s (${split})`,
  );
  setRowMatmulKernel(true);
  return {
    model: `zoo MoE (4 layers, hidden 256, 4 experts top-2), ${kernel ? 'WASM SIMD matmul' : 'JS matmul'}`,
    texts: `built-in, ${texts.length} texts, ${DEFAULT_CALIBRATION.windowing} windows of ${DEFAULT_CALIBRATION.windowTokens}`,
    tokens: fitted.record.tokens,
    seconds,
    cpuSeconds,
    phases: split,
  };
}

async function zooTexts(): Promise<CalibrationText[]> {
  const texts: CalibrationText[] = [];
  for (const d of ['stories', 'code', 'math', 'chat'])
    texts.push(
      ...parseCalibrationJsonl(await readFile(join(ROOT, 'public/zoo/calibration', `${d}.jsonl`), 'utf8'), d, 4),
    );
  return checkCalibrationTexts(texts, 4);
}

/**
 * The zoo row in the tab: headless Chromium (chromium.config.ts flags), the bench page, the
 * merge in memory and calibrateMergedModel in a dedicated worker (as Compose's merge worker runs
 * them). CPU seconds: the renderer processes' utime + stime over the calibration alone, from /proc.
 */
async function tabZooRow(): Promise<Row> {
  const folders: Record<string, string[]> = {};
  for (const d of ['base', 'stories', 'code', 'math', 'chat'])
    folders[`zoo/${d}`] = readdirSync(join(ROOT, 'public/zoo', d)).filter((f) => !f.startsWith('.'));
  const { url, server } = await startBenchServer();
  const browserServer = await chromium.launchServer({
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
    headless: true,
  });
  try {
    const browser = await chromium.connect(browserServer.wsEndpoint());
    const page = await browser.newPage();
    page.on('pageerror', (error) => log(`  [tab pageerror] ${error.message}`));
    await page.goto(url);
    await page.waitForFunction(() => window.benchReady === true, undefined, { timeout: 120_000 });
    const request: CalibrateRequest = {
      publicUrl: new URL(`/@fs${join(ROOT, 'public')}`, url).href,
      folders,
      yaml: await readFile(join(ROOT, 'public/zoo/moe-hidden.yml'), 'utf8'),
      texts: await zooTexts(),
    };
    const { mergeSeconds } = await page.evaluate((req) => window.benchCalibrateMerge(req), request);
    const cpuBefore = chromiumRendererCpuSeconds(browserServer.process().pid!);
    const run = await page.evaluate(() => window.benchCalibrate());
    const cpuSeconds = chromiumRendererCpuSeconds(browserServer.process().pid!) - cpuBefore;
    await browser.close();
    const split = ['forward', 'fit'].map((p) => `${p} ${(run.split[p] ?? 0).toFixed(1)} s`).join(', ');
    log(
      `zoo (tab): ${run.tokens} tokens in ${run.seconds.toFixed(1)} s, renderer CPU ${cpuSeconds.toFixed(1)} s (${split}; merge before it ${mergeSeconds.toFixed(1)} s)`,
    );
    return {
      model: 'zoo MoE in the tab (Chromium, dedicated worker, WASM SIMD matmul)',
      texts: `built-in, ${request.texts.length} texts, ${DEFAULT_CALIBRATION.windowing} windows of ${DEFAULT_CALIBRATION.windowTokens}`,
      tokens: run.tokens,
      seconds: run.seconds,
      cpuSeconds,
      phases: `${split} (the in-memory merge before it: ${mergeSeconds.toFixed(1)} s, not counted)`,
    };
  } finally {
    await browserServer.close();
    await server.close();
  }
}

async function smolRow(windows: number, windowTokens: number): Promise<Row> {
  log('4×SmolLM2-dims: building the random q8_0 MoE');
  const model = dequantizeModel(benchMoeWeights('q8_0'));
  const experts = BENCH_MOE_SPEC.moe!.experts;
  const band = Math.floor(BENCH_MOE_SPEC.vocab / experts);
  const uniform = mulberry32(1);
  const sequences = Array.from({ length: windows }, (_, i) => ({
    expert: i % experts,
    tokens: Array.from({ length: windowTokens }, () => (i % experts) * band + Math.floor(uniform() * band)),
  }));
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  const fitted = await calibrateRouters(model, sequences, {
    method: DEFAULT_CALIBRATION.method,
    onProgress: (p) => {
      if (p.phase === 'fit' && p.done === 1 && (p.layer ?? 0) % 5 === 4) log(`  layer ${(p.layer ?? 0) + 1} done`);
    },
  });
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStarted);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  log(`4×SmolLM2-dims: ${fitted.tokens} tokens in ${seconds.toFixed(1)} s, CPU ${cpuSeconds.toFixed(1)} s`);
  return {
    model: '4×SmolLM2-dims MoE (30 layers, hidden 576, 4 experts top-2, q8_0 → f32)',
    texts: `synthetic, ${windows} windows of ${windowTokens} tokens`,
    tokens: fitted.tokens,
    seconds,
    cpuSeconds,
    phases: '-',
  };
}

export async function runCalibrationBench(argv: string[]): Promise<void> {
  const value = (flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
  const loadBefore = loadavg();
  // the same calibration on both matmul paths, side by side (calibrate/row-matmul.ts)
  const kernelRow = await zooRow(true);
  const tabRow = argv.includes('--skip-tab') ? undefined : await tabZooRow();
  const jsRow = await zooRow(false);
  const rows = tabRow ? [kernelRow, tabRow, jsRow] : [kernelRow, jsRow];
  if (!argv.includes('--skip-smol'))
    rows.push(await smolRow(Number(value('--smol-windows') ?? 32), Number(value('--smol-window-tokens') ?? 64)));
  const section = [
    BEGIN,
    '## Router calibration',
    '',
    `- Date: ${new Date().toISOString()}`,
    `- Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} vCPU, Node ${process.version}; load average before ${loadBefore.map((x) => x.toFixed(1)).join(' / ')}, after ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' / ')} (shared machine).`,
    `- Command: \`npm run bench -- ${argv.join(' ')}\``,
    '- Node, one thread (V8, as the merge worker in the tab); calibration only: the merge, loading and tokenizing are not timed, dequantizing to f32 is (zoo rows). The two zoo rows run the same calibration with its matrix products on the WASM SIMD kernel (the default) and on the JS loop.',
    `- Default method: ${DEFAULT_CALIBRATION.method}, ${DEFAULT_CALIBRATION.windowing} windows of ${DEFAULT_CALIBRATION.windowTokens} tokens, at most ${DEFAULT_CALIBRATION.tokensPerExpert} an expert.`,
    '',
    '| model | texts | tokens | seconds | CPU seconds | tokens/s | split |',
    '|---|---|---:|---:|---:|---:|---|',
    ...rows.map(
      (r) =>
        `| ${r.model} | ${r.texts} | ${r.tokens} | ${r.seconds.toFixed(1)} | ${r.cpuSeconds.toFixed(1)} | ${(r.tokens / r.seconds).toFixed(0)} | ${r.phases} |`,
    ),
    '',
    `Kernel ÷ JS on the zoo (CPU seconds): ${(jsRow.cpuSeconds / kernelRow.cpuSeconds).toFixed(2)}× faster with the WASM SIMD products.`,
    END,
  ].join('\n');
  const path = join(here, 'RESULTS.md');
  const previous = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const start = previous.indexOf(BEGIN);
  const end = previous.indexOf(END);
  const next =
    start >= 0 && end > start
      ? previous.slice(0, start) + section + previous.slice(end + END.length)
      : `${previous.trimEnd()}\n\n${section}\n`;
  writeFileSync(path, next);
  log(`wrote ${path}`);
}
