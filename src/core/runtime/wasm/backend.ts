/**
 * The WASM SIMD backend: createWasmBackend(options) → Backend. Weights are repacked once per
 * session into one wasm linear memory (layout.ts), or, for a model past wasm32's 4 GiB, into
 * the main memory and weight banks of up to 4 GiB each where the engine has multi-memory
 * (memory-plan.ts planWasmMemories; docs/wasm-backend.md "Past 4 GiB"); matmuls run in the
 * SIMD kernels (kernels.wat), split by rows across a worker pool when threads are available
 * (threads.ts), else on the calling thread. Routing uses THE rule (routing.ts).
 */
import { BackendError, ConfigError } from '../../errors.ts';
import type { ExportableWeights } from '../../model/weights.ts';
import type { Backend, ForwardOptions, ForwardResult, Session, TokenRouting } from '../types.ts';
import { routingPlanner } from '../routing.ts';
import { MAX_PAGES, WASM32_MAX_BYTES, WasmArena } from './arena.ts';
import { MAX_WASM_MEMORIES, planWasmMemories, type WasmMemoryPlan } from './memory-plan.ts';
import { forwardChunk, type WasmEngine } from './forward.ts';
import { compileBankKernels, instantiateBankKernels, instantiateKernels, preferredU4Flavour } from './kernels.ts';
import { wasmMultiMemorySupported } from './multi-memory.ts';
import { WasmMatmul } from './matmul.ts';
import { activeWeightBytesPerToken, MatrixPlacer, packModel } from './packed-model.ts';
import { SerialRows, type RowParallel } from './parallel.ts';
import { createRunState } from './run-state.ts';
import { createThreadPool, threadsAvailable, type PoolBanks, type WorkerFactory } from './threads.ts';

export interface WasmBackendOptions {
  /** Threads including the calling one (default: hardwareConcurrency when threads work, else 1). */
  threads?: number;
  /** Tokens per prefill chunk (default 64): bounds the activation scratch. */
  prefillChunk?: number;
  /** How to start a pool worker (default: a module Worker on threads.worker.ts). */
  workerFactory?: WorkerFactory;
  /** Batches with fewer multiply-adds run on one thread (default MIN_PARALLEL_MACS, ×WAKE_FACTOR when the workers sleep; tests use 0). */
  minParallelWork?: number;
  /** A sleeping worker is woken for batches of at least wakeFactor × minParallelWork (default WAKE_FACTOR; bench/pool-ab.ts compares values). */
  wakeFactor?: number;
  /**
   * The most bytes one linear memory may hold (default and most: wasm32's 4 GiB). Tests shrink
   * it so that a small model spreads over weight banks; a session past it needs multi-memory.
   */
  memoryLimitBytes?: number;
}

/** Default KV-cache length when the model's own context is longer (memory: f32 cache). */
const DEFAULT_MAX_CONTEXT = 2048;

class WasmSession implements Session {
  readonly backend = 'wasm' as const;
  private cachedTokens = 0;
  private disposed = false;

  constructor(
    private readonly engine: WasmEngine,
    /** Bytes of weights and in all (every memory); `memories`: how many linear memories hold them (1, or main + banks). */
    readonly memory: { weightBytes: number; totalBytes: number; memories: number },
  ) {}

  private planRouting?: ReturnType<typeof routingPlanner>;

  get position(): number {
    return this.cachedTokens;
  }
  get maxContext(): number {
    return this.engine.state.maxContext;
  }
  get threads(): number {
    return this.engine.rows.threads;
  }
  /** Weight bytes one decode token reads (for bandwidth figures in bench/). */
  get activeBytesPerToken(): number {
    return activeWeightBytesPerToken(this.engine.model);
  }

