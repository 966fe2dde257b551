/**
 * y [m, n] = W [n, k] · x [m, k]ᵀ on packed weights. Quantized weights first quantize the
 * activations into scratch (see kernels.wat): q8_0 weights read q16 (per 32-block i16 + f32
 * scale), q4_0 weights q8x (per 32-block i8, f32 scale and 8·Σq, as llama.cpp's q8_0
 * activations); a batch quantizes each distinct input once per format (q, k and v share
 * theirs) and hands every matmul of the batch to the row pool at once (one barrier, see
 * parallel.ts).
 */
import { assert } from '../../errors.ts';
import type { WasmArena } from './arena.ts';
import type { KernelExports } from './kernels.ts';
import type { PackedMatrix } from './layout.ts';
import type { RowJob, RowParallel } from './parallel.ts';

/** One matmul of a batch: y // [m, mat.n] = mat // [n, k] · x // [m, k] (f32 byte offsets). */
export interface MatmulItem {
  mat: PackedMatrix;
  x: number;
  y: number;
}

export class WasmMatmul {
  private readonly xq: number; // q16: i16 [blocks × 32]
  private readonly xs: number; // q16: f32 [blocks]
  private readonly xq8: number; // q8x: i8 [blocks × 32]
  private readonly xs8: number; // q8x: {f32 scale, i32 8·Σq} [blocks]
  /** Scratch capacity of each format in 32-value blocks: maxM rows of maxK (a decode batch of k experts fits too). */
  private readonly blocks: number;

  constructor(
    private readonly kernels: KernelExports,
    private readonly rows: RowParallel,
    arena: WasmArena,
    private readonly maxM: number,
    private readonly maxK: number,
  ) {
    this.blocks = maxM * Math.ceil(maxK / 32);
    this.xq = arena.alloc(this.blocks * 64, 'q16 activations');
    this.xs = arena.alloc(this.blocks * 4, 'q16 scales');
    this.xq8 = arena.alloc(this.blocks * 32, 'q8x activations');
    this.xs8 = arena.alloc(this.blocks * 8, 'q8x scales and sums');
  }

  /** y // [m, mat.n] = mat // [n, k] · x // [m, k]. Pointers are f32 byte offsets. */
  run(mat: PackedMatrix, x: number, y: number, m: number): void {
    this.runBatch([{ mat, x, y }], m);
  }

  /** Every item's matmul over m rows; the items must not read each other's outputs. */
  runBatch(items: readonly MatmulItem[], m: number): void {
    assert(m >= 1 && m <= this.maxM, `wasm matmul: m ${m} beyond scratch (${this.maxM})`);
    const jobs: RowJob[] = [];
    // "x pointer:format" -> its blocks in that format's scratch
    const quantized = new Map<string, { block: number; k: number }>();
    const nextBlock = { q16: 0, q8x: 0 };
    for (const { mat, x, y } of items) {
      assert(mat.k <= this.maxK, `wasm matmul: k ${mat.k} beyond scratch (${this.maxK})`);
      const work = mat.n * mat.k * m;
      if (mat.dtype === 'f32') {
        jobs.push({
          kernel: 'matmul_f32',
          args: [mat.quants, x, y, mat.k, mat.n, m],
          n: mat.n,
          work,
          memory: mat.memory,
        });
        continue;
      }
      assert(mat.k % 32 === 0, `wasm matmul: quantized k ${mat.k} is not a multiple of 32`);
      const format = mat.dtype === 'q8_0' ? 'q16' : 'q8x';
      let input = quantized.get(`${x}:${format}`);
      if (input === undefined) {
        const blocks = (m * mat.k) / 32;
        assert(
          nextBlock[format] + blocks <= this.blocks,
          `wasm matmul: batch inputs need more than ${this.blocks} ${format} blocks`,
        );
        input = { block: nextBlock[format], k: mat.k };
        nextBlock[format] += blocks;
        if (format === 'q16')
          this.kernels.quantize_q16(x, this.xq + input.block * 64, this.xs + input.block * 4, blocks);
        else this.kernels.quantize_q8x(x, this.xq8 + input.block * 32, this.xs8 + input.block * 8, blocks);
        quantized.set(`${x}:${format}`, input);
      }
      assert(input.k === mat.k, `wasm matmul: one input read with k ${input.k} and ${mat.k} in a batch`);
      const block = input.block;
      const [kernel, xq, xs] =
        format === 'q16'
          ? (['matmul_q8', this.xq + block * 64, this.xs + block * 4] as const)
          : (['matmul_q4', this.xq8 + block * 32, this.xs8 + block * 8] as const);
      jobs.push({
        kernel,
        args: [mat.quants, mat.scales, xq, xs, y, mat.k, mat.n, m],
        n: mat.n,
        work,
        memory: mat.memory,
      });
    }
    this.rows.runBatch(jobs);
  }
}
