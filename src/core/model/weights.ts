/**
 * ModelWeights: the normalized in-memory weights of one model, indexed by role rather
 * than by checkpoint name. Loaders (HF safetensors, GGUF, llama2.c, the merge) produce
 * it; backends consume it. Matrices keep their storage dtype (f32/f16/bf16/q8_0/q4_0):
 * the CPU reference dequantizes on use, fast backends read blocks directly.
 *
 * All matrices are Linear weights in [out, in] order.
 */
import type { DType, RawTensor } from '../tensor.ts';
import { tensorByteLength } from '../quant/dtype-traits.ts';
import type { ModelSpec } from './spec.ts';

/**
 * The one declaration of a model's weights by role (llama2.c's TransformerWeights). Each
 * backend instantiates it with its own matrix and vector types: RawTensor here (storage
 * dtype), Float32Array for the CPU reference (cpu/model-f32.ts), PackedMatrix for WASM
 * (wasm/packed-model.ts), GPU buffers for WebGPU (webgpu/upload.ts). Shapes are stated once,
 * here, in [out, in] order.
 */

/** One SwiGLU MLP: down(silu(gate x) * up x). */
export interface MlpOf<Matrix> {
  gate: Matrix; // [intermediate, hidden]
  up: Matrix; // [intermediate, hidden]
  down: Matrix; // [hidden, intermediate]
}

/** The routed experts of one layer (and the Qwen2-MoE shared expert). */
export interface MoeOf<Router, Mlp, SharedGate> {
  router: Router; // [experts, hidden]   routerLogits = router · x
  experts: Mlp[]; // [experts]
  shared?: Mlp; // Qwen2-MoE shared expert
  sharedGate?: SharedGate; // [1, hidden]  sigmoid(sharedGate · x) scales the shared expert
}

export interface LayerOf<Matrix, Vector, Mlp, Moe> {
  attnNorm: Vector; // [hidden]
  wq: Matrix; // [heads*headDim, hidden]
  wk: Matrix; // [kvHeads*headDim, hidden]
  wv: Matrix; // [kvHeads*headDim, hidden]
  wo: Matrix; // [hidden, heads*headDim]
  bq?: Vector; // [heads*headDim]   qwen2 only
  bk?: Vector; // [kvHeads*headDim]
  bv?: Vector; // [kvHeads*headDim]
  qNorm?: Vector; // [headDim]   qwen3 only: RMSNorm of each query head, before RoPE
  kNorm?: Vector; // [headDim]   … and of each key head
  ffnNorm: Vector; // [hidden]
  /** Exactly one of mlp / moe is set. */
  mlp?: Mlp;
  moe?: Moe;
}

export interface ModelOf<Embed, Vector, Layer, LmHead> {
  spec: ModelSpec;
  embed: Embed; // [vocab, hidden]
  layers: Layer[]; // [layers]
  finalNorm: Vector; // [hidden]
  lmHead: LmHead; // [vocab, hidden]
}

export type MlpWeights = MlpOf<RawTensor>;
export type MoeWeights = MoeOf<RawTensor, MlpWeights, RawTensor>;
export type LayerWeights = LayerOf<RawTensor, RawTensor, MlpWeights, MoeWeights>;

export interface ModelWeights extends Omit<ModelOf<RawTensor, RawTensor, LayerWeights, RawTensor>, 'lmHead'> {
  /** Absent when spec.tieEmbeddings: the logits use `embed`. */
  lmHead?: RawTensor; // [vocab, hidden]
}

/**
 * A tensor whose bytes are read when used (loadModelLazy, for exports and sessions): the
 * exporter or the backend reads each tensor when its turn comes and drops it, so memory does
 * not grow with the model (beyond the backend's own copy).
 */
export interface LazyTensor {
  name: string;
  dtype: DType;
  /** PyTorch order. */
  shape: number[];
  /** Reads the bytes from the source (again at every call; nothing is kept). */
  read(): Promise<Uint8Array>;
}

/** ModelWeights over another tensor type (the same roles and shapes). */
export type WeightsOf<T> = Omit<ModelOf<T, T, LayerOf<T, T, MlpOf<T>, MoeOf<T, MlpOf<T>, T>>, T>, 'lmHead'> & {
  lmHead?: T;
};

export type LazyModelWeights = WeightsOf<LazyTensor>;

/** What the exporters take: loaded tensors, lazy ones, or a mix. */
export type ExportableTensor = RawTensor | LazyTensor;
export type ExportableWeights = WeightsOf<ExportableTensor>;

/** The tensor with its bytes: itself when loaded, else read now. */
export async function loadedTensor(t: ExportableTensor): Promise<RawTensor> {
  if ('data' in t) return t;
  return { name: t.name, dtype: t.dtype, shape: t.shape, data: await t.read() };
}

/**
 * Every tensor of `weights` with its bytes: each lazy one read now (in layer order, then embed,
 * finalNorm, lmHead) and passed through `convert` before the next is read, so a conversion
 * (the CPU reference's f32) holds one source tensor at a time beside its results.
 */
export async function loadedWeights(
  weights: ExportableWeights,
  convert: (t: RawTensor) => RawTensor = (t) => t,
): Promise<ModelWeights> {
  const read = async (t: ExportableTensor) => convert(await loadedTensor(t));
  const mlp = async (m: MlpOf<ExportableTensor>): Promise<MlpWeights> => ({
    gate: await read(m.gate),
    up: await read(m.up),
    down: await read(m.down),
  });
  const optional = async (t: ExportableTensor | undefined) => (t ? read(t) : undefined);
  const layers: LayerWeights[] = [];
  for (const l of weights.layers) {
    const layer: LayerWeights = {
      attnNorm: await read(l.attnNorm),
      wq: await read(l.wq),
      wk: await read(l.wk),
      wv: await read(l.wv),
      wo: await read(l.wo),
      ffnNorm: await read(l.ffnNorm),
    };
    const [bq, bk, bv] = [await optional(l.bq), await optional(l.bk), await optional(l.bv)];
    if (bq) layer.bq = bq;
    if (bk) layer.bk = bk;
    if (bv) layer.bv = bv;
    const [qNorm, kNorm] = [await optional(l.qNorm), await optional(l.kNorm)];
    if (qNorm) layer.qNorm = qNorm;
    if (kNorm) layer.kNorm = kNorm;
    if (l.mlp) layer.mlp = await mlp(l.mlp);
    if (l.moe) {
      const experts: MlpWeights[] = [];
      for (const e of l.moe.experts) experts.push(await mlp(e));
      const moe: MoeWeights = { router: await read(l.moe.router), experts };
      if (l.moe.shared) moe.shared = await mlp(l.moe.shared);
      if (l.moe.sharedGate) moe.sharedGate = await read(l.moe.sharedGate);
      layer.moe = moe;
    }
    layers.push(layer);
  }
  const loaded: ModelWeights = {
    spec: weights.spec,
    embed: await read(weights.embed),
    layers,
    finalNorm: await read(weights.finalNorm),
  };
  if (weights.lmHead) loaded.lmHead = await read(weights.lmHead);
  return loaded;
}

/** Bytes of a tensor's data, loaded or lazy (nothing is read). */
export function tensorBytes(t: ExportableTensor): number {
  return 'data' in t ? t.data.byteLength : tensorByteLength(t.dtype, t.shape);
}
