/**
 * ModelWeights → kernel layout in one wasm arena. Matrices go into wasm memory (packMatrix);
 * the small per-layer vectors (norms, biases) and the tiny router stay as JS f32 arrays,
 * because the O(hidden) steps and the routing rule run in JS (routing.ts, cpu/ops.ts).
 */
import type { RawTensor } from '../../tensor.ts';
import type { LayerOf, MlpOf, MlpWeights, ModelOf, ModelWeights, MoeOf } from '../../model/weights.ts';
import type { WasmArena } from './arena.ts';
import { packMatrix, tensorToF32, type PackedMatrix } from './layout.ts';

export interface PackedMlp extends MlpOf<PackedMatrix> {
  intermediate: number;
}

/** The router and the shared gate stay JS f32 arrays: routing runs on the CPU side. */
export type PackedMoe = MoeOf<Float32Array, PackedMlp, Float32Array>;
export type PackedLayer = LayerOf<PackedMatrix, Float32Array, PackedMlp, PackedMoe>;

/** embed keeps its storage dtype (rows widened on lookup); lmHead is the embedding when tied. */
export interface PackedModel extends ModelOf<RawTensor, Float32Array, PackedLayer, PackedMatrix> {
  /** Largest intermediate width of any MLP (dense, expert or shared). */
  maxIntermediate: number;
}

function packMlp(arena: WasmArena, mlp: MlpWeights): PackedMlp {
  const gate = packMatrix(arena, mlp.gate);
  return { gate, up: packMatrix(arena, mlp.up), down: packMatrix(arena, mlp.down), intermediate: gate.n };
}

function optionalF32(tensor: RawTensor | undefined): Float32Array | undefined {
  return tensor ? tensorToF32(tensor) : undefined;
}

export function packModel(arena: WasmArena, weights: ModelWeights): PackedModel {
  let maxIntermediate = 0;
  const layers = weights.layers.map((layer): PackedLayer => {
    const packed: PackedLayer = {
      attnNorm: tensorToF32(layer.attnNorm),
      wq: packMatrix(arena, layer.wq),
      wk: packMatrix(arena, layer.wk),
      wv: packMatrix(arena, layer.wv),
      wo: packMatrix(arena, layer.wo),
      bq: optionalF32(layer.bq),
      bk: optionalF32(layer.bk),
      bv: optionalF32(layer.bv),
      ffnNorm: tensorToF32(layer.ffnNorm),
    };
    if (layer.mlp) {
      packed.mlp = packMlp(arena, layer.mlp);
      maxIntermediate = Math.max(maxIntermediate, packed.mlp.intermediate);
    }
    if (layer.moe) {
      const experts = layer.moe.experts.map((e) => packMlp(arena, e));
      const shared = layer.moe.shared ? packMlp(arena, layer.moe.shared) : undefined;
      for (const mlp of shared ? [...experts, shared] : experts)
        maxIntermediate = Math.max(maxIntermediate, mlp.intermediate);
      packed.moe = {
        router: tensorToF32(layer.moe.router),
        experts,
        shared,
        sharedGate: optionalF32(layer.moe.sharedGate),
      };
    }
    return packed;
  });
  return {
    spec: weights.spec,
    embed: weights.embed,
    layers,
    finalNorm: tensorToF32(weights.finalNorm),
    lmHead: packMatrix(arena, weights.lmHead ?? weights.embed),
    maxIntermediate,
  };
}

/** Bytes of weights one decode token reads (attention + top-k experts + shared + lm_head). */
export function activeWeightBytesPerToken(model: PackedModel): number {
  let bytes = model.lmHead.bytes;
  const expertsPerToken = model.spec.moe?.expertsPerToken ?? 0;
  for (const layer of model.layers) {
    bytes += layer.wq.bytes + layer.wk.bytes + layer.wv.bytes + layer.wo.bytes;
    const mlpBytes = (m: PackedMlp) => m.gate.bytes + m.up.bytes + m.down.bytes;
    if (layer.mlp) bytes += mlpBytes(layer.mlp);
    if (layer.moe) {
      bytes += (layer.moe.experts[0] ? mlpBytes(layer.moe.experts[0]) : 0) * expertsPerToken;
      if (layer.moe.shared) bytes += mlpBytes(layer.moe.shared);
    }
  }
  return bytes;
}