  async forward(tokenIds: number[], options: ForwardOptions = {}): Promise<ForwardResult> {
    this.checkRequest(tokenIds);
    const { spec } = this.engine.model;
    const chunk = this.engine.state.chunk;
    this.planRouting ??= routingPlanner(spec.moe, spec.layers);
    const routingPlan = this.planRouting(options.routing);
    const routing: TokenRouting[] = [];
    let layerInputs: Float32Array[] | undefined;
    for (let start = 0; start < tokenIds.length; start += chunk) {
      const tokens = tokenIds.slice(start, start + chunk);
      const isLast = start + chunk >= tokenIds.length;
      const inputs = options.captureLayerInputs && isLast ? new Array<Float32Array>(spec.layers) : undefined;
      const layers = forwardChunk(this.engine, tokens, this.cachedTokens, {
        routingPlan,
        layerInputs: inputs,
        wantLogits: isLast,
      });
      this.cachedTokens += tokens.length;
      if (options.trace) for (const perToken of layers) routing.push({ layers: perToken });
      if (inputs) layerInputs = inputs;
    }
    const result: ForwardResult = { logits: this.engine.state.logits.view.slice() };
    if (options.trace) result.routing = routing;
    if (layerInputs) result.layerInputs = layerInputs;
    return result;
  }

  truncate(position: number): void {
    if (!Number.isInteger(position) || position < 0 || position > this.cachedTokens) {
      throw new ConfigError(`wasm: truncate(${position}) outside [0, ${this.cachedTokens}]`);
    }
    this.cachedTokens = position; // rows ≥ position are overwritten by the next forward
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.engine.rows.dispose();
  }

  private checkRequest(tokenIds: number[]): void {
    if (this.disposed) throw new ConfigError('wasm: session used after dispose()');
    if (tokenIds.length === 0) throw new ConfigError('wasm: forward() needs at least one token');
    const { vocab } = this.engine.model.spec;
    for (const id of tokenIds) {
      if (!Number.isInteger(id) || id < 0 || id >= vocab)
        throw new ConfigError(`wasm: token id ${id} outside [0, ${vocab})`);
    }
    if (this.cachedTokens + tokenIds.length > this.maxContext) {
      throw new ConfigError(
        `wasm: ${this.cachedTokens} cached + ${tokenIds.length} new tokens exceed maxContext ${this.maxContext}`,
      );
    }
  }
}

function resolveThreads(requested: number | undefined): number {
  const cores = typeof navigator !== 'undefined' && navigator.hardwareConcurrency ? navigator.hardwareConcurrency : 1;
  const threads = requested ?? cores;
  if (!Number.isInteger(threads) || threads < 1)
    throw new ConfigError(`wasm: threads ${threads} must be a positive integer`);
  return threads;
}

const gb = (bytes: number) => (bytes / 1e9).toFixed(2);

/**
 * The session's memories, before any tensor is read: one memory while it fits (always when it
 * can), else the main memory and weight banks where this engine has multi-memory, up to
 * MAX_WASM_MEMORIES; anything else is refused here with the bytes it needs, never mid-load.
 */
function planMemories(
  weights: ExportableWeights,
  options: Parameters<typeof planWasmMemories>[1],
  limitBytes: number,
): WasmMemoryPlan {
  const plan = planWasmMemories(weights, options, limitBytes);
  if (plan && plan.memoryBytes.length === 1) return plan;
  const advice = 'run it on the WebGPU backend, or a smaller quant';
  if (!plan)
    throw new BackendError(
      `wasm: this model needs more linear memory than one memory holds for a single matrix or for its KV cache: ${advice}`,
    );
  const needs = `${gb(plan.totalBytes)} GB of linear memory (weights ${gb(plan.weightBytes)} GB, KV cache and scratch ${gb(plan.totalBytes - plan.weightBytes)} GB for ${options.maxContext} tokens)`;
  if (!wasmMultiMemorySupported()) {
    throw new BackendError(
      `wasm: this model needs ${needs}, more than one ${gb(limitBytes)} GB wasm32 memory, and this engine cannot spread it over several (WebAssembly multi-memory: Chromium ≥ 120, Firefox ≥ 125, Node ≥ 22): ${advice}`,
    );
  }
  if (plan.memoryBytes.length > MAX_WASM_MEMORIES) {
    throw new BackendError(
      `wasm: this model needs ${needs}, ${plan.memoryBytes.length} memories of ${gb(limitBytes)} GB, more than the ${MAX_WASM_MEMORIES} a session may take: ${advice}`,
    );
  }
  return plan;
}

