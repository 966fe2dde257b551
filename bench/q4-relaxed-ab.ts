/**
 * Paired A/B, one thread, of the q4_0 decode kernel the engine had until 2026-12-07 (q16
 * activations, the old kernels.wat dot4_q4, kept here) against one on relaxed SIMD (8-bit activations like llama.cpp's q8_0,
 * `i16x8.relaxed_dot_i8x16_i7x16_s` = x64 pmaddubsw): bench/q4-relaxed-ab.wat. Each kernel is
 * first checked against an exact JS reference of its own format on the same random weights.
 * Node 20 has relaxed SIMD only behind a flag:
 *   node --experimental-wasm-relaxed-simd --import tsx bench/q4-relaxed-ab.ts [rows, default 22528] [cols, default 2048]
 * The default is a TinyLlama-dims layer's four expert gate matrices (4·5632 × 2048, 23 MB of q4_0).
 */
import { readFileSync } from 'node:fs';
import wabtFactory from 'wabt';
import { median } from './results.ts';

const [rows = 4 * 5632, cols = 2048] = process.argv.slice(2).map(Number);
const wabt = await wabtFactory();
const features = { simd: true, relaxed_simd: true };
const module = wabt.parseWat(
  'q4-relaxed-ab.wat',
  readFileSync(new URL('./q4-relaxed-ab.wat', import.meta.url), 'utf8'),
  features,
);
(module.validate as (f: typeof features) => void)(features);
const { instance } = await WebAssembly.instantiate(new Uint8Array(module.toBinary({}).buffer) as BufferSource);
const {
  memory,
  old: oldKernel,
  new: newKernel,
} = instance.exports as {
  memory: WebAssembly.Memory;
  old: (...args: number[]) => void;
  new: (...args: number[]) => void;
};

const nBlocks = cols / 32;
const groups = rows / 4;
const weightBytes = groups * nBlocks * 64;
const scaleBytes = groups * nBlocks * 16;
const at = { w: 1 << 16, s: 0, xq16: 0, xq8: 0, xs: 0, xsum: 0, y: 0, end: 0 };
at.s = at.w + weightBytes;
at.xq16 = at.s + scaleBytes;
at.xq8 = at.xq16 + cols * 2;
at.xs = at.xq8 + cols;
at.xsum = at.xs + nBlocks * 4;
at.y = at.xsum + nBlocks * 4 + 64;
at.end = at.y + rows * 4;
memory.grow(Math.ceil(Math.max(0, at.end - memory.buffer.byteLength) / 65536));
const u8 = new Uint8Array(memory.buffer);
const f32 = new Float32Array(memory.buffer);
const i32 = new Int32Array(memory.buffer);
const dv = new DataView(memory.buffer);

let seed = 12345;
const rand = () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 2 ** 32;
};
// weights w[row][k] in -8..7, scales per (row, block), activations x[k] as i16 and i8 (same values / 256)
const w = Int8Array.from({ length: rows * cols }, () => Math.floor(rand() * 16) - 8);
const scale = Float32Array.from({ length: rows * nBlocks }, () => 0.001 + rand() * 0.01);
const x16 = Int16Array.from({ length: cols }, () => Math.floor(rand() * 65535) - 32767);
const x8 = Int8Array.from(x16, (v) => Math.max(-127, Math.round(v / 256)));
const xs = Float32Array.from({ length: nBlocks }, () => 0.0001 + rand() * 0.001);

