/**
 * The CPU reference's view of a model: every weight dequantized once to f32 (on session
 * creation; f32 weights are used in place), with its shape checked against the ModelSpec so a mismatched checkpoint fails
 * here with a message naming the tensor, not later with an index out of range.
 */
import { ConfigError } from '../../errors.ts';
import type {
  ExportableTensor,
  ExportableWeights,
  LayerOf,
  MlpOf,
  MlpWeights,
  ModelOf,
  ModelWeights,
  MoeOf,
} from '../../model/weights.ts';
import type { RawTensor } from '../../tensor.ts';
import { dequantize } from '../../quant/convert.ts';
import { HOST_IS_LITTLE_ENDIAN } from '../../quant/float-bits.ts';

/** An MLP in f32, with its width (dense, routed and shared experts differ). */
export interface MlpF32 extends MlpOf<Float32Array> {
  intermediate: number;
}

export type MoeF32 = MoeOf<Float32Array, MlpF32, Float32Array>; // sharedGate [hidden]
export type LayerF32 = LayerOf<Float32Array, Float32Array, MlpF32, MoeF32>;

/** lmHead is the embed array itself when tied. */
export type ModelF32 = ModelOf<Float32Array, Float32Array, LayerF32, Float32Array>;

/** Dequantizes `t` after checking its shape is `expected`. */
function f32Of(t: RawTensor | undefined, expected: number[], role: string): Float32Array {
  if (!t) throw new ConfigError(`cpu: model has no ${role} tensor (expected [${expected.join(', ')}])`);
  const same = t.shape.length === expected.length && t.shape.every((d, i) => d === expected[i]);
  // A [n] vector may also arrive as [1, n] (e.g. shared_expert_gate).
  const sameCount = t.shape.reduce((a, b) => a * b, 1) === expected.reduce((a, b) => a * b, 1);
  if (!same && !(expected.length === 1 && sameCount)) {
    throw new ConfigError(
      `cpu: tensor '${t.name}' (${role}) has shape [${t.shape.join(', ')}], expected [${expected.join(', ')}]`,
    );
  }
  return asF32(t);
}

/**
 * f32 tensors pass through as a view on their bytes (no copy) when aligned and complete;
 * every other dtype is dequantized by quant/convert.ts. The reference never writes weights.
 */
function asF32(t: RawTensor): Float32Array {
  const count = t.shape.reduce((a, b) => a * b, 1);
  if (t.dtype === 'f32' && t.data.byteOffset % 4 === 0 && t.data.byteLength === count * 4 && HOST_IS_LITTLE_ENDIAN) {
    return new Float32Array(t.data.buffer, t.data.byteOffset, count);
  }
  return dequantize(t);
}

/** `t` as an f32 tensor (asF32's values), for loadedWeights' per-tensor conversion. */
export function f32Tensor(t: RawTensor): RawTensor {
  if (t.dtype === 'f32') return t;
  const values = asF32(t);
  return {
    name: t.name,
    dtype: 'f32',
    shape: t.shape,
    data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
  };
}

function mlpOf(m: MlpWeights | undefined, hidden: number, intermediate: number, role: string): MlpF32 {
  if (!m) throw new ConfigError(`cpu: model has no ${role}`);
  return {
    gate: f32Of(m.gate, [intermediate, hidden], `${role}.gate`),
    up: f32Of(m.up, [intermediate, hidden], `${role}.up`),
    down: f32Of(m.down, [hidden, intermediate], `${role}.down`),
    intermediate,
  };
}

function optionalF32(t: RawTensor | undefined, expected: number[], role: string): Float32Array | undefined {
  return t ? f32Of(t, expected, role) : undefined;
}

