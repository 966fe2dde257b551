/**
 * ModelWeights → kernel layout in one wasm arena. Matrices go into wasm memory (packMatrix);
 * the small per-layer vectors (norms, biases) and the tiny router stay as JS f32 arrays,
 * because the O(hidden) steps and the routing rule run in JS (routing.ts, cpu/ops.ts).
 * Tensors are packed one at a time, each lazy one read just before (loadedTensor) and
 * dropped after, so packing holds one source tensor beside the arena, never the model.
 */
import type { RawTensor } from '../../tensor.ts';
import {
  type ExportableTensor,
  type ExportableWeights,
  type LayerOf,
  loadedTensor,
  type MlpOf,
  type ModelOf,
  type MoeOf,
} from '../../model/weights.ts';
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

const matrix = async (arena: WasmArena, t: ExportableTensor) => packMatrix(arena, await loadedTensor(t));
const vector = async (t: ExportableTensor) => tensorToF32(await loadedTensor(t));
const optionalVector = async (t: ExportableTensor | undefined) => (t ? vector(t) : undefined);

async function packMlp(arena: WasmArena, mlp: MlpOf<ExportableTensor>): Promise<PackedMlp> {
  const gate = await matrix(arena, mlp.gate);
  return { gate, up: await matrix(arena, mlp.up), down: await matrix(arena, mlp.down), intermediate: gate.n };
}

async function packLayer(arena: WasmArena, layer: ExportableWeights['layers'][number]): Promise<PackedLayer> {
  const packed: PackedLayer = {
    attnNorm: await vector(layer.attnNorm),
    wq: await matrix(arena, layer.wq),
    wk: await matrix(arena, layer.wk),
    wv: await matrix(arena, layer.wv),
    wo: await matrix(arena, layer.wo),
    bq: await optionalVector(layer.bq),
    bk: await optionalVector(layer.bk),
    bv: await optionalVector(layer.bv),
    qNorm: await optionalVector(layer.qNorm),
    kNorm: await optionalVector(layer.kNorm),
    ffnNorm: await vector(layer.ffnNorm),
  };
  if (layer.mlp) packed.mlp = await packMlp(arena, layer.mlp);
  if (layer.moe) {
    const experts: PackedMlp[] = [];
    for (const e of layer.moe.experts) experts.push(await packMlp(arena, e));
    packed.moe = {
      router: await vector(layer.moe.router),
      experts,
      shared: layer.moe.shared ? await packMlp(arena, layer.moe.shared) : undefined,
      sharedGate: await optionalVector(layer.moe.sharedGate),
    };
  }
  return packed;
}

/** Packs `weights` into `arena`, tensor by tensor, in file order (layers, then embed, finalNorm, lmHead). */
export async function packModel(arena: WasmArena, weights: ExportableWeights): Promise<PackedModel> {
  const layers: PackedLayer[] = [];
  for (const layer of weights.layers) layers.push(await packLayer(arena, layer));
  let maxIntermediate = 0;
  for (const layer of layers) {
    const mlps = [
      ...(layer.mlp ? [layer.mlp] : []),
      ...(layer.moe?.experts ?? []),
      ...(layer.moe?.shared ? [layer.moe.shared] : []),
    ];
    for (const mlp of mlps) maxIntermediate = Math.max(maxIntermediate, mlp.intermediate);
  }
  const embed = await loadedTensor(weights.embed); // stays in JS, storage dtype: one row is widened per token
  return {
    spec: weights.spec,
    embed,
    layers,
    finalNorm: await vector(weights.finalNorm),
    lmHead: packMatrix(arena, weights.lmHead ? await loadedTensor(weights.lmHead) : embed),
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