/** The two kernels' weight layouts differ, so each A/B round repacks the weights it times. */
function packOld(): void {
  for (let g = 0; g < groups; g++)
    for (let b = 0; b < nBlocks; b++)
      for (let r = 0; r < 4; r++) {
        const row = 4 * g + r;
        const base = at.w + ((g * nBlocks + b) * 4 + r) * 16;
        for (let j = 0; j < 8; j++) {
          let lane = 0;
          for (let q = 0; q < 4; q++) lane |= (w[row * cols + b * 32 + j + 8 * q]! & 0xf) << (4 * q);
          dv.setUint16(base + 2 * j, lane, true);
        }
      }
}
function packNew(): void {
  for (let g = 0; g < groups; g++)
    for (let b = 0; b < nBlocks; b++)
      for (let r = 0; r < 4; r++) {
        const row = 4 * g + r;
        const base = at.w + ((g * nBlocks + b) * 4 + r) * 16;
        for (let j = 0; j < 16; j++)
          u8[base + j] = (w[row * cols + b * 32 + j]! + 8) | ((w[row * cols + b * 32 + j + 16]! + 8) << 4);
      }
}
for (let g = 0; g < groups; g++)
  for (let b = 0; b < nBlocks; b++)
    for (let r = 0; r < 4; r++) f32[(at.s >> 2) + (g * nBlocks + b) * 4 + r] = scale[(4 * g + r) * nBlocks + b]!;
new Int16Array(memory.buffer, at.xq16, cols).set(x16);
new Int8Array(memory.buffer, at.xq8, cols).set(x8);
f32.set(xs, at.xs >> 2);
for (let b = 0; b < nBlocks; b++) {
  let sum = 0;
  for (let j = 0; j < 32; j++) sum += x8[b * 32 + j]!;
  i32[(at.xsum >> 2) + b] = 8 * sum;
}

/** y[row] in float64 from exact integer block sums, and Σ|block terms| (the scale of f32 rounding). */
function reference(x: ArrayLike<number>): { y: Float64Array; magnitude: Float64Array } {
  const y = new Float64Array(rows);
  const magnitude = new Float64Array(rows);
  for (let row = 0; row < rows; row++)
    for (let b = 0; b < nBlocks; b++) {
      let s = 0;
      for (let j = 0; j < 32; j++) s += w[row * cols + b * 32 + j]! * x[b * 32 + j]!;
      const term = s * xs[b]! * scale[row * nBlocks + b]!;
      y[row] += term;
      magnitude[row] += Math.abs(term);
    }
  return { y, magnitude };
}
function check(name: string, expected: { y: Float64Array; magnitude: Float64Array }): void {
  let worst = 0;
  for (let row = 0; row < rows; row++) {
    const got = f32[(at.y >> 2) + row]!;
    worst = Math.max(worst, Math.abs(got - expected.y[row]!) / expected.magnitude[row]!);
  }
  // f32 accumulation over nBlocks terms: a few ulps of the terms' magnitude
  if (worst > 1e-5) throw new Error(`${name}: error ${worst} of Σ|terms| against the exact reference`);
  console.log(`${name}: matches its exact reference (worst error ${worst.toExponential(1)} of Σ|terms|)`);
}
const runOld = () => oldKernel(at.w, at.s, at.xq16, at.xs, nBlocks, groups, at.y);
const runNew = () => newKernel(at.w, at.s, at.xq8, at.xs, nBlocks, groups, at.y, at.xsum);
packOld();
runOld();
check('old (q16, dot4_q4)', reference(x16));
packNew();
runNew();
check('new (q8, relaxed dot)', reference(x8));

// Alternate rounds so a noisy neighbour hits both alike; each round repacks its layout (23 MB, past L2).
const times = { old: [] as number[], new: [] as number[] };
for (let round = 0; round < 12; round++) {
  for (const [name, pack, run] of [
    ['old', packOld, runOld],
    ['new', packNew, runNew],
  ] as const) {
    pack();
    for (let rep = 0; rep < 5; rep++) {
      const t = performance.now();
      run();
      times[name].push(performance.now() - t);
    }
  }
}
const gmacs = (ms: number) => ((rows * cols) / ms / 1e6).toFixed(2);
const [o, n] = [median(times.old), median(times.new)];
console.log(
  `rows ${rows} × cols ${cols} (${(weightBytes / 1e6).toFixed(1)} MB of nibbles), one thread, median of ${times.old.length}: old ${o.toFixed(2)} ms (${gmacs(o)} GMAC/s), new ${n.toFixed(2)} ms (${gmacs(n)} GMAC/s): new ÷ old speed ${(o / n).toFixed(2)}×`,
);