/** ModelWeights (any storage dtype) → f32 arrays, shapes checked against the spec. */
export function dequantizeModel(weights: ModelWeights): ModelF32 {
  const spec = weights.spec;
  const { hidden, vocab, heads, kvHeads, headDim } = spec;
  const qDim = heads * headDim;
  const kvDim = kvHeads * headDim;
  if (weights.layers.length !== spec.layers) {
    throw new ConfigError(`cpu: model has ${weights.layers.length} layers, spec says ${spec.layers}`);
  }
  const layers = weights.layers.map((l, i): LayerF32 => {
    const p = `layer ${i}`;
    const layer: LayerF32 = {
      attnNorm: f32Of(l.attnNorm, [hidden], `${p} attnNorm`),
      wq: f32Of(l.wq, [qDim, hidden], `${p} wq`),
      wk: f32Of(l.wk, [kvDim, hidden], `${p} wk`),
      wv: f32Of(l.wv, [kvDim, hidden], `${p} wv`),
      wo: f32Of(l.wo, [hidden, qDim], `${p} wo`),
      bq: optionalF32(l.bq, [qDim], `${p} bq`),
      bk: optionalF32(l.bk, [kvDim], `${p} bk`),
      bv: optionalF32(l.bv, [kvDim], `${p} bv`),
      qNorm: optionalF32(l.qNorm, [spec.headDim], `${p} qNorm`),
      kNorm: optionalF32(l.kNorm, [spec.headDim], `${p} kNorm`),
      ffnNorm: f32Of(l.ffnNorm, [hidden], `${p} ffnNorm`),
    };
    if (spec.moe) {
      const moe = spec.moe;
      if (!l.moe) throw new ConfigError(`cpu: ${p} has no MoE block but the spec has ${moe.experts} experts`);
      if (l.moe.experts.length !== moe.experts) {
        throw new ConfigError(`cpu: ${p} has ${l.moe.experts.length} experts, spec says ${moe.experts}`);
      }
      layer.moe = {
        router: f32Of(l.moe.router, [moe.experts, hidden], `${p} router`),
        experts: l.moe.experts.map((e, j) => mlpOf(e, hidden, moe.expertIntermediate, `${p} expert ${j}`)),
        shared: moe.sharedExpert
          ? mlpOf(l.moe.shared, hidden, moe.sharedExpert.intermediate, `${p} shared expert`)
          : undefined,
        sharedGate: moe.sharedExpert?.gated ? f32Of(l.moe.sharedGate, [hidden], `${p} sharedGate`) : undefined,
      };
    } else {
      layer.mlp = mlpOf(l.mlp, hidden, spec.intermediate, `${p} mlp`);
    }
    return layer;
  });
  const embed = f32Of(weights.embed, [vocab, hidden], 'embed');
  const lmHead = spec.tieEmbeddings ? embed : f32Of(weights.lmHead, [vocab, hidden], 'lmHead');
  return { spec, embed, layers, finalNorm: f32Of(weights.finalNorm, [hidden], 'finalNorm'), lmHead };
}

/**
 * Bytes a reference session of `weights` holds, from shapes alone: every weight in f32 (the
 * tied lm_head is the embedding) and the f32 KV cache of `maxContext` tokens.
 */
export function cpuSessionBytes(weights: ExportableWeights, maxContext: number): number {
  const count = (t: ExportableTensor | undefined) => (t ? t.shape.reduce((a, b) => a * b, 1) : 0);
  let elements = count(weights.embed) + count(weights.lmHead) + count(weights.finalNorm);
  for (const l of weights.layers) {
    const mlps = [...(l.mlp ? [l.mlp] : []), ...(l.moe?.experts ?? []), ...(l.moe?.shared ? [l.moe.shared] : [])];
    for (const t of [
      l.attnNorm,
      l.ffnNorm,
      l.wq,
      l.wk,
      l.wv,
      l.wo,
      l.bq,
      l.bk,
      l.bv,
      l.qNorm,
      l.kNorm,
      l.moe?.router,
      l.moe?.sharedGate,
    ])
      elements += count(t);
    for (const m of mlps) elements += count(m.gate) + count(m.up) + count(m.down);
  }
  const { layers, kvHeads, headDim } = weights.spec;
  return 4 * (elements + 2 * layers * maxContext * kvHeads * headDim);
}
