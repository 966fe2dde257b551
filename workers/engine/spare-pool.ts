/**
 * What EngineHost.warmUp prepares before any model is chosen: the WASM kernels compiled, and
 * the thread pool's workers started (their script loaded), waiting to be handed the next
 * session's memory. platformFor gives a session those spares first.
 */
import { markPhase } from '../../src/core/io/marks.ts';
import type { PlatformOptions } from '../../src/core/runtime/backends.ts';
import { compileKernels } from '../../src/core/runtime/wasm/kernels.ts';
import { startPoolWorker, threadsAvailable, type PoolWorker } from '../../src/core/runtime/wasm/threads.ts';

export type PlatformFn = (threads: number | undefined) => PlatformOptions | Promise<PlatformOptions>;

export class SparePool {
  private workers: PoolWorker[] = [];
  /** prepare() in flight or done: a session's platformFor waits for it, so it takes the spares. */
  private preparing?: Promise<void>;

  constructor(private readonly platform: PlatformFn) {}

  /** Never throws: the load compiles and starts what it needs, and reports what fails. */
  prepare(): Promise<void> {
    this.preparing ??= this.compileAndStart();
    return this.preparing;
  }

  private async compileAndStart(): Promise<void> {
    try {
      const { wasm } = await this.platform(undefined);
      const threads = wasm?.threads ?? 1;
      const shared = threads > 1 && threadsAvailable(wasm?.workerFactory);
      await compileKernels(shared);
      if (shared && !wasm?.workerFactory)
        while (this.workers.length < threads - 1) this.workers.push(startPoolWorker());
    } catch {
      // Nothing is lost (see above).
    }
    markPhase('moe:spares-ready');
  }

  /** This thread's platform options for `threads`, the WASM pool taking the spare workers first. */
  async platformFor(threads: number | undefined): Promise<PlatformOptions> {
    await this.preparing;
    const platform = await this.platform(threads);
    if (!platform.wasm || platform.wasm.workerFactory || this.workers.length === 0) return platform;
    const workerFactory = () => this.workers.pop() ?? startPoolWorker();
    return { ...platform, wasm: { ...platform.wasm, workerFactory } };
  }
}
