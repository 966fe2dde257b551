/**
 * WebGpuSession: one model on one GpuContext with its KV cache.
 *
 * forward(tokens) splits the tokens into chunks (prefill ≤ chunkTokens at a time, decode
 * is one chunk of 1), submits each chunk as one command buffer, and copies the logits (and
 * the routing records / layer inputs when asked) into one staging buffer that is mapped
 * once: exactly one CPU↔GPU sync per forward, none per layer.
 */
import { BUFFER_USAGE, MAP_MODE_READ } from './gpu-constants.ts';
import { BackendError, ConfigError } from '../../errors.ts';
import type { ExportableWeights } from '../../model/weights.ts';
import type { ForwardOptions, ForwardResult, LayerRouting, Session, TokenRouting } from '../types.ts';
import { createActivations, destroyActivations, type Activations } from './activations.ts';
import { ParamArena, submitSteps } from './dispatch.ts';
import { chunkSteps, createForwardSites, type ForwardSites } from './forward-plan.ts';
import type { GpuContext } from './gpu-context.ts';
import { NO_EXPERT, routeRecordLayout, routeRecordWords } from './kernels/router.ts';
import { type RoutingPlan, routingPlanner } from '../routing.ts';
import { activeWeightBytes, uploadModel, type GpuModel } from './upload.ts';

/** Counters of the last forward() (counts, not timings: timings belong in bench/). */
export interface WebGpuForwardStats {
  tokens: number;
  chunks: number;
  dispatches: number;
  submits: number;
  /** CPU↔GPU synchronisations awaited (buffer maps); the decode target is 1. */
  syncs: number;
  /** Bytes of weights the dispatched kernels read. */
  weightBytesRead: number;
  /** Bytes of weights one token needs (chosen experts only); see upload.ts activeWeightBytes. */
  activeWeightBytesPerToken: number;
}

export interface WebGpuSessionStats {
  last: WebGpuForwardStats;
  totals: { forwards: number; tokens: number; syncs: number; dispatches: number };
  gpuBytes: { weights: number; kvCache: number; activations: number; contextTotal: number };
  /** Weight buffers, and how many of them are extra parts of matrices split past the binding limit. */
  weightBuffers: { count: number; splitParts: number };
}

export type WebGpuSessionState = { kind: 'idle' } | { kind: 'running' } | { kind: 'disposed' };

const EMPTY_STATS: WebGpuForwardStats = {
  tokens: 0,
  chunks: 0,
  dispatches: 0,
  submits: 0,
  syncs: 0,
  weightBytesRead: 0,
  activeWeightBytesPerToken: 0,
};

export class WebGpuSession implements Session {
  readonly backend = 'webgpu' as const;
  state: WebGpuSessionState = { kind: 'idle' };
  private cachedTokens = 0;
  private staging: GPUBuffer | undefined;
  private lastStats: WebGpuForwardStats = EMPTY_STATS;
  private readonly totals = { forwards: 0, tokens: 0, syncs: 0, dispatches: 0 };

  private constructor(
    private readonly context: GpuContext,
    private readonly model: GpuModel,
    private readonly activations: Activations,
    private readonly arena: ParamArena,
    private readonly sites: ForwardSites,
    readonly maxContext: number,
  ) {}

  static async create(context: GpuContext, weights: ExportableWeights, maxContext: number): Promise<WebGpuSession> {
    context.throwIfFailed();
    const model = await uploadModel(context, weights);
    let activations: Activations | undefined;
    let arena: ParamArena | undefined;
    try {
      activations = createActivations(context, weights.spec, maxContext);
      const sitesPerLayer = 32; // attention 10 (+4 matmul pairs) + moe 12 (+1) or mlp 4 (+3)
      // a split matrix's extra part adds at most two sites (decode and prefill kernels)
      arena = new ParamArena(context, 8 + sitesPerLayer * weights.spec.layers + 2 * model.extraParts);
      const sites = await createForwardSites(context, arena, model, activations);
      context.throwIfFailed();
      return new WebGpuSession(context, model, activations, arena, sites, maxContext);
    } catch (error) {
      if (context.state.kind !== 'destroyed') {
        for (const b of model.buffers) context.destroyBuffer(b);
        if (activations) destroyActivations(context, activations);
        arena?.destroy();
      }
      throw error;
    }
  }

  private planRouting?: ReturnType<typeof routingPlanner>;

  get position(): number {
    return this.cachedTokens;
  }

