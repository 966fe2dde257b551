/**
 * `npm run bench` — our WASM backend against wllama (llama.cpp in WASM, same GGUF, 2 threads,
 * cross-origin isolated page) and native llama.cpp (node-llama-cpp, 2 threads) as the
 * ceiling, plus our WebGPU backend (SwiftShader) when it runs. Writes bench/RESULTS.md.
 *
 *   npm run bench                       # 3 runs per cell, 32 decode tokens, threads 2 and 1
 *   npm run bench -- --runs 5 --decode 128 --engines wasm,wllama --quants q4_0
 *   npm run bench -- --model zoo --append   # the zoo MoE (public/zoo merged), appended as a section
 *   npm run bench -- --quants q4_0 --section peers   # rewrites only RESULTS.md's "peers" block
 *   npm run bench -- --calibration          # router calibration timings (bench/calibration.ts)
 *   npm run bench -- --census               # SIMD instructions in the wllama binaries (bench/wasm-census.ts)
 *   npm run bench -- --ttft                 # open the page → first zoo token, warm and fresh profile (bench/ttft.ts)
 *   npm run bench -- --memory               # peak RSS of CLI merge / export at two sizes (bench/memory.ts)
 *   npm run bench -- --tab-merge            # a real-size merge built, quantized, chatted and exported in a tab (bench/tab-merge.ts)
 *   npm run bench -- --tab-load             # real-size MoEs into IndexedDB and chatting on WASM in a tab (bench/tab-load.ts)
 *
 * Cells are interleaved run by run (wasm, wllama, native, …, then again) so a noisy
 * neighbour hits every engine alike; each cell is the median over runs.
 */
import { execSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  BANDWIDTH_METHOD,
  ggufWeightBytesPerToken,
  nativeBandwidth,
  wasmBandwidth,
  type Bandwidth,
} from './bandwidth.ts';
import { BENCH_DIR, BYTE_TOKENS, benchPromptIds, ensureBenchGguf, promptText } from './fixture-gguf.ts';
import { ensureMemoryGguf, memoryMoeSpec } from './fixture-memory-gguf.ts';
import { MEMORY_SIZES } from './memory.ts';
import { ensureZooFixture } from './fixture-zoo.ts';
import type { BenchQuant } from './fixture-model.ts';
import { measureInBrowser, measureNative, type EngineName } from './measure.ts';
import type { EngineRun, PageRequest } from './page/engines.ts';
import {
  countersTable,
  median,
  ratioTable,
  resultsTable,
  rooflineTable,
  summarize,
  threadScalingTable,
  type RowSummary,
} from './results.ts';
import { writeResultsBlock } from './results-file.ts';
import { startBenchServer } from './server.ts';

interface BenchOptions {
  runs: number;
  decodeTokens: number;
  promptTokens: number;
  /** Thread counts to measure each CPU engine at (the targets are judged at 2). */
  threads: number[];
  engines: EngineName[];
  quants: BenchQuant[];
  /** WebGPU on SwiftShader is ~100× slower: fewer tokens, one run. */
  webgpuDecodeTokens: number;
  webgpuPromptTokens: number;
  /** 30 = the real shape; fewer for a smoke test of the harness. */
  layers: number;
  /**
   * 'bench' = the realistic-shape random MoE (4×SmolLM2 dims); 'tiny22' = the real-size one
   * (4×TinyLlama-1.1B dims, 22 layers, 3.4B parameters); 'zoo' = the zoo merged with moe-hidden.yml.
   */
  model: 'bench' | 'tiny22' | 'zoo';
  /** Append this run's section to RESULTS.md instead of replacing the file. */
  append: boolean;
  /** Write this run as the marker block `section` of RESULTS.md, leaving the rest of the file alone. */
  section?: string;
}

