/**
 * `npx tsx bench/session-open.ts`: the load path's CPU in Node, one thread. It loads a model
 * lazily and opens a WASM session: the weights are checked, widened or repacked into wasm
 * memory. It runs the zoo's chat model (f16 HF folder) and, when it was generated, the bench's
 * 4×SmolLM2-dims q4_0 GGUF (`npm run bench` writes it into MOE_BENCH_DIR). Prints the median
 * of several runs; compare commits back to back on one machine.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeSingleFileSet } from '../src/cli/node-io.ts';
import { memoryFileSet } from '../src/core/io/byte-source.ts';
import type { FileSet } from '../src/core/io/byte-source.ts';
import { loadModelLazy } from '../src/core/model/load.ts';
import { createWasmBackend } from '../src/core/runtime/wasm/backend.ts';
import { BENCH_DIR } from './fixture-gguf.ts';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function measure(label: string, files: () => FileSet, runs: number): Promise<void> {
  const backend = await createWasmBackend({ threads: 1 });
  const loads: number[] = [];
  const opens: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const model = await loadModelLazy(files(), { skipTokenizer: true });
    const t1 = performance.now();
    const session = await backend.createSession(model.weights, { maxContext: 512 });
    opens.push(performance.now() - t1);
    loads.push(t1 - t0);
    session.dispose?.();
  }
  console.log(
    `${label}: load ${median(loads).toFixed(0)} ms, createSession ${median(opens).toFixed(0)} ms (median of ${runs}; all: ${opens.map((x) => x.toFixed(0)).join(', ')})`,
  );
}

const zoo = 'public/zoo/chat';
const zooFiles = Object.fromEntries(readdirSync(zoo).map((f) => [f, new Uint8Array(readFileSync(join(zoo, f)))]));
await measure('zoo/chat (3.4M params, f16)', () => memoryFileSet(zooFiles), 7);
const smol = join(BENCH_DIR, 'bench-moe-4x-smollm2-dims-q4_0.gguf');
if (existsSync(smol)) await measure('4×SmolLM2-dims MoE q4_0 (211 MB)', () => nodeSingleFileSet(smol), 3);
else console.log(`(no ${smol}: run npm run bench once to generate it)`);
process.exit(0);
