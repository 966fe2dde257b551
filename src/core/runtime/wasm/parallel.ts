/**
 * Row-parallel execution of the matmul kernels. A matmul's rows are independent, so a job
 * is (kernel, arguments, n rows) and each thread takes a contiguous slice of rows.
 * `SerialRows` runs everything on the calling thread; `threads.ts` provides the
 * SharedArrayBuffer worker pool with the same interface.
 */
import type { KernelExports } from './kernels.ts';

export type RowKernel = 'matmul_q8' | 'matmul_q4' | 'matmul_f32';

/** Stable numeric codes for the job mailbox shared with worker threads. */
export const ROW_KERNEL_CODES = { matmul_q8: 1, matmul_q4: 2, matmul_f32: 3 } as const satisfies Record<RowKernel, number>;

export interface RowParallel {
  readonly threads: number;
  /**
   * Runs `kernel(...args, rowStart, rowEnd)` over rows [0, n), split across threads; returns
   * when every slice is done. `work` = multiply-adds of the whole job (small jobs stay serial).
   */
  run(kernel: RowKernel, args: number[], n: number, work: number): void;
  dispose(): void;
}

/** Row slice [start, end) of thread `index` out of `threads` (rows split as evenly as possible). */
export function rowSlice(n: number, threads: number, index: number): [number, number] {
  const base = Math.floor(n / threads);
  const extra = n % threads;
  const start = index * base + Math.min(index, extra);
  return [start, start + base + (index < extra ? 1 : 0)];
}

export function callRowKernel(kernels: KernelExports, kernel: RowKernel, args: number[], rowStart: number, rowEnd: number): void {
  if (rowEnd <= rowStart) return;
  const [a0, a1, a2, a3, a4, a5, a6, a7] = args as [number, number, number, number, number, number, number, number];
  switch (kernel) {
    case 'matmul_q8': kernels.matmul_q8(a0, a1, a2, a3, a4, a5, a6, a7, rowStart, rowEnd); break;
    case 'matmul_q4': kernels.matmul_q4(a0, a1, a2, a3, a4, a5, a6, a7, rowStart, rowEnd); break;
    case 'matmul_f32': kernels.matmul_f32(a0, a1, a2, a3, a4, a5, rowStart, rowEnd); break;
    default: { const never: never = kernel; throw new Error(`wasm: unknown row kernel ${String(never)}`); }
  }
}

export class SerialRows implements RowParallel {
  readonly threads = 1;
  constructor(private readonly kernels: KernelExports) {}
  run(kernel: RowKernel, args: number[], n: number, _work: number): void {
    callRowKernel(this.kernels, kernel, args, 0, n);
  }
  dispose(): void {}
}
