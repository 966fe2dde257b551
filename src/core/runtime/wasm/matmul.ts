/**
 * y [m, n] = W [n, k] · x [m, k]ᵀ on packed weights. Quantized weights first quantize the
 * activations to q16 (per 32-block i16 + f32 scale, see kernels.wat) into scratch; a batch
 * quantizes each distinct input once (q, k and v share theirs) and hands every matmul of the
 * batch to the row pool at once (one barrier, see parallel.ts).
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
  private readonly xq: number; // i16 [blocks × 32]
  private readonly xs: number; // f32 [blocks]
  /** q16 scratch capacity in 32-value blocks: maxM rows of maxK (a decode batch of k experts fits too). */
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
  }

  /** y // [m, mat.n] = mat // [n, k] · x // [m, k]. Pointers are f32 byte offsets. */
  run(mat: PackedMatrix, x: number, y: number, m: number): void {
    this.runBatch([{ mat, x, y }], m);
  }

  /** Every item's matmul over m rows; the items must not read each other's outputs. */
  runBatch(items: readonly MatmulItem[], m: number): void {
    assert(m >= 1 && m <= this.maxM, `wasm matmul: m ${m} beyond scratch (${this.maxM})`);
    const jobs: RowJob[] = [];
    const quantized = new Map<number, { block: number; k: number }>(); // x pointer -> its q16 blocks
    let nextBlock = 0;
    for (const { mat, x, y } of items) {
      assert(mat.k <= this.maxK, `wasm matmul: k ${mat.k} beyond scratch (${this.maxK})`);
      const work = mat.n * mat.k * m;
      if (mat.dtype === 'f32') {
        jobs.push({ kernel: 'matmul_f32', args: [mat.quants, x, y, mat.k, mat.n, m], n: mat.n, work });
        continue;
      }
      assert(mat.k % 32 === 0, `wasm matmul: quantized k ${mat.k} is not a multiple of 32`);
      let input = quantized.get(x);
      if (input === undefined) {
        const blocks = (m * mat.k) / 32;
        assert(nextBlock + blocks <= this.blocks, `wasm matmul: batch inputs need more than ${this.blocks} q16 blocks`);
        input = { block: nextBlock, k: mat.k };
        nextBlock += blocks;
        this.kernels.quantize_q16(x, this.xq + input.block * 64, this.xs + input.block * 4, blocks);
        quantized.set(x, input);
      }
      assert(input.k === mat.k, `wasm matmul: one input read with k ${input.k} and ${mat.k} in a batch`);
      const block = input.block;
      const kernel = mat.dtype === 'q8_0' ? 'matmul_q8' : 'matmul_q4';
      jobs.push({
        kernel,
        args: [mat.quants, mat.scales, this.xq + block * 64, this.xs + block * 4, y, mat.k, mat.n, m],
        n: mat.n,
        work,
      });
    }
    this.rows.runBatch(jobs);
  }
}
