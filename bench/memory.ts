/**
 * `npm run bench -- --memory` — peak RSS of the Node CLI's merge and export, at model sizes
 * far apart, to show whether memory grows with the model (it must not: tensors stream).
 *
 * Per size: four random bf16 dense llama donors in HF layout (config.json, model.safetensors,
 * the synthetic tokenizer of fixture-gguf.ts) are generated on disk, one tensor at a time
 * (the generator holds one tensor, never a model), then three CLI runs as child processes
 * under `/usr/bin/time` (peak RSS = the child's ru_maxrss, the kernel's VmHWM at exit):
 *   moe-studio merge moe.yml OUT --models-dir DONORS   (gate_mode random: no forward pass)
 *   moe-studio export OUT --format gguf --quant q4_0 --out OUT.q4_0.gguf
 *   moe-studio export OUT --format safetensors --quant bf16 --out OUT-bf16/
 *   moe-studio generate OUT.q4_0.gguf --ids … --max-tokens 16 --temperature 0   (the
 *     "generate/load" row: load on the wasm backend + 16 greedy tokens; the CLI's own
 *     "backend wasm: weights N MB, session memory M MB" line gives the wasm linear memory, so
 *     the row shows peak RSS − wasm memory, what loading costs above the weights; its
 *     "N tokens in S s (X tok/s …)" line is kept in the notes column)
 * Writes one labelled table into the "Peak memory" section of bench/RESULTS.md (tables of
 * other labels are kept, so a before/after pair sits side by side; other sections are kept).
 * Generated files live under MOE_BENCH_DIR (default the OS temp dir) and are deleted after
 * each size unless --keep.
 *
 *   npm run bench -- --memory [--sizes smol,tiny6,tiny22] [--label after] [--keep]
 *                             [--commands merge,export-gguf,generate,export-hf]
 *
 * `--commands generate` alone writes the q4_0 GGUF directly (fixture-memory-gguf.ts: the same
 * shapes and dtypes as the merged-then-exported file, random weights, no donors or merge on
 * disk) and runs only the generate/load row: 1.9 GB of disk at tiny22 instead of ~25 GB.
 *
 * The default sizes (smol,tiny6) are the cheap pair. `tiny22` is the real 4×TinyLlama-1.1B MoE
 * (22 layers, 3.4B parameters): four ~2.2 GB donors plus a 6.8 GB merge, a 1.9 GB GGUF and a
 * 6.8 GB bf16 export live under MOE_BENCH_DIR at once (~25 GB; check `df` first), and it takes
 * minutes per command on two shared cores.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeFileSink } from '../src/cli/node-io.ts';
import { writeSafetensors } from '../src/core/formats/safetensors.ts';
import { hfConfigFromSpec } from '../src/core/model/hf-config-write.ts';
import { stringifyHfConfig } from '../src/core/model/hf-config-json.ts';
import { hfTensorEntries } from '../src/core/model/hf-tensors.ts';
import { nameTableFor } from '../src/core/model/names.ts';
import type { ModelSpec } from '../src/core/model/spec.ts';
import { BENCH_DIR, benchTokenizerJson } from './fixture-gguf.ts';
import { memoryMoeSpec, writeMemoryGguf } from './fixture-memory-gguf.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const ROOT = join(here, '..');
const BEGIN = '<!-- memory bench:begin (bench/memory.ts) -->';
const END = '<!-- memory bench:end -->';
const log = (line: string) => console.log(`[bench memory ${new Date().toISOString().slice(11, 19)}] ${line}`);

const EXPERTS = 4;

/** The donor shapes: SmolLM2-135M's and TinyLlama-1.1B's dims (TinyLlama at 6 layers to keep disk and time sane). */
const DONOR_BASE = {
  arch: 'llama',
  contextLength: 2048,
  rmsEps: 1e-5,
  qkvBias: false,
  ropeStyle: 'half',
  bosTokenId: 1,
  eosTokenIds: [2],
} as const;
export const MEMORY_SIZES: Record<string, { label: string; spec: ModelSpec }> = {
  smol: {
    label: '4×SmolLM2-135M dims (30 layers)',
    spec: {
      ...DONOR_BASE,
      eosTokenIds: [2],
      hidden: 576,
      intermediate: 1536,
      layers: 30,
      heads: 9,
      kvHeads: 3,
      headDim: 64,
      vocab: 49152,
      ropeTheta: 100000,
      tieEmbeddings: true,
    },
  },
  tiny6: {
    label: '4×TinyLlama-1.1B dims, 6 layers',
    spec: tinyLlama(6),
  },
  tiny22: {
    label: '4×TinyLlama-1.1B dims (22 layers)',
    spec: tinyLlama(22),
  },
};

