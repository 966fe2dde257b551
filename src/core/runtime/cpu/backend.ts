/**
 * cpuBackend: the readable f32 reference Backend. createSession dequantizes every weight to
 * f32 once (tensor by tensor: a lazy tensor is read, widened and dropped before the next),
 * then forward() runs tokens one at a time through forwardToken (prefill is just a loop:
 * the reference has no batching tricks).
 */
import { ConfigError } from '../../errors.ts';
import { type ExportableWeights, loadedWeights } from '../../model/weights.ts';
import type { Backend, ForwardOptions, ForwardResult, Session, TokenRouting } from '../types.ts';
import type { RawTensor } from '../../tensor.ts';
import { routingPlanner } from '../routing.ts';
import { createRunState, forwardToken, type RunState } from './forward.ts';
import { dequantizeModel, f32Tensor, type ModelF32 } from './model-f32.ts';
import { emulateQ8xActivations } from './ops.ts';

class CpuSession implements Session {
  readonly backend = 'cpu' as const;
  private cachedTokens = 0;
  private disposed = false;

  constructor(
    private readonly model: ModelF32,
    private readonly state: RunState,
  ) {}

  private planRouting?: ReturnType<typeof routingPlanner>;

  get position(): number {
    return this.cachedTokens;
  }
  get maxContext(): number {
    return this.state.maxContext;
  }

  async forward(tokenIds: number[], options: ForwardOptions = {}): Promise<ForwardResult> {
    this.checkRequest(tokenIds);
    const { spec } = this.model;
    this.planRouting ??= routingPlanner(spec.moe, spec.layers);
    const routingPlan = this.planRouting(options.routing);
    const routing: TokenRouting[] = [];
    let layerInputs: Float32Array[] | undefined;
    for (let i = 0; i < tokenIds.length; i++) {
      const isLast = i === tokenIds.length - 1;
      const inputs = options.captureLayerInputs && isLast ? new Array<Float32Array>(this.model.spec.layers) : undefined;
      const layers = forwardToken(this.model, this.state, tokenIds[i], this.cachedTokens, {
        routingPlan,
        layerInputs: inputs,
      });
      this.cachedTokens++;
      if (options.trace) routing.push({ layers });
      if (inputs) layerInputs = inputs;
    }
    const result: ForwardResult = { logits: this.state.logits.slice() };
    if (options.trace) result.routing = routing;
    if (layerInputs) result.layerInputs = layerInputs;
    return result;
  }

  truncate(position: number): void {
    if (!Number.isInteger(position) || position < 0 || position > this.cachedTokens) {
      throw new ConfigError(`cpu: truncate(${position}) outside [0, ${this.cachedTokens}]`);
    }
    this.cachedTokens = position; // rows ≥ position are overwritten by the next forward
  }

  dispose(): void {
    this.disposed = true;
    this.state.keyCache.length = 0;
    this.state.valueCache.length = 0;
  }

  private checkRequest(tokenIds: number[]): void {
    if (this.disposed) throw new ConfigError('cpu: session used after dispose()');
    if (tokenIds.length === 0) throw new ConfigError('cpu: forward() needs at least one token');
    const { vocab } = this.model.spec;
    for (const id of tokenIds) {
      if (!Number.isInteger(id) || id < 0 || id >= vocab)
        throw new ConfigError(`cpu: token id ${id} outside [0, ${vocab})`);
    }
    if (this.cachedTokens + tokenIds.length > this.state.maxContext) {
      throw new ConfigError(
        `cpu: ${this.cachedTokens} cached + ${tokenIds.length} new tokens exceed maxContext ${this.state.maxContext}`,
      );
    }
  }
}

/**
 * A reference session: every weight to f32 (each tensor through `convert`, f32Tensor or a
 * wrapper of it), maxContext checked.
 */
async function referenceSession(
  weights: ExportableWeights,
  options: { maxContext?: number },
  convert: (t: RawTensor) => RawTensor = f32Tensor,
): Promise<{ session: CpuSession; model: ModelF32 }> {
  const maxContext = options.maxContext ?? weights.spec.contextLength;
  if (!Number.isInteger(maxContext) || maxContext < 1)
    throw new ConfigError(`cpu: maxContext ${maxContext} must be a positive integer`);
  const model = dequantizeModel(await loadedWeights(weights, convert));
  return { session: new CpuSession(model, createRunState(model, maxContext)), model };
}

export const cpuBackend: Backend = {
  name: 'cpu',
  async createSession(weights: ExportableWeights, options: { maxContext?: number } = {}): Promise<Session> {
    return (await referenceSession(weights, options)).session;
  },
};

/**
 * The reference with q4_0 matmuls reading 8-bit activations (ops.ts roundQ8x), as the WASM
 * backend's q4_0 kernels and llama.cpp's do: what the WASM q4_0 path is checked against tightly.
 * Every other weight, and the rest of the forward pass, is the plain reference's.
 */
export const cpuBackendQ8x: Backend = {
  name: 'cpu',
  async createSession(weights: ExportableWeights, options: { maxContext?: number } = {}): Promise<Session> {
    const fromQ4: ArrayBufferLike[] = [];
    const { session, model } = await referenceSession(weights, options, (t) => {
      const f32 = f32Tensor(t);
      if (t.dtype === 'q4_0') fromQ4.push(f32.data.buffer);
      return f32;
    });
    for (const w of wasmQuantizedMatrices(model)) if (fromQ4.includes(w.buffer)) emulateQ8xActivations(w);
    return session;
  },
};

/** The matrices the WASM backend multiplies with its quantized kernels (the router it keeps in f32). */
function wasmQuantizedMatrices(model: ModelF32): Float32Array[] {
  const out = [model.embed, model.lmHead];
  for (const l of model.layers) {
    out.push(l.wq, l.wk, l.wv, l.wo);
    const mlps = l.mlp ? [l.mlp] : [...(l.moe?.experts ?? []), ...(l.moe?.shared ? [l.moe.shared] : [])];
    for (const m of mlps) out.push(m.gate, m.up, m.down);
    // not the router: the WASM backend keeps it in f32 and routes on the JS side
  }
  return out;
}
