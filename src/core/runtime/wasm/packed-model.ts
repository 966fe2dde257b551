/**
 * ModelWeights → kernel layout in one wasm arena. Matrices go into wasm memory (packMatrix);
 * the small per-layer vectors (norms, biases) and the tiny router stay as JS f32 arrays,
 * because the O(hidden) steps and the routing rule run in JS (routing.ts, cpu/ops.ts).
 */
import type { RawTensor } from '../../tensor.ts';
import type { ModelSpec } from '../../model/spec.ts';
import type { MlpWeights, ModelWeights } from '../../model/weights.ts';
import type { WasmArena } from './arena.ts';
import { packMatrix, tensorToF32, type PackedMatrix } from './layout.ts';

export interface PackedMlp {
  gate: PackedMatrix; // [inter, hidden]
  up: PackedMatrix; // [inter, hidden]
  down: PackedMatrix; // [hidden, inter]
  intermediate: number;
}

export interface PackedMoe {
  router: Float32Array; // [experts, hidden]  (JS: routing runs on the CPU side)
  experts: PackedMlp[]; // [experts]
  shared?: PackedMlp;
  sharedGate?: Float32Array; // [hidden]
}

export interface PackedLayer {
  attnNorm: Float32Array; // [hidden]
  wq: PackedMatrix; // [qDim, hidden]
  wk: PackedMatrix; // [kvDim, hidden]
  wv: PackedMatrix; // [kvDim, hidden]
  wo: PackedMatrix; // [hidden, qDim]
  bq?: Float32Array; // [qDim]
  bk?: Float32Array; // [kvDim]
  bv?: Float32Array; // [kvDim]
  ffnNorm: Float32Array; // [hidden]
  mlp?: PackedMlp;
  moe?: PackedMoe;
}

export interface PackedModel {
  spec: ModelSpec;
  embed: RawTensor; // [vocab, hidden] kept in its storage dtype; rows widened on lookup
  layers: PackedLayer[];
  finalNorm: Float32Array; // [hidden]
  lmHead: PackedMatrix; // [vocab, hidden] (the embedding when tied)
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