function tinyLlama(layers: number): ModelSpec {
  return {
    ...DONOR_BASE,
    eosTokenIds: [2],
    hidden: 2048,
    intermediate: 5632,
    layers,
    heads: 32,
    kvHeads: 4,
    headDim: 64,
    vocab: 32000,
    ropeTheta: 10000,
    tieEmbeddings: false,
  };
}

/**
 * Random bf16 bits (xorshift32): sign random, exponent 2^-7..2^-4, random mantissa. Values
 * do not matter for memory; the fill is cheap so the generator is I/O-bound.
 */
function randomBf16(count: number, seed: number): Uint8Array {
  const out = new Uint16Array(count);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = ((x >>> 31) << 15) | ((120 + (x & 3)) << 7) | ((x >>> 2) & 0x7f);
  }
  return new Uint8Array(out.buffer);
}

/** One donor folder, written tensor by tensor (writeSafetensors asks for one tensor at a time). */
/** A random bf16 dense llama donor in HF layout under `dir`, written one tensor at a time. */
export async function writeDonor(dir: string, spec: ModelSpec, seed: number): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const entries = hfTensorEntries(spec, nameTableFor(spec)).map((e) => ({
    name: e.name,
    dtype: 'bf16' as const,
    shape: e.shape,
  }));
  let index = 0;
  await writeSafetensors(
    await nodeFileSink(join(dir, 'model.safetensors')),
    entries,
    async (name) => {
      const entry = entries.find((e) => e.name === name)!;
      return randomBf16(
        entry.shape.reduce((a, b) => a * b, 1),
        seed * 7919 + index++,
      );
    },
    { format: 'pt' },
  );
  await writeFile(join(dir, 'config.json'), stringifyHfConfig(hfConfigFromSpec(spec, { dtype: 'bf16' })));
  await writeFile(
    join(dir, 'tokenizer.json'),
    JSON.stringify({ ...benchTokenizerJson(spec.vocab), post_processor: null }),
  );
  await writeFile(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({ bos_token: '<s>', eos_token: '</s>', add_bos_token: false }),
  );
}

/** The bench MoE's YAML: donor0 is the base and every donorN an expert; random gates (no forward pass). */
export function mergeYaml(): string {
  const experts = Array.from(
    { length: EXPERTS },
    (_, i) => `  - source_model: donor${i}\n    positive_prompts: ["expert ${i}"]`,
  );
  return `base_model: donor0\ngate_mode: random\ndtype: bfloat16\nexperts_per_token: 2\nexperts:\n${experts.join('\n')}\n`;
}

interface Row {
  size: string;
  command: string;
  seconds: number;
  peakRssMb: number;
  /** NaN when the command writes no output (generate). */
  outputMb: number;
  /** generate/load: the wasm session's linear memory (weights, KV cache, scratch); NaN otherwise. */
  wasmMb: number;
  notes: string;
}

const COMMANDS = ['merge', 'export-gguf', 'generate', 'export-hf'] as const;
type Command = (typeof COMMANDS)[number];

async function pathBytes(path: string): Promise<number> {
  const info = statSync(path);
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const f of await readdir(path)) total += await pathBytes(join(path, f));
  return total;
}

/**
 * Runs the CLI once under /usr/bin/time; wall seconds and peak RSS (ru_maxrss) of the child, and
 * the CLI's tok/s line when it prints one (stderr is passed through to the bench's own).
 */
