/**
 * `npm run bench -- --census`: what the wllama builds' WebAssembly actually contains, read
 * from the binaries (wabt's disassembly, no guessing from build scripts): SIMD instruction
 * counts, and `i32x4.dot_i16x8_s`, the instruction ggml's hand-written WASM q4_0/q8_0 dot
 * products are built on (ggml-cpu/arch/wasm/quants.c: eight per pair of blocks). Zero of it
 * means those kernels are not in the build and the quantized dot products run ggml's generic
 * C (auto-vectorized at best). Our own kernels (kernels.wat) are listed for comparison.
 * Writes the "wasm census" block of bench/RESULTS.md. Needs a few GB of memory for a moment:
 * the largest binary disassembles to ~430 M characters.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import wabtFactory from 'wabt';
import { writeResultsBlock } from './results-file.ts';

const modules = fileURLToPath(new URL('../node_modules/', import.meta.url));
const BINARIES: [string, string][] = [
  ['wllama 3.8.1 default (Memory64 + JSPI)', '@wllama/wllama/esm/wasm/wllama.wasm'],
  ['wllama 3.8.1 compat (wasm32 + Asyncify)', '@wllama/wllama-compat/wasm/wllama.wasm'],
  ['wllama 2.3.7 multi-thread (wasm32)', 'wllama-2.3/esm/multi-thread/wllama.wasm'],
];
const FEATURES = { simd: true, threads: true, memory64: true, exceptions: true, bulk_memory: true };

interface Census {
  simd: number;
  dot: number;
  extmul: number;
  laneMoves: number;
}

function census(text: string): Census {
  const count = (re: RegExp) => (text.match(re) ?? []).length;
  return {
    simd: count(/\b(?:v128|i8x16|i16x8|i32x4|i64x2|f32x4|f64x2)\.[a-z0-9_]+/g),
    dot: count(/\bi32x4\.dot_i16x8_s\b/g),
    extmul: count(/\bi(?:16x8|32x4)\.extmul_[a-z0-9_]+/g),
    laneMoves: count(/\b(?:i8x16|i16x8|i32x4|f32x4)\.(?:extract|replace)_lane\w*/g),
  };
}

export async function runWasmCensus(): Promise<void> {
  const wabt = await wabtFactory();
  const rows: string[] = [];
  for (const [label, path] of BINARIES) {
    const bytes = readFileSync(`${modules}${path}`);
    const module = wabt.readWasm(bytes, { readDebugNames: false, ...FEATURES });
    const c = census(module.toText({ foldExprs: false, inlineExport: false }));
    module.destroy();
    rows.push(
      `| ${label} | ${(bytes.byteLength / 2 ** 20).toFixed(1)} | ${c.simd} | ${c.dot} | ${c.extmul} | ${c.laneMoves} |`,
    );
    console.log(rows.at(-1));
  }
  const ours = census(
    readFileSync(fileURLToPath(new URL('../src/core/runtime/wasm/kernels.wat', import.meta.url)), 'utf8'),
  );
  rows.push(
    `| moe-studio kernels.wat (for comparison) | — | ${ours.simd} | ${ours.dot} | ${ours.extmul} | ${ours.laneMoves} |`,
  );
  const body = [
    '## What the wllama binaries contain (bench/wasm-census.ts)',
    '',
    `- Date: ${new Date().toISOString()}; command: \`npm run bench -- --census\`; wabt's disassembly of each npm package's .wasm.`,
    "- `i32x4.dot_i16x8_s` is what ggml's WASM SIMD q4_0·q8_0 and q8_0·q8_0 dot products (ggml-cpu/arch/wasm/quants.c) are made of. Lane moves (extract/replace_lane) are what auto-vectorized scalar C looks like.",
    '',
    '| binary | MiB | SIMD instructions | i32x4.dot_i16x8_s | extmul | lane extract/replace |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
  console.log(`wrote ${writeResultsBlock('wasm census', 'bench/wasm-census.ts', body)}`);
}
