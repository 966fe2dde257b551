/**
 * The thread pool: `threads - 1` workers share the session's wasm memory (shared
 * WebAssembly.Memory, so SharedArrayBuffer: the page must be cross-origin isolated) and each
 * instantiates the same kernels module on it. The calling thread stays the driver: for each
 * batch of independent matmuls it writes the jobs into a mailbox in shared memory, cut into
 * units of whole row groups (~2^18 multiply-adds each), bumps a generation counter, and then
 * every thread, the driver included, claims units with one atomic add until none are left;
 * the driver finally waits until every worker has counted itself done. Claiming instead of
 * fixed halves means a worker that wakes late or loses its core to another process delays
 * the batch by at most one unit: on this shared 2-vCPU machine, a paired same-process A/B
 * (modes alternating token by token, through a temporary switch between the two schemes that
 * was not kept) gave 30.9 against 46.5 ms per decode token while something else held a
 * core, and 24-25 ms for both when it was quiet. A row's bits do not
 * depend on which thread computes it (dot4 and single-row paths agree), so results are the
 * same for every thread count and schedule.
 *
 * Waiting: both sides spin for SPIN_MICROS before sleeping in Atomics.wait, and announce a
 * sleep (ASLEEP counters) so the other side calls Atomics.notify only when someone sleeps.
 * A decode token is ~120 batches with short serial steps between them (norms, RoPE, routing);
 * waking a sleeping thread costs 30–100 µs, so the spin should outlast most of those gaps.
 *
 * Mailbox (Int32 slots at `mailbox`):
 *   [GENERATION] batch counter  [COUNT] jobs in the batch  [DONE] workers finished
 *   [READY] workers started     [EXIT] 1 = stop
 *   [WORKERS_ASLEEP] workers in Atomics.wait   [DRIVER_ASLEEP] 1 while the driver sleeps
 *   [FAILED] 1 once a kernel threw in the pool (the thread still counts itself done; the pool is broken)
 *   [NEXT_UNIT] next unit to claim   [UNITS] units in the batch
 *   [JOBS + j * JOB_SLOTS ..] job j: ROW_KERNEL_CODES, n rows, rows per unit, first unit,
 *                              per-thread scratch arg (-1: none) and its bytes per thread,
 *                              the weights' memory (0: main, m: bank m), 8 args
 *
 * A session past one memory (memory-plan.ts planWasmMemories) hands every worker its weight
 * banks too; each thread instantiates the bank build once per bank (kernels.wat's header) and
 * runs a job on the instance of the job's memory.
 */
import { BackendError } from '../../errors.ts';
import type { WasmArena } from './arena.ts';
import { compileKernels, instantiateBankKernels, type BankKernelExports, type KernelExports } from './kernels.ts';
import {
  ROW_KERNEL_CODES,
  callRowKernel,
  jobTokens,
  rowQuantum,
  type RowJob,
  type RowKernel,
  type RowParallel,
} from './parallel.ts';

const JOB_ARGS = 8;
/** A job's slots in the mailbox, from its first one. */
const JOB = {
  KERNEL: 0,
  N: 1,
  UNIT_ROWS: 2,
  FIRST_UNIT: 3,
  SCRATCH_ARG: 4,
  SCRATCH_BYTES: 5,
  MEMORY: 6,
  ARGS: 7,
} as const;
const JOB_SLOTS = JOB.ARGS + JOB_ARGS;
/** Jobs per batch; larger batches go out in several (Qwen-MoE decode: 8 experts × gate, up). */
export const MAX_BATCH_JOBS = 16;
export const MAILBOX = {
  GENERATION: 0,
  COUNT: 1,
  DONE: 2,
  READY: 3,
  EXIT: 4,
  WORKERS_ASLEEP: 5,
  DRIVER_ASLEEP: 6,
  FAILED: 7,
  NEXT_UNIT: 8,
  UNITS: 9,
  JOBS: 10,
  SLOTS: 10 + MAX_BATCH_JOBS * JOB_SLOTS,
} as const;

/** What a pool worker receives in its one message. */
export interface PoolWorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  mailbox: number; // byte offset of the mailbox
  index: number; // 1..threads-1 (0 is the driver)
  /** Weight banks (memory 1…) and the bank build to run their matmuls; absent for one memory. */
  banks?: { module: WebAssembly.Module; memories: WebAssembly.Memory[] };
}

/** A session's weight banks on the driver: their memories, the bank build, and its instance on each. */
export interface PoolBanks {
  module: WebAssembly.Module;
  memories: WebAssembly.Memory[];
  instances: BankKernelExports[];
}