function parseOptions(argv: string[]): BenchOptions {
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  return {
    runs: Number(value('--runs') ?? 3),
    decodeTokens: Number(value('--decode') ?? 32),
    promptTokens: Number(value('--prompt') ?? 128),
    threads: (value('--threads') ?? '2,1').split(',').map(Number),
    engines: (value('--engines') ?? 'wasm,wllama,wllama-compat,wllama-2.3,native,webgpu').split(',') as EngineName[],
    quants: (value('--quants') ?? 'q4_0,q8_0').split(',') as BenchQuant[],
    webgpuDecodeTokens: Number(value('--webgpu-decode') ?? 2),
    webgpuPromptTokens: Number(value('--webgpu-prompt') ?? 8),
    layers: Number(value('--layers') ?? 30),
    model: value('--model') === 'zoo' ? 'zoo' : value('--model') === 'tiny22' ? 'tiny22' : 'bench',
    append: argv.includes('--append'),
    section: value('--section'),
  };
}

const here = fileURLToPath(new URL('.', import.meta.url));
const log = (line: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);

function ensurePeers(engines: EngineName[]): void {
  // The wllama builds (10–20 MB each, no dependencies) are root devDependencies pinned to the versions measured;
  // only node-llama-cpp (~725 MB of prebuilts) stays out of the default install.
  for (const [engine, pkg] of [
    ['wllama', '@wllama/wllama'],
    ['wllama-compat', '@wllama/wllama-compat'],
    ['wllama-2.3', 'wllama-2.3'],
  ] as const) {
    if (engines.includes(engine) && !existsSync(`${here}../node_modules/${pkg}`))
      throw new Error(`bench: ${pkg} is missing from node_modules: run \`npm install\` first`);
  }
  if (engines.includes('native') && !existsSync(`${here}../tools/llamacpp/node_modules/node-llama-cpp`)) {
    log('installing tools/llamacpp (node-llama-cpp) for the native ceiling');
    execSync('npm --prefix tools/llamacpp install --no-audit --no-fund', { cwd: `${here}..`, stdio: 'inherit' });
  }
}

function machineDescription(chromiumVersion: string): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const os = readFileSync('/etc/os-release', 'utf8').match(/PRETTY_NAME="([^"]+)"/)?.[1] ?? 'Linux';
  return `${cpu}, ${cpus().length} vCPU, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${os}, Node ${process.version}, Chromium ${chromiumVersion}`;
}

async function measure(
  engine: EngineName,
  _quant: BenchQuant,
  ggufPath: string,
  pageUrl: string,
  request: PageRequest,
): Promise<EngineRun> {
  if (engine === 'native') return measureNative(ggufPath, request);
  return measureInBrowser(pageUrl, engine, request, log);
}

interface Cell {
  engine: EngineName;
  threads: number;
  decodeTokens: number;
}

/** What one run measures: every CPU engine at every thread count; WebGPU once, in run 1. */
function cellsOf(options: BenchOptions, run: number): Cell[] {
  const cells: Cell[] = [];
  for (const threads of options.threads) {
    for (const engine of options.engines) {
      if (engine !== 'webgpu') cells.push({ engine, threads, decodeTokens: options.decodeTokens });
    }
  }
  if (options.engines.includes('webgpu') && run === 0)
    cells.push({ engine: 'webgpu', threads: 1, decodeTokens: options.webgpuDecodeTokens });
  return cells;
}

interface Fixture {
  label: string; // model column of the tables
  description: string; // one line for RESULTS.md
  files: Map<BenchQuant, string>;
  promptIds: number[];
  promptText: string; // what wllama tokenizes (the same prompt as text)
  bannedIds: number[]; // token ids wllama must not sample
}

