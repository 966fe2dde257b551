/**
 * ModelWeights: the normalized in-memory weights of one model, indexed by role rather
 * than by checkpoint name. Loaders (HF safetensors, GGUF, llama2.c, the merge) produce
 * it; backends consume it. Matrices keep their storage dtype (f32/f16/bf16/q8_0/q4_0):
 * the CPU reference dequantizes on use, fast backends read blocks directly.
 *
 * All matrices are Linear weights in [out, in] order.
 */
import type { DType, RawTensor } from '../tensor.ts';
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
 * A tensor whose bytes are read when used (loadModelLazy, for exports): the exporter reads
 * each tensor when its turn comes and drops it, so memory does not grow with the model.
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