/** The part of a Worker (DOM or node:worker_threads) the pool uses. */
export interface PoolWorker {
  postMessage(message: PoolWorkerInit): void;
  terminate(): unknown;
}
export type WorkerFactory = () => PoolWorker;

/** Shared memory and workers exist, and the context allows SharedArrayBuffer. */
export function threadsAvailable(workerFactory?: WorkerFactory): boolean {
  if (typeof SharedArrayBuffer === 'undefined') return false;
  if ((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === false) return false;
  return workerFactory !== undefined || typeof Worker !== 'undefined';
}

/** The browser's pool worker (a module Worker); EngineHost.warmUp starts spares of it ahead of a load. */
export function startPoolWorker(): PoolWorker {
  return new Worker(new URL('./threads.worker.ts', import.meta.url), { type: 'module', name: 'wasm-pool' });
}

const KERNEL_BY_CODE = Object.fromEntries(Object.entries(ROW_KERNEL_CODES).map(([k, v]) => [v, k])) as Record<
  number,
  RowKernel
>;
/**
 * How long a thread spins before it sleeps. The gaps between two batches of a decode token
 * are short now that attention and SwiGLU run in WASM (norms, RoPE, routing: tens of µs).
 * Longer spins (400 µs) looked no faster idle and collapsed decode 3x when other processes
 * held both cores: a spinning thread then burns the slice its partner needs.
 */
const SPIN_MICROS = 50;
const now = () => performance.now();

/** Spins until box[slot] != value (true) or SPIN_MICROS pass (false). */
function spinWhileEqual(box: Int32Array, slot: number, value: number): boolean {
  const until = now() + SPIN_MICROS / 1000;
  for (let i = 1; ; i++) {
    if (Atomics.load(box, slot) !== value) return true;
    if ((i & 255) === 0 && now() > until) return false;
  }
}

/**
 * Batches smaller than this (multiply-adds) run on the driver alone while the workers spin:
 * handing work over and waiting for it costs ~10–50 µs, the time of ~2^18 MACs here.
 */
export const MIN_PARALLEL_MACS = 1 << 18;
/**
 * A worker that has gone to sleep is woken only for WAKE_FACTOR times that much work. The
 * zoo model (256-wide layers) wakes its worker for most of its ~8 parallel batches per decode
 * token. In Chromium (`npm run bench -- --model zoo --engines wasm`, factor 4 and 1
 * alternating, twice, with claimed units) its q4_0 2-thread decode was 946 / 792 tok/s at 4
 * against 628 / 499 at 1. In Node the factor no longer matters once units are claimed
 * (`npx tsx bench/pool-ab.ts <gguf> 1,4,8`: zoo ~1.0-1.16 ms/token either way; the
 * SmolLM2-shaped MoE 23.9 / 24.4 / 25.5 ms for 1 / 4 / 8), so the browser's wake-up cost is
 * what this pays for. The trade-off: once a worker sleeps, batches between 1x and 4x the
 * threshold stay on the driver until a bigger one wakes it.
 */
export const WAKE_FACTOR = 4;

function canBlockOnAtomics(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0); // value differs: returns at once
    return true;
  } catch {
    return false;
  }
}

/**
 * A batch is at most a prefill chunk's matmul (~2 GMAC, well under a second here); a worker
 * silent for this long has died (terminated, out of memory) and will never count itself done.
 */
const WORKER_SILENCE_MS = 60_000;

/**
 * Waits until box[DONE] ≥ target: spins, then (when `canBlock`) sleeps on DONE with the
 * DRIVER_ASLEEP flag up so the last worker wakes it. The 1 ms timeout is a backstop only.
 * Returns false when the workers stayed silent for WORKER_SILENCE_MS.
 */
function waitForWorkers(box: Int32Array, target: number, canBlock: boolean): boolean {
  const deadline = now() + WORKER_SILENCE_MS;
  for (;;) {
    const done = Atomics.load(box, MAILBOX.DONE);
    if (done >= target) return true;
    if (now() > deadline) return false;
    if (spinWhileEqual(box, MAILBOX.DONE, done) || !canBlock) continue;
    Atomics.store(box, MAILBOX.DRIVER_ASLEEP, 1);
    Atomics.wait(box, MAILBOX.DONE, done, 1);
    Atomics.store(box, MAILBOX.DRIVER_ASLEEP, 0);
  }
}

const WORKER_START_TIMEOUT_MS = 20000;

/** Multiply-adds per claimed unit: ~20-40 µs of work, so a claim (one contended atomic add) costs ~1%. */
const UNIT_MACS = 1 << 18;