async function loadFixture(options: BenchOptions): Promise<Fixture> {
  if (options.model === 'zoo') {
    const zoo = await ensureZooFixture(options.quants, options.promptTokens, log);
    return {
      label: 'zoo MoE',
      description: `${zoo.description}, from public/zoo via runMerge and exportGguf; prompt: the start of public/zoo/heldout/stories.txt`,
      files: zoo.files,
      promptIds: zoo.promptIds,
      promptText: zoo.promptText,
      bannedIds: [],
    };
  }
  if (options.model === 'tiny22') {
    const spec = memoryMoeSpec(MEMORY_SIZES.tiny22!.spec, 4);
    const files = new Map<BenchQuant, string>();
    for (const quant of options.quants)
      files.set(
        quant,
        await ensureMemoryGguf(join(BENCH_DIR, `bench-moe-4x-tinyllama-dims-22l-${quant}.gguf`), spec, quant, log),
      );
    const promptIds = benchPromptIds(options.promptTokens, spec.vocab);
    return {
      label: '4×TinyLlama-dims MoE',
      description: `random-weight 4-expert top-2 Mixtral-style MoE with TinyLlama-1.1B dims per expert (hidden 2048, intermediate 5632, 22 layers, 32 heads / 4 kv heads, vocab 32000, untied; 3.4B parameters), its ${options.quants.join(' / ')} GGUF written tensor by tensor (bench/fixture-memory-gguf.ts)`,
      files,
      promptIds,
      promptText: promptText(promptIds),
      bannedIds: [2, ...Array.from({ length: BYTE_TOKENS.count }, (_, b) => BYTE_TOKENS.first + b)],
    };
  }
  const files = new Map<BenchQuant, string>();
  for (const quant of options.quants) files.set(quant, await ensureBenchGguf(quant, log, options.layers));
  const promptIds = benchPromptIds(options.promptTokens);
  return {
    label: `4×SmolLM2-dims MoE${options.layers === 30 ? '' : ` (${options.layers} layers)`}`,
    description: `random-weight 4-expert top-2 Mixtral-style MoE with SmolLM2-135M dims per expert (hidden 576, intermediate 1536, ${options.layers} layers, 9 heads / 3 kv heads, vocab 49152, tied embeddings), exported by exportGguf`,
    files,
    promptIds,
    promptText: promptText(promptIds),
    bannedIds: [2, ...Array.from({ length: BYTE_TOKENS.count }, (_, b) => BYTE_TOKENS.first + b)],
  };
}

