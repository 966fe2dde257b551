/**
 * Kernel micro-benchmark (Node, one thread): GMAC/s of each wasm matmul kernel on
 * SmolLM2-dims shapes, best of many repetitions (the minimum is robust on a shared machine).
 *   npx tsx bench/kernels.ts
 * Then attn_heads for one decode token (µs). 1 MAC = 2 FLOP. Numbers go into docs/wasm-backend.md by hand, with the date and machine.
 */
import { cpus } from 'node:os';
import { quantize } from '../src/core/quant/convert.ts';
import { fillNormal, mulberry32 } from '../src/core/model/random.ts';
import { WasmArena } from '../src/core/runtime/wasm/arena.ts';
import { attnHeadsDims, instantiateKernels } from '../src/core/runtime/wasm/kernels.ts';
import { packMatrix } from '../src/core/runtime/wasm/layout.ts';
import { WasmMatmul } from '../src/core/runtime/wasm/matmul.ts';
import { SerialRows } from '../src/core/runtime/wasm/parallel.ts';
import { matmul } from '../src/core/runtime/cpu/ops.ts';

const SHAPES: [string, number, number][] = [
  ['expert gate/up [1536, 576]', 1536, 576],
  ['expert down [576, 1536]', 576, 1536],
  ['lm_head [49152, 576]', 49152, 576],
];

async function main(): Promise<void> {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
  const kernels = await instantiateKernels(memory, false);
  const arena = new WasmArena(memory);
  const maxM = 64;
  const matmuls = new WasmMatmul(kernels, new SerialRows(kernels), arena, maxM, 1536);
  const x = arena.alloc(maxM * 1536 * 4, 'x');
  arena.f32(x, maxM * 1536).set(fillNormal(new Float32Array(maxM * 1536), mulberry32(1), 1));
  const y = arena.alloc(maxM * 49152 * 4, 'y');
  console.log(`${cpus()[0]?.model}, Node ${process.version}`);
  console.log('| shape | dtype | m | GMAC/s (best) |\n|---|---|---:|---:|');
  for (const [label, n, k] of SHAPES) {
    const values = fillNormal(new Float32Array(n * k), mulberry32(n + k), 1 / Math.sqrt(k));
    for (const dtype of ['q4_0', 'q8_0', 'f32'] as const) {
      const packed = packMatrix(arena, quantize('w', values, [n, k], dtype));
      for (const m of [1, 16]) {
        if (n * m > 49152 * 16 || (n === 49152 && m > 1)) continue;
        let best = Infinity;
        const reps = Math.max(5, Math.round(3e8 / (n * k * m)));
        for (let r = 0; r < reps; r++) {
          const t0 = performance.now();
          matmuls.run(packed, x, y, m);
          best = Math.min(best, performance.now() - t0);
        }
        console.log(`| ${label} | ${dtype} | ${m} | ${((n * k * m) / best / 1e6).toFixed(1)} |`);
      }
    }
  }
  // Plain JS (the CPU reference's matmul, f32) for scale.
  const [n, k] = [1536, 576];
  const w = fillNormal(new Float32Array(n * k), mulberry32(3), 0.04);
  const xs = fillNormal(new Float32Array(k), mulberry32(4), 1);
  const out = new Float32Array(n);
  let best = Infinity;
  for (let r = 0; r < 30; r++) {
    const t0 = performance.now();
    matmul(out, w, xs, n, k);
    best = Math.min(best, performance.now() - t0);
  }
  console.log(`| expert gate/up [1536, 576] | f32, plain JS (cpu/ops.ts) | 1 | ${((n * k) / best / 1e6).toFixed(1)} |`);
  attentionRows(kernels, arena);
}

/** attn_heads for one decode token of the SmolLM2-dims MoE (9 heads of 64, 3 KV heads), KV cache in cache. */
function attentionRows(kernels: Awaited<ReturnType<typeof instantiateKernels>>, arena: WasmArena): void {
  const [heads, kvHeads, headDim, maxPos] = [9, 3, 64, 1024];
  const kvDim = kvHeads * headDim;
  const q = arena.alloc(heads * headDim * 4, 'attn q');
  const keys = arena.alloc(maxPos * kvDim * 4, 'attn keys');
  const values = arena.alloc(maxPos * kvDim * 4, 'attn values');
  const out = arena.alloc(heads * headDim * 4, 'attn out');
  const scores = arena.alloc(heads * maxPos * 4, 'attn scores');
  arena.f32(q, heads * headDim).set(fillNormal(new Float32Array(heads * headDim), mulberry32(5), 1));
  arena.f32(keys, maxPos * kvDim).set(fillNormal(new Float32Array(maxPos * kvDim), mulberry32(6), 1));
  arena.f32(values, maxPos * kvDim).set(fillNormal(new Float32Array(maxPos * kvDim), mulberry32(7), 1));
  const dims = attnHeadsDims(headDim, heads / kvHeads, kvHeads);
  console.log('\n| attn_heads, one token | positions | µs (best) | GMAC/s |\n|---|---:|---:|---:|');
  for (const nPos of [140, 1024]) {
    let best = Infinity;
    for (let r = 0; r < Math.round(2e8 / (heads * nPos * headDim)); r++) {
      const t0 = performance.now();
      kernels.attn_heads(q, keys, values, out, scores, dims, nPos, maxPos * 4, 0, heads);
      best = Math.min(best, performance.now() - t0);
    }
    const macs = 2 * heads * nPos * headDim;
    console.log(
      `| 9 heads × 64, 3 KV heads | ${nPos} | ${(best * 1000).toFixed(1)} | ${(macs / best / 1e6).toFixed(2)} |`,
    );
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