/** Rows per unit of a job: ~UNIT_MACS of work, whole row groups, and at least one unit per thread. */
export function unitRows(job: RowJob, threads: number): number {
  const quantum = rowQuantum(job.kernel, jobTokens(job));
  if (job.n <= 0) return quantum; // no rows: zero units
  const groups = Math.ceil(job.n / quantum);
  const groupWork = Math.max(1, (job.work / job.n) * quantum);
  return quantum * Math.max(1, Math.min(Math.ceil(UNIT_MACS / groupWork), Math.ceil(groups / threads)));
}

/**
 * Claims units of the mailbox's batch until none are left, running each one's rows. Every
 * thread (driver and workers) runs this; a row's bits do not depend on who computes it. A
 * kernel that throws raises FAILED and this thread stops claiming; the others finish the
 * batch, and the driver reports it once every worker has counted itself done.
 */
function runClaimedUnits(
  box: Int32Array,
  kernels: KernelExports,
  banks: readonly BankKernelExports[],
  args: number[],
  thread: number,
): void {
  const count = box[MAILBOX.COUNT]!;
  const units = box[MAILBOX.UNITS]!;
  let j = 0;
  try {
    for (
      let unit = Atomics.add(box, MAILBOX.NEXT_UNIT, 1);
      unit < units;
      unit = Atomics.add(box, MAILBOX.NEXT_UNIT, 1)
    ) {
      while (j + 1 < count && box[MAILBOX.JOBS + (j + 1) * JOB_SLOTS + JOB.FIRST_UNIT]! <= unit) j++; // units only grow
      const at = MAILBOX.JOBS + j * JOB_SLOTS;
      const rows = box[at + JOB.UNIT_ROWS]!;
      const start = (unit - box[at + JOB.FIRST_UNIT]!) * rows;
      for (let i = 0; i < JOB_ARGS; i++) args[i] = box[at + JOB.ARGS + i]!;
      const scratchArg = box[at + JOB.SCRATCH_ARG]!;
      if (scratchArg >= 0) args[scratchArg] += thread * box[at + JOB.SCRATCH_BYTES]!;
      callRowKernel(
        kernels,
        KERNEL_BY_CODE[box[at + JOB.KERNEL]!]!,
        args,
        start,
        Math.min(box[at + JOB.N]!, start + rows),
        box[at + JOB.MEMORY]!,
        banks,
      );
    }
  } catch {
    Atomics.store(box, MAILBOX.FAILED, 1);
  }
}

class ThreadPool implements RowParallel {
  private readonly box: Int32Array;
  private disposed = false;
  /** Why the pool cannot run batches any more (a worker failed or went silent). */
  private broken?: string;
  /** Atomics.wait is allowed here (workers, Node's main thread; not a browser's main thread). */
  private readonly canBlock = canBlockOnAtomics();
  constructor(
    readonly threads: number,
    private readonly kernels: KernelExports,
    memory: WebAssembly.Memory,
    mailbox: number,
    private readonly workers: PoolWorker[],
    private readonly minParallelWork: number,
    private readonly wakeFactor: number,
    private readonly banks: readonly BankKernelExports[],
  ) {
    this.box = new Int32Array(memory.buffer, mailbox, MAILBOX.SLOTS);
  }

  runBatch(jobs: readonly RowJob[]): void {
    if (this.broken) throw new BackendError(this.broken);
    let work = 0;
    for (const job of jobs) work += job.work;
    const asleep = Atomics.load(this.box, MAILBOX.WORKERS_ASLEEP) > 0;
    if (work < (asleep ? this.wakeFactor * this.minParallelWork : this.minParallelWork)) {
      for (const job of jobs) callRowKernel(this.kernels, job.kernel, job.args, 0, job.n, job.memory, this.banks);
      return;
    }
    for (let first = 0; first < jobs.length; first += MAX_BATCH_JOBS)
      this.dispatch(jobs.slice(first, first + MAX_BATCH_JOBS));
  }

  private readonly args = new Array<number>(JOB_ARGS);