async function main(): Promise<void> {
  if (process.argv.includes('--calibration')) {
    const { runCalibrationBench } = await import('./calibration.ts');
    return runCalibrationBench(process.argv.slice(2));
  }
  if (process.argv.includes('--census')) {
    const { runWasmCensus } = await import('./wasm-census.ts');
    return runWasmCensus();
  }
  if (process.argv.includes('--ttft')) {
    const { runTtftBench } = await import('./ttft.ts');
    return runTtftBench(process.argv.slice(2));
  }
  if (process.argv.includes('--tab-merge')) {
    const { runTabMergeBench } = await import('./tab-merge.ts');
    return runTabMergeBench(process.argv.slice(2));
  }
  if (process.argv.includes('--tab-load')) {
    const { runTabLoadBench } = await import('./tab-load.ts');
    return runTabLoadBench(process.argv.slice(2));
  }
  if (process.argv.includes('--memory')) {
    const { runMemoryBench } = await import('./memory.ts');
    return runMemoryBench(process.argv.slice(2));
  }
  const options = parseOptions(process.argv.slice(2));
  const loadBefore = loadavg();
  ensurePeers(options.engines);
  const fixture = await loadFixture(options);
  const runs = new Map<string, EngineRun[]>();
  const errors: string[] = [];
  const previous =
    options.append && existsSync(`${here}RESULTS.md`) ? readFileSync(`${here}RESULTS.md`, 'utf8') : undefined;
  const bandwidth: Bandwidth[] = [];
  const save = (complete: boolean) =>
    writeResults(
      options,
      fixture,
      buildRows(fixture, runs),
      bandwidth,
      errors,
      [loadBefore, loadavg()],
      complete,
      previous,
    );
  const { url, server } = await startBenchServer();
  try {
    for (let run = 0; run < options.runs; run++) {
      for (const quant of options.quants) {
        for (const cell of cellsOf(options, run)) {
          const path = fixture.files.get(quant)!;
          const ids =
            cell.engine === 'webgpu' ? fixture.promptIds.slice(0, options.webgpuPromptTokens) : fixture.promptIds;
          const request: PageRequest = {
            ggufUrl: `/models/${path.split('/').pop()}`,
            promptIds: ids,
            promptText: fixture.promptText,
            decodeTokens: cell.decodeTokens,
            threads: cell.threads,
            bannedIds: fixture.bannedIds,
          };
          log(`run ${run + 1}/${options.runs} ${quant} ${cell.engine} ${cell.threads} thread(s)`);
          try {
            const result = await measure(cell.engine, quant, path, url, request);
            if (cell.engine === 'native') result.weightBytesPerToken = await ggufWeightBytesPerToken(path);
            log(
              `  decode ${(1000 / median(result.decodeMs)).toFixed(1)} tok/s, TTFT ${result.ttftMs.toFixed(0)} ms, threads ${result.threads}`,
            );
            const key = JSON.stringify([quant, cell.engine, cell.threads, ids.length]);
            runs.set(key, [...(runs.get(key) ?? []), result]);
            save(false); // partial results survive an interrupted run
          } catch (error) {
            const message = `${quant} ${cell.engine} ${cell.threads}t run ${run + 1}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
            log(`  FAILED ${message}`);
            errors.push(message);
          }
        }
      }
    }
    await measureBandwidth(options, url, bandwidth, errors);
  } finally {
    await server.close();
  }
  save(true);
}

/** The roofline's bandwidth: each CPU runtime the run measured, at each of its thread counts (bench/bandwidth.ts). */
async function measureBandwidth(
  options: BenchOptions,
  url: string,
  into: Bandwidth[],
  errors: string[],
): Promise<void> {
  for (const threads of options.threads) {
    try {
      if (options.engines.includes('wasm')) into.push(await wasmBandwidth(url, threads));
      if (options.engines.includes('native')) {
        const native = nativeBandwidth(threads);
        if (native) into.push(native);
        else errors.push(`native bandwidth ${threads}t: no C compiler (cc) to build bench/bandwidth/stream.c`);
      }
    } catch (error) {
      errors.push(`bandwidth ${threads}t: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    }
  }
  for (const b of into)
    log(
      `bandwidth ${b.engine} ${b.threads}t: read ${(b.readBytesPerSecond / 1e9).toFixed(1)} GB/s, copy ${(b.copyBytesPerSecond / 1e9).toFixed(1)} GB/s`,
    );
}

function buildRows(fixture: Fixture, runs: Map<string, EngineRun[]>): RowSummary[] {
  const rows: RowSummary[] = [];
  for (const [key, list] of runs) {
    const [quant, , threads, promptLength] = JSON.parse(key) as [string, string, number, number];
    rows.push({ ...summarize(`${fixture.label} ${quant}`, promptLength, list), threads });
  }
  return rows;
}

let cachedChromiumVersion: string | undefined;
function chromiumVersion(): string {
  try {
    cachedChromiumVersion ??= execSync('/usr/bin/chromium --version 2>/dev/null', { encoding: 'utf8' })
      .trim()
      .replace(/^Chromium\s+/, '');
  } catch {
    cachedChromiumVersion = 'unknown';
  }
  return cachedChromiumVersion;
}

const METHOD = [
  "- Browser engines run in headless Chromium (chromium.config.ts flags), a page served from localhost with COOP/COEP (cross-origin isolated), one fresh browser per measurement; our backends run in a dedicated worker as in the app. Native llama.cpp is node-llama-cpp's prebuilt CPU binary in a child process.",
  '- decode tok/s = 1000 / median gap between generated tokens; prefill tok/s = prompt tokens / TTFT (TTFT = prompt in → first token out); each cell is the median over runs.',
  "- Peak RSS = VmHWM of Chromium's renderer + GPU processes (browser engines) or of the child process (native); it includes the fetched GGUF bytes (since 2026-12-07 07:00 our backends load lazily, and files of 64 MiB and up by Range requests, so theirs holds no whole file; wllama's still does).",
];

function commandOf(options: BenchOptions): string {
  const extra = `${options.layers === 30 ? '' : ` --layers ${options.layers}`}${options.model === 'bench' ? '' : ` --model ${options.model}`}${options.append ? ' --append' : ''}${options.section ? ` --section ${options.section}` : ''}`;
  return `npm run bench -- --runs ${options.runs} --decode ${options.decodeTokens} --prompt ${options.promptTokens} --threads ${options.threads.join(',')} --engines ${options.engines.join(',')} --quants ${options.quants.join(',')}${extra}`;
}

function writeResults(
  options: BenchOptions,
  fixture: Fixture,
  rows: RowSummary[],
  bandwidth: Bandwidth[],
  errors: string[],
  load: number[][],
  complete: boolean,
  previous: string | undefined,
): void {
  const loadText = load.map((l) => l.map((x) => x.toFixed(1)).join(' / '));
  const section = [
    `## ${fixture.label}`,
    '',
    `- Date: ${new Date().toISOString()}${complete ? '' : ' — PARTIAL: the run was still going (or was interrupted) when this was written'}`,
    `- Machine: ${machineDescription(chromiumVersion())}`,
    `- Load average (1/5/15 min) before: ${loadText[0]}, after: ${loadText[1]} — the machine is shared with other jobs; numbers move with it.`,
    `- Command: \`${commandOf(options)}\``,
    `- Model: ${fixture.description}; every engine runs the same GGUF file. Prompt ${fixture.promptIds.length} tokens, greedy, ${options.decodeTokens} decode tokens (WebGPU on SwiftShader: a ${options.webgpuPromptTokens}-token prompt and ${options.webgpuDecodeTokens} decode tokens, one run — not comparable, it is there for its counters).`,
    ...METHOD,
    '',
    '### Results (medians over runs)',
    '',
    resultsTable(rows),
    '',
    '### Ratios (same thread count; ours = moe-studio wasm; each wllama row names its version and settings)',
    '',
    ratioTable(rows),
    '',
    '### Thread scaling (each engine at 2 threads ÷ itself at 1)',
    '',
    threadScalingTable(rows),
    '',
    '### Decode against the memory-bandwidth roofline',
    '',
    `- Bandwidth: ${BANDWIDTH_METHOD}`,
    '- roofline tok/s = read bandwidth ÷ weight bytes read per decode token (attention, the k chosen experts, lm_head; each engine its own layout); decode ÷ roofline is how close the engine is to the memory limit.',
    '',
    rooflineTable(rows, bandwidth),
    '',
    "### WebGPU per-decode-token counters (the session's stats of the last decode forward)",
    '',
    countersTable(rows),
    '',
    ...(errors.length ? ['### Failures', '', ...errors.map((e) => `- ${e}`), ''] : []),
    '### Notes from the last run',
    '',
    ...rows.filter((r) => r.note).map((r) => `- ${r.model} ${r.engine} ${r.threads}t: ${r.note}`),
    '',
  ].join('\n');
  const header = '# Benchmarks (generated by `npm run bench`, bench/run.ts — do not edit by hand)\n\n';
  if (options.section) writeResultsBlock(options.section, 'bench/run.ts', section);
  else
    writeFileSync(
      `${here}RESULTS.md`,
      previous !== undefined ? `${previous.trimEnd()}\n\n${section}` : header + section,
    );
  if (complete) log(`wrote bench/RESULTS.md\n${resultsTable(rows)}\n${ratioTable(rows)}`);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