  /** Counters and GPU memory (a property, read by bench/page as `session.stats.last`). */
  get stats(): WebGpuSessionStats {
    return {
      last: { ...this.lastStats },
      totals: { ...this.totals },
      gpuBytes: {
        weights: this.model.bytes,
        kvCache: this.activations.kvBytes,
        activations: this.activations.bytes - this.activations.kvBytes,
        contextTotal: this.context.allocatedBytes,
      },
      weightBuffers: { count: this.model.buffers.length, splitParts: this.model.extraParts },
    };
  }

  async forward(tokenIds: number[], options: ForwardOptions = {}): Promise<ForwardResult> {
    this.checkRequest(tokenIds);
    const spec = this.model.spec;
    this.planRouting ??= routingPlanner(spec.moe, spec.layers);
    const routing = this.planRouting(options.routing);
    this.state = { kind: 'running' };
    try {
      const layout = this.stagingLayout(tokenIds.length, routing, options);
      const staging = this.stagingBuffer(layout.total);
      const stats = this.submitChunks(tokenIds, routing, options, staging, layout);
      await staging.mapAsync(MAP_MODE_READ, 0, layout.total);
      stats.syncs++;
      this.context.throwIfFailed();
      const bytes = staging.getMappedRange(0, layout.total).slice(0);
      staging.unmap();
      this.cachedTokens += tokenIds.length;
      this.recordStats(stats);
      return this.decodeResult(bytes, tokenIds.length, routing, options, layout);
    } finally {
      if (this.state.kind === 'running') this.state = { kind: 'idle' };
    }
  }

  private submitChunks(
    tokenIds: number[],
    routing: RoutingPlan | undefined,
    options: ForwardOptions,
    staging: GPUBuffer,
    layout: StagingLayout,
  ): WebGpuForwardStats {
    const a = this.activations;
    const recordBytes = routing
      ? routeRecordWords(routing.expertsPerToken, this.model.spec.moe!.experts) * 4 * this.model.spec.layers
      : 0;
    const stats: WebGpuForwardStats = { ...EMPTY_STATS, tokens: tokenIds.length };
    for (let start = 0; start < tokenIds.length; start += a.chunkTokens) {
      const n = Math.min(a.chunkTokens, tokenIds.length - start);
      const chunk = { position: this.cachedTokens + start, nTokens: n, isLast: start + n === tokenIds.length };
      this.context.device.queue.writeBuffer(a.tokenIds, 0, Uint32Array.from(tokenIds.slice(start, start + n)));
      const capture = options.captureLayerInputs ? { buffer: staging, offset: layout.layerInputs } : undefined;
      const steps = chunkSteps(this.model, this.sites, a, chunk, routing, this.maxContext, capture);
      if (options.trace && routing) {
        steps.push({
          kind: 'copy',
          from: a.route,
          fromOffset: 0,
          to: staging,
          toOffset: layout.trace + start * recordBytes,
          size: n * recordBytes,
        });
      }
      if (chunk.isLast)
        steps.push({
          kind: 'copy',
          from: a.logits,
          fromOffset: 0,
          to: staging,
          toOffset: 0,
          size: this.model.spec.vocab * 4,
        });
      const counts = submitSteps(this.context, this.arena, steps);
      stats.chunks++;
      stats.submits++;
      stats.dispatches += counts.dispatches;
      stats.weightBytesRead += counts.weightBytes;
    }
    stats.activeWeightBytesPerToken = activeWeightBytes(
      this.model,
      routing?.layers.map((l) => l.expertsPerToken) ?? [],
    );
    return stats;
  }

  private stagingLayout(nTokens: number, routing: RoutingPlan | undefined, options: ForwardOptions): StagingLayout {
    const spec = this.model.spec;
    const logitsBytes = spec.vocab * 4;
    const traceBytes =
      options.trace && routing
        ? nTokens * spec.layers * routeRecordWords(routing.expertsPerToken, spec.moe!.experts) * 4
        : 0;
    const inputsBytes = options.captureLayerInputs ? spec.layers * spec.hidden * 4 : 0;
    return { trace: logitsBytes, layerInputs: logitsBytes + traceBytes, total: logitsBytes + traceBytes + inputsBytes };
  }

  private stagingBuffer(bytes: number): GPUBuffer {
    if (!this.staging || this.staging.size < bytes) {
      if (this.staging) this.context.destroyBuffer(this.staging);
      this.staging = this.context.createBuffer('staging', bytes, BUFFER_USAGE.MAP_READ | BUFFER_USAGE.COPY_DST);
    }
    return this.staging;
  }

