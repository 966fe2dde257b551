/**
 * The thread pool: `threads - 1` workers share the session's wasm memory (shared
 * WebAssembly.Memory, so SharedArrayBuffer: the page must be cross-origin isolated) and each
 * instantiates the same kernels module on it. The calling thread stays the driver: for each
 * matmul it writes a job into a mailbox in shared memory, bumps a generation counter, runs
 * its own row slice, then waits until every worker has counted itself done. Workers spin
 * briefly on the generation, then sleep in Atomics.wait.
 *
 * Mailbox (Int32 slots at `mailbox`):
 *   [GENERATION] job counter   [KERNEL] ROW_KERNEL_CODES   [ROWS] n   [ARGS..ARGS+7] args
 *   [DONE] workers finished    [READY] workers started     [EXIT] 1 = stop
 */
import { BackendError } from '../../errors.ts';
import type { WasmArena } from './arena.ts';
import { compileKernels, type KernelExports } from './kernels.ts';
import { ROW_KERNEL_CODES, callRowKernel, rowSlice, type RowKernel, type RowParallel } from './parallel.ts';

export const MAILBOX = { GENERATION: 0, KERNEL: 1, ROWS: 2, ARGS: 3, DONE: 12, READY: 13, EXIT: 14, SLOTS: 16 } as const;

/** What a pool worker receives in its one message. */
export interface PoolWorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  mailbox: number;  // byte offset of the mailbox
  threads: number;
  index: number;    // 1..threads-1 (0 is the driver)
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

function defaultWorkerFactory(): PoolWorker {
  return new Worker(new URL('./threads.worker.ts', import.meta.url), { type: 'module', name: 'wasm-pool' });
}

const KERNEL_BY_CODE = Object.fromEntries(Object.entries(ROW_KERNEL_CODES).map(([k, v]) => [v, k])) as Record<number, RowKernel>;
/**
 * Spin this many polls before sleeping in Atomics.wait: spinning answers in nanoseconds when
 * both threads own a core, sleeping keeps a busy (shared) machine from starving the thread
 * we wait for.
 */
const SPINS_BEFORE_SLEEP = 2000;

/**
 * Matmuls smaller than this (multiply-adds) run on the driver alone: waking a worker and
 * waiting for it costs ~10–50 µs, the time of ~2^18 MACs here (the zoo model's 256-wide
 * layers ran slower on 2 threads than on 1 without this).
 */
export const MIN_PARALLEL_MACS = 1 << 18;

function canBlockOnAtomics(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0); // value differs: returns at once
    return true;
  } catch {
    return false;
  }
}

/** Waits until box[slot] ≥ target: spins, then sleeps on the slot when `canBlock`. */
function waitUntilAtLeast(box: Int32Array, slot: number, target: number, canBlock: boolean): void {
  let spins = 0;
  for (let value = Atomics.load(box, slot); value < target; value = Atomics.load(box, slot)) {
    if (canBlock && ++spins > SPINS_BEFORE_SLEEP) Atomics.wait(box, slot, value, 1);
  }
}
const WORKER_START_TIMEOUT_MS = 20000;

class ThreadPool implements RowParallel {
  private readonly box: Int32Array;
  private disposed = false;
  /** Atomics.wait is allowed here (workers, Node's main thread; not a browser's main thread). */
  private readonly canBlock = canBlockOnAtomics();
  constructor(readonly threads: number, private readonly kernels: KernelExports, memory: WebAssembly.Memory,
    mailbox: number, private readonly workers: PoolWorker[], private readonly minParallelWork: number) {
    this.box = new Int32Array(memory.buffer, mailbox, MAILBOX.SLOTS);
  }

  run(kernel: RowKernel, args: number[], n: number, work: number): void {
    const box = this.box;
    if (work < this.minParallelWork || n < 4 * this.threads) { callRowKernel(this.kernels, kernel, args, 0, n); return; }
    box[MAILBOX.KERNEL] = ROW_KERNEL_CODES[kernel];
    box[MAILBOX.ROWS] = n;
    for (let i = 0; i < args.length; i++) box[MAILBOX.ARGS + i] = args[i]!;
    Atomics.store(box, MAILBOX.DONE, 0);
    Atomics.add(box, MAILBOX.GENERATION, 1);
    Atomics.notify(box, MAILBOX.GENERATION);
    const [start, end] = rowSlice(n, this.threads, 0);
    callRowKernel(this.kernels, kernel, args, start, end);
    waitUntilAtLeast(box, MAILBOX.DONE, this.threads - 1, this.canBlock);
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
export async function createThreadPool(arena: WasmArena, kernels: KernelExports, threads: number,
  workerFactory: WorkerFactory = defaultWorkerFactory, minParallelWork = MIN_PARALLEL_MACS): Promise<RowParallel> {
  const mailbox = arena.alloc(MAILBOX.SLOTS * 4, 'thread mailbox');
  const module = await compileKernels(true);
  const workers: PoolWorker[] = [];
  for (let index = 1; index < threads; index++) {
    const worker = workerFactory();
    worker.postMessage({ module, memory: arena.memory, mailbox, threads, index });
    workers.push(worker);
  }
  const box = new Int32Array(arena.memory.buffer, mailbox, MAILBOX.SLOTS);
  const started = Date.now();
  while (Atomics.load(box, MAILBOX.READY) < threads - 1) {
    if (Date.now() - started > WORKER_START_TIMEOUT_MS) {
      for (const worker of workers) worker.terminate();
      throw new BackendError(`wasm: only ${Atomics.load(box, MAILBOX.READY)} of ${threads - 1} pool workers started within ${WORKER_START_TIMEOUT_MS} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return new ThreadPool(threads, kernels, arena.memory, mailbox, workers, minParallelWork);
}

/** The worker side: instantiate, count ready, then serve jobs until EXIT. Never returns early. */
export async function runPoolWorker(init: PoolWorkerInit): Promise<void> {
  const instance = await WebAssembly.instantiate(init.module, { env: { memory: init.memory } });
  const kernels = instance.exports as unknown as KernelExports;
  const box = new Int32Array(init.memory.buffer, init.mailbox, MAILBOX.SLOTS);
  let seen = Atomics.load(box, MAILBOX.GENERATION);
  Atomics.add(box, MAILBOX.READY, 1);
  const args = new Array<number>(MAILBOX.DONE - MAILBOX.ARGS);
  for (;;) {
    let spins = 0;
    while (Atomics.load(box, MAILBOX.GENERATION) === seen) {
      if (++spins > SPINS_BEFORE_SLEEP) Atomics.wait(box, MAILBOX.GENERATION, seen);
    }
    seen = Atomics.load(box, MAILBOX.GENERATION);
    if (Atomics.load(box, MAILBOX.EXIT)) return;
    const n = box[MAILBOX.ROWS]!;
    for (let i = 0; i < args.length; i++) args[i] = box[MAILBOX.ARGS + i]!;
    const [start, end] = rowSlice(n, init.threads, init.index);
    callRowKernel(kernels, KERNEL_BY_CODE[box[MAILBOX.KERNEL]!]!, args, start, end);
    Atomics.add(box, MAILBOX.DONE, 1);
    Atomics.notify(box, MAILBOX.DONE);
  }
}