/** A memory of `bytes`, made that size up front (see createSession). */
function newMemory(bytes: number, shared: boolean): WebAssembly.Memory {
  const initial = Math.min(MAX_PAGES, Math.max(1, Math.ceil(bytes / 65536)));
  return new WebAssembly.Memory({ initial, maximum: MAX_PAGES, shared });
}

/** The WASM SIMD backend. `threads` > 1 needs SharedArrayBuffer (cross-origin isolation). */
export async function createWasmBackend(options: WasmBackendOptions = {}): Promise<Backend> {
  const threads = resolveThreads(options.threads);
  const prefillChunk = options.prefillChunk ?? 64;
  if (!Number.isInteger(prefillChunk) || prefillChunk < 1)
    throw new ConfigError(`wasm: prefillChunk ${prefillChunk} must be a positive integer`);
  return {
    name: 'wasm',
    async createSession(weights: ExportableWeights, sessionOptions: { maxContext?: number } = {}): Promise<Session> {
      const spec = weights.spec;
      const maxContext = sessionOptions.maxContext ?? Math.min(spec.contextLength, DEFAULT_MAX_CONTEXT);
      if (!Number.isInteger(maxContext) || maxContext < 1)
        throw new ConfigError(`wasm: maxContext ${maxContext} must be a positive integer`);
      const useThreads = threads > 1 && threadsAvailable(options.workerFactory);
      const limitBytes = options.memoryLimitBytes ?? WASM32_MAX_BYTES;
      if (!Number.isInteger(limitBytes) || limitBytes < 65536 || limitBytes > WASM32_MAX_BYTES)
        throw new ConfigError(
          `wasm: memoryLimitBytes ${limitBytes} must be an integer in [65536, ${WASM32_MAX_BYTES}]`,
        );
      const plan = planMemories(
        weights,
        { maxContext, chunk: prefillChunk, threads: useThreads ? threads : 1 },
        limitBytes,
      );
      // Sized once from the plan (memory-plan.ts, pinned byte for byte by its tests): growing a
      // plain memory tensor by tensor copies it each time: 7.4 s instead of 1.5 s for a 211 MB
      // q4_0 model on one thread (bench/session-open.ts).
      const memories = plan.memoryBytes.map((bytes) => newMemory(bytes, useThreads));
      const memory = memories[0]!;
      const kernels = await instantiateKernels(memory, useThreads);
      const arenas = memories.map((m, index) => new WasmArena(m, index, limitBytes));
      const arena = arenas[0]!;
      const model = await packModel(new MatrixPlacer(arenas, plan.placement), weights);
      const weightBytes = arenas.reduce((sum, a) => sum + a.bytesUsed, 0);
      let banks: PoolBanks | undefined;
      if (memories.length > 1) {
        const module = await compileBankKernels(useThreads, preferredU4Flavour());
        const bankMemories = memories.slice(1);
        const instances = await Promise.all(bankMemories.map((w) => instantiateBankKernels(module, memory, w)));
        banks = { module, memories: bankMemories, instances };
      }
      const chunk = Math.min(prefillChunk, maxContext);
      const maxK = Math.max(spec.hidden, spec.heads * spec.headDim, model.maxIntermediate);
      const rows: RowParallel = useThreads
        ? await createThreadPool(
            arena,
            kernels,
            threads,
            options.workerFactory,
            options.minParallelWork,
            options.wakeFactor,
            banks,
          )
        : new SerialRows(kernels, banks?.instances);
      const matmul = new WasmMatmul(kernels, rows, arena, chunk, maxK);
      const state = createRunState(arena, model, chunk, maxContext, rows.threads);
      const totalBytes = arenas.reduce((sum, a) => sum + a.bytesUsed, 0);
      return new WasmSession(
        { model, state, kernels, matmul, rows },
        { weightBytes, totalBytes, memories: memories.length },
      );
    },
  };
}
