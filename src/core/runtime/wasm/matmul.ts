/**
 * y [m, n] = W [n, k] · x [m, k]ᵀ on packed weights. Quantized weights first quantize the
 * activations to q16 (per 32-block i16 + f32 scale, see kernels.wat) into scratch.
 */
import { assert } from '../../errors.ts';
import type { WasmArena } from './arena.ts';
import type { KernelExports } from './kernels.ts';
import type { PackedMatrix } from './layout.ts';
import type { RowParallel } from './parallel.ts';

export class WasmMatmul {
  private readonly xq: number; // i16 [maxM, maxK]
  private readonly xs: number; // f32 [maxM, maxK/32]

  constructor(
    private readonly kernels: KernelExports,
    private readonly rows: RowParallel,
    arena: WasmArena,
    private readonly maxM: number,
    private readonly maxK: number,
  ) {
    const padded = Math.ceil(maxK / 32) * 32;
    this.xq = arena.alloc(maxM * padded * 2, 'q16 activations');
    this.xs = arena.alloc(maxM * (padded / 32) * 4, 'q16 scales');
  }

  /** y // [m, mat.n] = mat // [n, k] · x // [m, k]. Pointers are f32 byte offsets. */
  run(mat: PackedMatrix, x: number, y: number, m: number): void {
    assert(m >= 1 && m <= this.maxM && mat.k <= this.maxK, `wasm matmul: m ${m} or k ${mat.k} beyond scratch (${this.maxM}, ${this.maxK})`);
    if (mat.dtype === 'f32') {
      this.rows.run('matmul_f32', [mat.quants, x, y, mat.k, mat.n, m], mat.n, mat.n * mat.k * m);
      return;
    }
    this.kernels.quantize_q16(x, this.xq, this.xs, (m * mat.k) / 32);
    const kernel = mat.dtype === 'q8_0' ? 'matmul_q8' : 'matmul_q4';
    this.rows.run(kernel, [mat.quants, mat.scales, this.xq, this.xs, y, mat.k, mat.n, m], mat.n, mat.n * mat.k * m);
  }
}
