/**
 * ModelWeights: the normalized in-memory weights of one model, indexed by role rather
 * than by checkpoint name. Loaders (HF safetensors, GGUF, llama2.c, the merge) produce
 * it; backends consume it. Matrices keep their storage dtype (f32/f16/bf16/q8_0/q4_0):
 * the CPU reference dequantizes on use, fast backends read blocks directly.
 *
 * All matrices are Linear weights in [out, in] order.
 */
import type { RawTensor } from '../tensor.ts';
import type { ModelSpec } from './spec.ts';

/** One SwiGLU MLP: down(silu(gate x) * up x). */
export interface MlpWeights {
  gate: RawTensor; // [intermediate, hidden]
  up: RawTensor; // [intermediate, hidden]
  down: RawTensor; // [hidden, intermediate]
}

export interface MoeWeights {
  router: RawTensor; // [experts, hidden]   routerLogits = router · x
  experts: MlpWeights[]; // [experts] each [expertIntermediate, hidden] …
  shared?: MlpWeights; // Qwen2-MoE shared expert
  sharedGate?: RawTensor; // [1, hidden]  sigmoid(sharedGate · x) scales the shared expert
}

export interface LayerWeights {
  attnNorm: RawTensor; // [hidden]
  wq: RawTensor; // [heads*headDim, hidden]
  wk: RawTensor; // [kvHeads*headDim, hidden]
  wv: RawTensor; // [kvHeads*headDim, hidden]
  wo: RawTensor; // [hidden, heads*headDim]
  bq?: RawTensor; // [heads*headDim]   qwen2 only
  bk?: RawTensor; // [kvHeads*headDim]
  bv?: RawTensor; // [kvHeads*headDim]
  ffnNorm: RawTensor; // [hidden]
  /** Exactly one of mlp / moe is set. */
  mlp?: MlpWeights;
  moe?: MoeWeights;
}

export interface ModelWeights {
  spec: ModelSpec;
  embed: RawTensor; // [vocab, hidden]
  layers: LayerWeights[]; // [layers]
  finalNorm: RawTensor; // [hidden]
  /** Absent when spec.tieEmbeddings: the logits use `embed`. */
  lmHead?: RawTensor; // [vocab, hidden]
}
