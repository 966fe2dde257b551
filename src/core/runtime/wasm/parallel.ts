/**
 * Row-parallel execution of the matmul kernels. A matmul's rows are independent, so a job
 * is (kernel, arguments, n rows) and each thread takes a contiguous slice of rows. Several
 * independent jobs (q, k and v; every chosen expert's gate and up) go out as one batch: one
 * wake-up and one barrier instead of one per matmul, which is what decode time was lost to.
 * `SerialRows` runs everything on the calling thread; `threads.ts` provides the
 * SharedArrayBuffer worker pool with the same interface.
 */
import type { BankKernelExports, KernelExports } from './kernels.ts';

/** The row kernels: a matmul's rows, or attention's query heads (attn_heads). */
export type RowKernel = 'matmul_q8' | 'matmul_q4' | 'matmul_f32' | 'attn_heads';

/** Stable numeric codes for the job mailbox shared with worker threads. */
export const ROW_KERNEL_CODES = { matmul_q8: 1, matmul_q4: 2, matmul_f32: 3, attn_heads: 4 } as const satisfies Record<
  RowKernel,
  number
>;

/**
 * What one multiply-add of attention (attn_heads: f32 dots over the KV cache, which decode
 * reads from DRAM since the weights stream past it, and an exp per score) costs in multiply-adds
 * of a quantized matmul. Measured in Chromium on the SmolLM2-dims MoE at 128–152 positions, one
 * thread, with timers patched into forward.ts for the run (a scratch harness, not kept): a
 * layer's 9 heads (~161,000 multiply-adds) took 78 µs, a q4_0 matmul runs ~13 MACs a ns: a ratio
 * of ~6 (~10 before attn_scores took four positions at a time). Counted as plain multiply-adds,
 * a decode token's attention stayed on the driver (below MIN_PARALLEL_MACS), the worker fell
 * asleep meanwhile, and the projection after it ran on the driver too. A scratch paired A/B (one
 * page, tokens alternating between 2-thread sessions weighting it differently; not kept): decode
 * 19.6 → 17.1–17.6 ms a token on q4_0 with the cost counted (4, 8 and 16 alike), 26.1 → 23.2–24.0
 * on q8_0; with the faster kernel 17.7 → 15.6 ms (cost 4 and 8 alike). What the repo reproduces:
 * `npm run bench` (bench/RESULTS.md "s17-smollm2", "s17-tiny22") and `npx tsx bench/kernels.ts`.
 */
export const ATTENTION_COST_PER_MAC = 6;

/** The `work` of attention for `heads` query heads over `nPos` cached positions (scores and mix). */
export function attentionWork(heads: number, nPos: number, headDim: number): number {
  return 2 * heads * nPos * headDim * ATTENTION_COST_PER_MAC;
}

/**
 * `kernel(...args, rowStart, rowEnd)` over rows [0, n); `work` = its cost in multiply-adds of a
 * quantized matmul (what MIN_PARALLEL_MACS and the unit size are in): a matmul's multiply-adds,
 * attention's times ATTENTION_COST_PER_MAC.
 */
export interface RowJob {
  kernel: RowKernel;
  args: number[];
  n: number;
  work: number;
  /**
   * args[arg] points at scratch the kernel writes: thread i gets args[arg] + i · bytes, so
   * threads that claim rows of several jobs of a batch never share it (attention's score rows).
   */
  threadScratch?: { arg: number; bytes: number };
  /** The memory holding a matmul's weights (PackedMatrix.memory; 0 or absent: main). Bank m's instance runs it. */
  memory?: number;
}

export interface RowParallel {
  readonly threads: number;
  /**
   * Runs every job of the batch, each split by rows across threads; returns when all are
   * done. The jobs must be independent (no job reads another's output). Small batches
   * (total work) stay on the calling thread.
   */
  runBatch(jobs: readonly RowJob[]): void;
  dispose(): void;
}

/**
 * Rows a thread's unit of work is a multiple of for `kernel` over `m` tokens: the quantized
 * matmuls run four rows at a time (dot4_q8 / dot4_q4, the 4-row groups of the packed layout),
 * so units on 4-row boundaries keep every row but a matrix's last n % 4 on that path. Over a
 * prefill chunk (m ≥ 2) the tile kernels add into y[t, rows] once per block, so a unit is 16
 * rows: its part of every y row is whole 64-byte cache lines (the arena aligns to 64), and two
 * threads never write one line (shared lines cost more than the tile saves). matmul_f32 and
 * attention heads have no row groups.
 */
export function rowQuantum(kernel: RowKernel, m = 1): number {
  if (kernel !== 'matmul_q8' && kernel !== 'matmul_q4') return 1;
  return m >= 2 ? 16 : 4;
}

/** Where matmul_q8 / matmul_q4 take m among their args (w, ws, xq, xs, y, k, n, m: matmul.ts). */
export const QUANT_MATMUL_M_ARG = 7;

/** A job's tokens, for rowQuantum: the quantized matmuls' m argument (1 for the other kernels). */
export function jobTokens(job: Pick<RowJob, 'kernel' | 'args'>): number {
  return job.kernel === 'matmul_q8' || job.kernel === 'matmul_q4' ? (job.args[QUANT_MATMUL_M_ARG] ?? 1) : 1;
}

/**
 * `kernel` over rows [rowStart, rowEnd). A matmul whose weights are in weight bank `memory`
 * (≥ 1) runs on that bank's instance, `banks[memory - 1]`; everything else on `kernels`.
 */
export function callRowKernel(
  kernels: KernelExports,
  kernel: RowKernel,
  args: number[],
  rowStart: number,
  rowEnd: number,
  memory = 0,
  banks: readonly BankKernelExports[] = [],
): void {
  if (rowEnd <= rowStart) return;
  const [a0, a1, a2, a3, a4, a5, a6, a7] = args as [number, number, number, number, number, number, number, number];
  const matmuls: BankKernelExports | undefined = memory === 0 ? kernels : banks[memory - 1];
  if (!matmuls) throw new Error(`wasm: no kernels for weight memory ${memory}`);
  switch (kernel) {
    case 'matmul_q8':
      matmuls.matmul_q8(a0, a1, a2, a3, a4, a5, a6, a7, rowStart, rowEnd);
      break;
    case 'matmul_q4':
      matmuls.matmul_q4(a0, a1, a2, a3, a4, a5, a6, a7, rowStart, rowEnd);
      break;
    case 'matmul_f32':
      matmuls.matmul_f32(a0, a1, a2, a3, a4, a5, rowStart, rowEnd);
      break;
    case 'attn_heads':
      kernels.attn_heads(a0, a1, a2, a3, a4, a5, a6, a7, rowStart, rowEnd);
      break;
    default: {
      const never: never = kernel;
      throw new Error(`wasm: unknown row kernel ${String(never)}`);
    }
  }
}

export class SerialRows implements RowParallel {
  readonly threads = 1;
  constructor(
    private readonly kernels: KernelExports,
    /** Bank instances, memory 1… (a session past one memory). */
    private readonly banks: readonly BankKernelExports[] = [],
  ) {}
  runBatch(jobs: readonly RowJob[]): void {
    for (const job of jobs) callRowKernel(this.kernels, job.kernel, job.args, 0, job.n, job.memory, this.banks);
  }
  dispose(): void {}
}