  private decodeResult(
    bytes: ArrayBuffer,
    nTokens: number,
    routing: RoutingPlan | undefined,
    options: ForwardOptions,
    layout: StagingLayout,
  ): ForwardResult {
    const spec = this.model.spec;
    const result: ForwardResult = { logits: new Float32Array(bytes, 0, spec.vocab).slice() };
    if (options.trace)
      result.routing = routing
        ? decodeTrace(bytes, layout.trace, nTokens, routing, this.model)
        : Array.from({ length: nTokens }, () => ({ layers: [] }));
    if (options.captureLayerInputs) {
      result.layerInputs = Array.from({ length: spec.layers }, (_, l) =>
        new Float32Array(bytes, layout.layerInputs + l * spec.hidden * 4, spec.hidden).slice(),
      );
    }
    return result;
  }

  private recordStats(stats: WebGpuForwardStats): void {
    this.lastStats = stats;
    this.totals.forwards++;
    this.totals.tokens += stats.tokens;
    this.totals.syncs += stats.syncs;
    this.totals.dispatches += stats.dispatches;
  }

  private checkRequest(tokenIds: number[]): void {
    if (this.state.kind === 'disposed') throw new ConfigError('webgpu: session used after dispose()');
    if (this.state.kind === 'running')
      throw new BackendError('webgpu: forward() called while another forward() is running');
    this.context.throwIfFailed();
    if (tokenIds.length === 0) throw new ConfigError('webgpu: forward() needs at least one token');
    const { vocab } = this.model.spec;
    for (const id of tokenIds) {
      if (!Number.isInteger(id) || id < 0 || id >= vocab)
        throw new ConfigError(`webgpu: token id ${id} outside [0, ${vocab})`);
    }
    if (this.cachedTokens + tokenIds.length > this.maxContext) {
      throw new ConfigError(
        `webgpu: ${this.cachedTokens} cached + ${tokenIds.length} new tokens exceed maxContext ${this.maxContext}`,
      );
    }
  }

  truncate(position: number): void {
    if (!Number.isInteger(position) || position < 0 || position > this.cachedTokens) {
      throw new ConfigError(`webgpu: truncate(${position}) outside [0, ${this.cachedTokens}]`);
    }
    this.cachedTokens = position; // rows ≥ position are overwritten by the next forward
  }

  dispose(): void {
    if (this.state.kind === 'disposed') return;
    this.state = { kind: 'disposed' };
    if (this.context.state.kind === 'destroyed') return;
    destroyActivations(this.context, this.activations);
    for (const b of this.model.buffers) this.context.destroyBuffer(b);
    this.arena.destroy();
    if (this.staging) this.context.destroyBuffer(this.staging);
  }
}

interface StagingLayout {
  trace: number;
  layerInputs: number;
  total: number;
}

/** Routing records [nTokens, layers, R] → TokenRouting per token (MoE layers only). */
function decodeTrace(
  bytes: ArrayBuffer,
  offset: number,
  nTokens: number,
  routing: RoutingPlan,
  model: GpuModel,
): TokenRouting[] {
  const E = model.spec.moe!.experts;
  const R = routeRecordWords(routing.expertsPerToken, E);
  const at = routeRecordLayout(routing.expertsPerToken, E);
  const words = new Uint32Array(bytes, offset, nTokens * model.spec.layers * R);
  const floats = new Float32Array(bytes, offset, nTokens * model.spec.layers * R);
  return Array.from({ length: nTokens }, (_, t) => {
    const layers: LayerRouting[] = [];
    model.layers.forEach((layer, l) => {
      if (!layer.moe) return;
      const base = (t * model.spec.layers + l) * R;
      // a top-p token fills fewer than the layer's slots; the rest hold NO_EXPERT
      let k = 0;
      while (k < routing.layers[l].expertsPerToken && words[base + at.ids + k] !== NO_EXPERT) k++;
      const entry: LayerRouting = {
        expertIds: Array.from(words.subarray(base + at.ids, base + at.ids + k)),
        expertWeights: Array.from(floats.subarray(base + at.weights, base + at.weights + k)),
        moeProbs: Array.from(floats.subarray(base + at.probs, base + at.probs + E)),
      };
      if (layer.moe.sharedGate) entry.sharedGate = floats[base + at.sharedGate];
      layers.push(entry);
    });
    return { layers };
  });
}