async function timedCli(args: string[], output?: string): Promise<Omit<Row, 'size' | 'command'>> {
  const timeFile = join(BENCH_DIR, 'memory-time.txt');
  const child = spawnSync(
    '/usr/bin/time',
    ['-f', '%e %M', '-o', timeFile, 'node', join(ROOT, 'bin/moe-studio.mjs'), ...args],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  process.stderr.write(child.stderr ?? '');
  if (child.status !== 0) throw new Error(`bench memory: moe-studio ${args[0]} exited ${child.status}`);
  const [seconds, maxRssKb] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  const speed = /(\d+) tokens in ([\d.]+) s \(([\d.]+) tok\/s/.exec(child.stderr ?? '');
  const memory = /backend wasm: weights (\d+) MB, session memory (\d+) MB/.exec(child.stderr ?? '');
  return {
    seconds: seconds!,
    peakRssMb: maxRssKb! / 1024,
    outputMb: output ? (await pathBytes(output)) / 1e6 : Number.NaN,
    wasmMb: memory ? Number(memory[2]) / 1.048576 : Number.NaN, // the CLI prints 1e6-byte MB; the table's are MiB, as ru_maxrss
    notes: [
      memory ? `weights in wasm ${(Number(memory[1]) / 1.048576).toFixed(0)} MB` : '',
      speed ? `${speed[1]} tokens in ${speed[2]} s after loading (${speed[3]} tok/s)` : '',
    ]
      .filter(Boolean)
      .join('; '),
  };
}

async function measureSize(key: string, keep: boolean, commands: Command[]): Promise<Row[]> {
  const { label, spec } = MEMORY_SIZES[key]!;
  const dir = join(BENCH_DIR, `memory-${key}`);
  const donors = join(dir, 'donors');
  const out = join(dir, 'out');
  const gguf = join(dir, 'out.q4_0.gguf');
  rmSync(out, { recursive: true, force: true });
  rmSync(gguf, { force: true });
  const rows: Row[] = [];
  const run = async (command: string, args: string[], output?: string, note?: string) => {
    log(`${key}: ${command}`);
    const row = { size: label, command, ...(await timedCli(args, output)) };
    if (note) row.notes = row.notes ? `${note}; ${row.notes}` : note;
    log(
      `  ${row.seconds.toFixed(1)} s, peak RSS ${row.peakRssMb.toFixed(0)} MB, output ${row.outputMb.toFixed(0)} MB ${row.notes}`,
    );
    rows.push(row);
  };
  if (commands.includes('merge')) {
    for (let i = 0; i < EXPERTS; i++) {
      const donor = join(donors, `donor${i}`);
      if (existsSync(join(donor, 'tokenizer_config.json'))) continue;
      log(`${key}: generating ${donor}`);
      await writeDonor(donor, spec, i + 1);
    }
    writeFileSync(join(dir, 'moe.yml'), mergeYaml());
    await run('merge (gate_mode random, bf16)', ['merge', join(dir, 'moe.yml'), out, '--models-dir', donors], out);
  }
  if (commands.includes('export-gguf'))
    await run(
      'export --format gguf --quant q4_0',
      ['export', out, '--format', 'gguf', '--quant', 'q4_0', '--out', gguf, '--force'],
      gguf,
    );
  if (commands.includes('generate')) {
    const direct = !existsSync(gguf);
    if (direct) {
      log(`${key}: writing ${gguf} directly (random q4_0 weights, the merge's shapes)`);
      mkdirSync(dir, { recursive: true });
      await writeMemoryGguf(gguf, memoryMoeSpec(spec, EXPERTS));
    }
    const source = direct ? 'the q4_0 GGUF written directly' : 'the exported q4_0 GGUF';
    await run(
      `generate/load --backend wasm (${source}: load + 16 greedy tokens)`,
      [
        'generate',
        gguf,
        '--ids',
        '1,450,4996,263,931',
        '--max-tokens',
        '16',
        '--temperature',
        '0',
        '--backend',
        'wasm',
      ],
      undefined,
      `GGUF ${(statSync(gguf).size / 2 ** 20).toFixed(0)} MB`,
    );
  }
  if (commands.includes('export-hf')) {
    const hf = join(dir, 'out-bf16');
    await run(
      'export --format safetensors --quant bf16',
      ['export', out, '--format', 'safetensors', '--quant', 'bf16', '--out', hf, '--force'],
      hf,
    );
  }
  if (!keep) rmSync(dir, { recursive: true, force: true });
  return rows;
}

const fmt = (mb: number) => (Number.isNaN(mb) ? '-' : mb.toFixed(0));

function table(rows: Row[]): string {
  return [
    '| model | command | wall s | peak RSS MB | output MB | wasm memory MB | peak − wasm MB | notes |',
    '|---|---|---:|---:|---:|---:|---:|---|',
    ...rows.map(
      (r) =>
        `| ${r.size} | ${r.command} | ${r.seconds.toFixed(1)} | ${r.peakRssMb.toFixed(0)} | ${fmt(r.outputMb)} | ${fmt(r.wasmMb)} | ${fmt(r.peakRssMb - r.wasmMb)} | ${r.notes} |`,
    ),
  ].join('\n');
}

function labelBlock(label: string, rows: Row[], argv: string[], load: number[][]): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const loadText = load.map((l) => l.map((x) => x.toFixed(1)).join(' / '));
  return [
    `<!-- memory:${label}:begin -->`,
    `### ${label}`,
    '',
    `- Date: ${new Date().toISOString()}; commit ${gitHead()}`,
    `- Machine: ${cpu}, ${cpus().length} vCPU, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}; load average before ${loadText[0]}, after ${loadText[1]} (shared machine)`,
    `- Command: \`npm run bench -- ${argv.join(' ')}\``,
    '',
    table(rows),
    `<!-- memory:${label}:end -->`,
  ].join('\n');
}

export function gitHead(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

const INTRO = [
  '## Peak memory of the Node CLI (merge, export, generate/load)',
  '',
  'Random bf16 dense llama donors in HF layout, generated on disk tensor by tensor; four of them merged by `moe-studio merge` (gate_mode random, dtype bfloat16), the result exported by `moe-studio export --format gguf --quant q4_0` and `--format safetensors --quant bf16`, and the q4_0 GGUF loaded on the wasm backend by `moe-studio generate` (16 greedy tokens; with `--commands generate` alone the GGUF is written directly, same shapes, random weights). Each command is a child process under `/usr/bin/time`; peak RSS is its ru_maxrss. The target: peak RSS independent of model size (the largest tensor set in flight plus a fixed few hundred MB); for generate/load, peak RSS − the wasm session’s linear memory independent of model size.',
  '',
].join('\n');

/** Replaces this label's block inside the memory section (creating either), keeping the rest of RESULTS.md. */
function writeSection(block: string, label: string): void {
  const path = join(here, 'RESULTS.md');
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  let inner = start >= 0 && end > start ? text.slice(start + BEGIN.length, end) : `\n${INTRO}`;
  const open = `<!-- memory:${label}:begin -->`;
  const close = `<!-- memory:${label}:end -->`;
  const a = inner.indexOf(open);
  const b = inner.indexOf(close);
  inner =
    a >= 0 && b > a ? inner.slice(0, a) + block + inner.slice(b + close.length) : `${inner.trimEnd()}\n\n${block}\n`;
  const section = `${BEGIN}${inner}${END}`;
  const next =
    start >= 0 && end > start
      ? text.slice(0, start) + section + text.slice(end + END.length)
      : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(path, next);
}

export async function runMemoryBench(argv: string[]): Promise<void> {
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const sizes = (value('--sizes') ?? 'smol,tiny6').split(',');
  for (const s of sizes) if (!MEMORY_SIZES[s]) throw new Error(`bench memory: unknown size '${s}'`);
  const label = value('--label') ?? 'latest';
  const commands = (value('--commands') ?? COMMANDS.join(',')).split(',') as Command[];
  for (const c of commands)
    if (!COMMANDS.includes(c)) throw new Error(`bench memory: unknown command '${c}' (${COMMANDS.join(', ')})`);
  if (commands.some((c) => c.startsWith('export')) && !commands.includes('merge'))
    throw new Error('bench memory: the exports read the merge: add merge to --commands');
  mkdirSync(BENCH_DIR, { recursive: true });
  const loadBefore = loadavg();
  const rows: Row[] = [];
  for (const size of sizes) {
    rows.push(...(await measureSize(size, argv.includes('--keep'), commands)));
    writeSection(labelBlock(label, rows, argv, [loadBefore, loadavg()]), label);
  }
  log(`wrote bench/RESULTS.md\n${table(rows)}`);
}
