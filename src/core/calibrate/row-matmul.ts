/**
 * The one matrix product calibration spends its time in, out[t, r] = Σ_c x[t, c] · W[r, c],
 * on the WASM SIMD kernel `matmul_f32` (runtime/wasm/kernels.wat) when it has been prepared,
 * else in plain JS. The zoo's calibration takes 3.2× less CPU with the kernel than with the JS
 * loop (bench/RESULTS.md "Router calibration", both side by side), and calibration runs every calibration
 * token through every layer, so this is most of its time.
 *
 * Numerics: the kernel sums in f32 (four lanes, then across), the JS loop in f64, so results
 * differ by float32 rounding of the sums (relative ~1e-6 on these sizes); calibration tests
 * compare with the token-by-token forward under a stated tolerance, never bit for bit.
 *
 * Memory: one scratch WebAssembly.Memory of at most SCRATCH_BYTES, reused: W is copied in
 * blocks of ≤ W_BLOCK_BYTES rows and x in chunks of ≤ X_CHUNK_BYTES, so no model size makes the
 * scratch grow past it (a wasm memory never shrinks).
 */
import { assert } from '../errors.ts';
import { instantiateKernels, type KernelExports, wasmSimdSupported } from '../runtime/wasm/kernels.ts';

const PAGE_BYTES = 65536;
/** W rows copied per kernel pass: 8 MiB keeps the scratch small and the copy ≪ the product for ≥ 8 rows of x. */
const W_BLOCK_BYTES = 8 << 20;
/** x rows copied per kernel call, and the y block they produce: 2 MiB each. */
const X_CHUNK_BYTES = 2 << 20;
/** The scratch memory's bound: a W block, an x chunk, a y block, alignment. */
const SCRATCH_BYTES = W_BLOCK_BYTES + 2 * X_CHUNK_BYTES + 3 * 64;

interface Scratch {
  memory: WebAssembly.Memory;
  kernels: KernelExports;
}

let scratch: Scratch | undefined;
let preparing: Promise<boolean> | undefined;
/** False: every call takes the JS loop (bench/calibration.ts times both paths side by side). */
let kernelEnabled = true;

/** Turns the kernel path off or back on for this thread; for benchmarks, not a user setting. */
export function setRowMatmulKernel(enabled: boolean): void {
  kernelEnabled = enabled;
}

/**
 * Instantiates the kernel once per thread (Node process, worker, page); later matmulRows calls use
 * it. Resolves false (and matmulRows stays on JS) where WebAssembly SIMD is missing.
 */
export function prepareRowMatmul(): Promise<boolean> {
  preparing ??= (async () => {
    if (typeof WebAssembly === 'undefined' || !wasmSimdSupported()) return false;
    const memory = new WebAssembly.Memory({ initial: Math.ceil(SCRATCH_BYTES / PAGE_BYTES), maximum: 65536 });
    scratch = { memory, kernels: await instantiateKernels(memory, false) };
    return true;
  })().catch(() => false);
  return preparing;
}

/** Whether matmulRows runs on the kernel (after prepareRowMatmul resolved true). */
export function rowMatmulOnWasm(): boolean {
  return scratch !== undefined && kernelEnabled;
}

/**
 * out[t, r] = Σ_c x[t, c] · W[r, c]. out // [nRows, n]; x // [nRows, k]; W // [n, k].
 * `forceJs` runs the JS loop whatever was prepared (the reference the kernel path is tested against).
 */
export function matmulRows(
  out: Float32Array,
  x: Float32Array,
  W: Float32Array,
  nRows: number,
  n: number,
  k: number,
  forceJs = false,
): void {
  assert(W.length >= n * k && x.length >= nRows * k && out.length >= nRows * n, 'matmulRows: buffers too small');
  if (scratch && kernelEnabled && !forceJs && nRows > 0 && n > 0 && k > 0 && 4 * k <= X_CHUNK_BYTES)
    matmulRowsWasm(scratch, out, x, W, nRows, n, k);
  else matmulRowsJs(out, x, W, nRows, n, k);
}

function matmulRowsWasm(
  { memory, kernels }: Scratch,
  out: Float32Array,
  x: Float32Array,
  W: Float32Array,
  nRows: number,
  n: number,
  k: number,
): void {
  const heap = new Float32Array(memory.buffer);
  const wRows = Math.max(1, Math.min(n, Math.floor(W_BLOCK_BYTES / (4 * k)))); // W rows per block
  const xRows = Math.max(1, Math.min(nRows, Math.floor(X_CHUNK_BYTES / (4 * Math.max(k, wRows))))); // x rows per chunk
  const wPtr = 64;
  const xPtr = wPtr + Math.ceil((4 * wRows * k) / 64) * 64;
  const yPtr = xPtr + Math.ceil((4 * xRows * k) / 64) * 64;
  assert(yPtr + 4 * xRows * wRows <= memory.buffer.byteLength, 'matmulRows: scratch too small');
  for (let r0 = 0; r0 < n; r0 += wRows) {
    const rows = Math.min(wRows, n - r0);
    heap.set(W.subarray(r0 * k, (r0 + rows) * k), wPtr / 4);
    for (let t0 = 0; t0 < nRows; t0 += xRows) {
      const m = Math.min(xRows, nRows - t0);
      heap.set(x.subarray(t0 * k, (t0 + m) * k), xPtr / 4);
      kernels.matmul_f32(wPtr, xPtr, yPtr, k, rows, m, 0, rows); // y [m, rows]
      const y = yPtr / 4;
      if (rows === n) out.set(heap.subarray(y, y + m * n), t0 * n);
      else for (let t = 0; t < m; t++) out.set(heap.subarray(y + t * rows, y + (t + 1) * rows), (t0 + t) * n + r0);
    }
  }
}

/** The JS loop: four rows of x per pass over W, sums in f64 like ops.matmul. */
function matmulRowsJs(out: Float32Array, x: Float32Array, W: Float32Array, nRows: number, n: number, k: number): void {
  let t = 0;
  for (; t + 4 <= nRows; t += 4) {
    const x0 = t * k;
    const x1 = x0 + k;
    const x2 = x1 + k;
    const x3 = x2 + k;
    for (let r = 0; r < n; r++) {
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      const w0 = r * k;
      for (let c = 0; c < k; c++) {
        const w = W[w0 + c];
        s0 += x[x0 + c] * w;
        s1 += x[x1 + c] * w;
        s2 += x[x2 + c] * w;
        s3 += x[x3 + c] * w;
      }
      out[t * n + r] = s0;
      out[(t + 1) * n + r] = s1;
      out[(t + 2) * n + r] = s2;
      out[(t + 3) * n + r] = s3;
    }
  }
  for (; t < nRows; t++) {
    for (let r = 0; r < n; r++) {
      let s = 0;
      for (let c = 0; c < k; c++) s += x[t * k + c] * W[r * k + c];
      out[t * n + r] = s;
    }
  }
}
