/**
 * Paired A/B of the WASM pool's wake factor (Node, 2 threads): one session per factor on the
 * same GGUF, decode tokens alternating between them, so a noisy neighbour hits every factor
 * alike. Prints each factor's median ms per decode token.
 *   npx tsx bench/pool-ab.ts <model.gguf> [factors, default 1,4,8]
 * The bench fixtures live in $MOE_BENCH_DIR (default /tmp/moe-studio-bench) once `npm run bench` ran.
 */
import { nodeFileSource } from '../src/cli/node-io.ts';
import { loadGgufModel } from '../src/core/model/gguf-model.ts';
import { createWasmBackend } from '../src/core/runtime/wasm/backend.ts';
import { nodeWorkerFactory } from '../src/core/runtime/wasm/threads.node.ts';
import { median } from './results.ts';

const [path, factorList = '1,4,8'] = process.argv.slice(2);
if (!path) throw new Error('usage: npx tsx bench/pool-ab.ts <model.gguf> [wake factors, e.g. 1,4,8]');
const { weights } = await loadGgufModel(await nodeFileSource(path));
const vocab = weights.spec.vocab;
const factors = factorList.split(',').map(Number);
const sessions = await Promise.all(
  factors.map(async (wakeFactor) =>
    (await createWasmBackend({ threads: 2, workerFactory: nodeWorkerFactory(), wakeFactor })).createSession(weights, {
      maxContext: 1024,
    }),
  ),
);
const times = factors.map(() => [] as number[]);
for (let round = 0; round < 3; round++) {
  for (const s of sessions) {
    s.truncate(0);
    await s.forward(Array.from({ length: 16 }, (_, i) => (i * 37 + 5) % vocab));
  }
  for (let i = 0; i < 100; i++) {
    for (let c = 0; c < sessions.length; c++) {
      const t0 = performance.now();
      await sessions[c]!.forward([(i * 13 + 300) % vocab]);
      times[c]!.push(performance.now() - t0);
    }
  }
}
factors.forEach((f, c) =>
  console.log(
    `wake factor ${f}: median ${median(times[c]!).toFixed(3)} ms per decode token (${times[c]!.length} tokens)`,
  ),
);
for (const s of sessions) s.dispose();
process.exit(0);
