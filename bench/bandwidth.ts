/**
 * Memory bandwidth, STREAM-style, for the decode roofline beside the tok/s (bench/run.ts):
 * decode reads every active weight once per token, so tok/s can be at most
 * read bandwidth ÷ weight bytes read per token. Measured the way each engine runs:
 *   - wasm: stream.wat in a dedicated worker of headless Chromium (the bench page, cross-origin
 *     isolated), `threads` threads on one shared memory, as the engine's pool;
 *   - native: stream.c compiled here with `cc -O3 -march=native -pthread` (llama.cpp's own
 *     build flags are of that kind), `threads` pthreads.
 * Both read (and copy) a 256 MiB buffer, far past any cache, best of REPS reps.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../chromium.config.ts';
import { nodeFileSource } from '../src/cli/node-io.ts';
import { metaNumber, metaString } from '../src/core/formats/gguf-meta.ts';
import { readGguf } from '../src/core/formats/gguf-read.ts';
import { assembleWat } from '../src/core/runtime/wasm/build-kernels.ts';
import type { BandwidthRun } from './page/bandwidth-stream.ts';

const MIB = 256;
const REPS = 8;
const here = fileURLToPath(new URL('.', import.meta.url));

export interface Bandwidth {
  engine: 'wasm' | 'native';
  threads: number;
  readBytesPerSecond: number;
  copyBytesPerSecond: number;
}

export async function wasmBandwidth(pageUrl: string, threads: number): Promise<Bandwidth> {
  const wasm = await assembleWat(readFileSync(`${here}bandwidth/stream.wat`, 'utf8'), 'stream.wat');
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
  try {
    const page = await browser.newPage();
    await page.goto(pageUrl);
    await page.waitForFunction(() => window.benchReady === true, undefined, { timeout: 120_000 });
    const run: BandwidthRun = await page.evaluate((request) => window.benchBandwidth(request), {
      wasm: [...wasm],
      threads,
      mib: MIB,
      reps: REPS,
    });
    return { engine: 'wasm', ...run };
  } finally {
    await browser.close();
  }
}

/** Compiles stream.c into bench/.tmp once (again when the source is newer); undefined without a C compiler. */
function nativeStreamBinary(): string | undefined {
  const source = `${here}bandwidth/stream.c`;
  const binary = `${here}.tmp/stream`;
  if (existsSync(binary) && statSync(binary).mtimeMs > statSync(source).mtimeMs) return binary;
  mkdirSync(`${here}.tmp`, { recursive: true });
  try {
    execFileSync('cc', ['-O3', '-march=native', '-pthread', '-o', binary, source], { stdio: 'pipe' });
    return binary;
  } catch {
    return undefined;
  }
}

export function nativeBandwidth(threads: number): Bandwidth | undefined {
  const binary = nativeStreamBinary();
  if (!binary) return undefined;
  const out = JSON.parse(execFileSync(binary, [String(threads), String(MIB), String(REPS)], { encoding: 'utf8' })) as {
    readBytesPerSecond: number;
    copyBytesPerSecond: number;
  };
  return {
    engine: 'native',
    threads,
    readBytesPerSecond: out.readBytesPerSecond,
    copyBytesPerSecond: out.copyBytesPerSecond,
  };
}

export const BANDWIDTH_METHOD = `STREAM-style, ${MIB} MiB buffers, best of ${REPS} reps: read = load and add every 32-bit word (what decode does to its weights), copy = load and store (bytes read + written); wasm: bench/bandwidth/stream.wat in a dedicated worker of headless Chromium, its threads on one shared memory as the engine's pool; native: bench/bandwidth/stream.c, \`cc -O3 -march=native -pthread\`.`;

/**
 * Weight bytes one decode token reads from a GGUF as llama.cpp runs it: every tensor once,
 * the expert tensors (`*_exps`) at k of E, and token_embd only as the lm_head when there is no
 * output.weight (tied; otherwise one embedding row, left out).
 */
export async function ggufWeightBytesPerToken(path: string): Promise<number> {
  const gguf = await readGguf(await nodeFileSource(path));
  const arch = metaString(gguf, 'general.architecture') ?? 'llama';
  const experts = metaNumber(gguf, `${arch}.expert_count`) ?? 0;
  const used = metaNumber(gguf, `${arch}.expert_used_count`) ?? 0;
  const tied = !gguf.tensors.some((t) => t.name === 'output.weight');
  let bytes = 0;
  for (const t of gguf.tensors) {
    if (t.name.includes('_exps.')) bytes += experts > 0 ? (t.byteLength * used) / experts : 0;
    else if (t.name === 'token_embd.weight') bytes += tied ? t.byteLength : 0;
    else bytes += t.byteLength;
  }
  return bytes;
}