  private dispatch(jobs: readonly RowJob[]): void {
    const box = this.box;
    box[MAILBOX.COUNT] = jobs.length;
    let units = 0;
    jobs.forEach((job, j) => {
      const at = MAILBOX.JOBS + j * JOB_SLOTS;
      const rows = unitRows(job, this.threads);
      box[at + JOB.KERNEL] = ROW_KERNEL_CODES[job.kernel];
      box[at + JOB.N] = job.n;
      box[at + JOB.UNIT_ROWS] = rows;
      box[at + JOB.FIRST_UNIT] = units;
      units += Math.ceil(job.n / rows);
      box[at + JOB.SCRATCH_ARG] = job.threadScratch?.arg ?? -1;
      box[at + JOB.SCRATCH_BYTES] = job.threadScratch?.bytes ?? 0;
      box[at + JOB.MEMORY] = job.memory ?? 0;
      for (let i = 0; i < JOB_ARGS; i++) box[at + JOB.ARGS + i] = job.args[i] ?? 0;
    });
    box[MAILBOX.UNITS] = units;
    Atomics.store(box, MAILBOX.NEXT_UNIT, 0);
    Atomics.store(box, MAILBOX.DONE, 0);
    Atomics.add(box, MAILBOX.GENERATION, 1);
    if (Atomics.load(box, MAILBOX.WORKERS_ASLEEP) > 0) Atomics.notify(box, MAILBOX.GENERATION);
    runClaimedUnits(box, this.kernels, this.banks, this.args, 0);
    // Even when a kernel failed: the workers are reading this batch's slots, and the next
    // batch must not rewrite them before every worker has counted itself done.
    if (!waitForWorkers(box, this.threads - 1, this.canBlock)) {
      this.broken = `wasm: a pool worker stopped answering (no reply in ${WORKER_SILENCE_MS / 1000} s); start a new session`;
    } else if (Atomics.load(box, MAILBOX.FAILED)) {
      this.broken = 'wasm: a kernel failed in the thread pool; start a new session';
    }
    if (this.broken) throw new BackendError(this.broken);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    Atomics.store(this.box, MAILBOX.EXIT, 1);
    Atomics.add(this.box, MAILBOX.GENERATION, 1);
    Atomics.notify(this.box, MAILBOX.GENERATION);
    for (const worker of this.workers) worker.terminate();
  }
}

/** Starts `threads - 1` workers on `memory` (shared) and waits until each has instantiated. */
export async function createThreadPool(
  arena: WasmArena,
  kernels: KernelExports,
  threads: number,
  workerFactory: WorkerFactory = startPoolWorker,
  minParallelWork = MIN_PARALLEL_MACS,
  wakeFactor = WAKE_FACTOR,
  banks?: PoolBanks,
): Promise<RowParallel> {
  const mailbox = arena.alloc(MAILBOX.SLOTS * 4, 'thread mailbox');
  const module = await compileKernels(true);
  const workers: PoolWorker[] = [];
  for (let index = 1; index < threads; index++) {
    const worker = workerFactory();
    const init: PoolWorkerInit = { module, memory: arena.memory, mailbox, index };
    if (banks) init.banks = { module: banks.module, memories: banks.memories };
    worker.postMessage(init);
    workers.push(worker);
  }
  const box = new Int32Array(arena.memory.buffer, mailbox, MAILBOX.SLOTS);
  const started = Date.now();
  while (Atomics.load(box, MAILBOX.READY) < threads - 1) {
    if (Date.now() - started > WORKER_START_TIMEOUT_MS) {
      for (const worker of workers) worker.terminate();
      throw new BackendError(
        `wasm: only ${Atomics.load(box, MAILBOX.READY)} of ${threads - 1} pool workers started within ${WORKER_START_TIMEOUT_MS} ms`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return new ThreadPool(
    threads,
    kernels,
    arena.memory,
    mailbox,
    workers,
    minParallelWork,
    wakeFactor,
    banks?.instances ?? [],
  );
}

/** The worker side: instantiate, count ready, then serve batches until EXIT. Never returns early. */
export async function runPoolWorker(init: PoolWorkerInit): Promise<void> {
  const instance = await WebAssembly.instantiate(init.module, { env: { memory: init.memory } });
  const kernels = instance.exports as unknown as KernelExports;
  const banks: BankKernelExports[] = [];
  for (const weights of init.banks?.memories ?? [])
    banks.push(await instantiateBankKernels(init.banks!.module, init.memory, weights));
  const box = new Int32Array(init.memory.buffer, init.mailbox, MAILBOX.SLOTS);
  let seen = Atomics.load(box, MAILBOX.GENERATION);
  Atomics.add(box, MAILBOX.READY, 1);
  const args = new Array<number>(JOB_ARGS);
  for (;;) {
    while (!spinWhileEqual(box, MAILBOX.GENERATION, seen)) {
      Atomics.add(box, MAILBOX.WORKERS_ASLEEP, 1);
      Atomics.wait(box, MAILBOX.GENERATION, seen);
      Atomics.sub(box, MAILBOX.WORKERS_ASLEEP, 1);
    }
    seen = Atomics.load(box, MAILBOX.GENERATION);
    if (Atomics.load(box, MAILBOX.EXIT)) return;
    runClaimedUnits(box, kernels, banks, args, init.index);
    Atomics.add(box, MAILBOX.DONE, 1);
    if (Atomics.load(box, MAILBOX.DRIVER_ASLEEP)) Atomics.notify(box, MAILBOX.DONE);
  }
}
