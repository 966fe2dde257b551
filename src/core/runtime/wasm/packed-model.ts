/**
 * ModelWeights → kernel layout in the session's wasm arenas. Matrices go into wasm memory
 * (packMatrix): the main one, or, past one memory's limit, the weight bank its plan names
 * (memory-plan.ts planWasmMemories);
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
import { BackendError } from '../../errors.ts';
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

/**
 * Which arena each next matrix goes to, in packModel's order: one arena, or the session's
 * arenas with the plan's placement (a matrix per entry, checked to the last).
 */
export class MatrixPlacer {
  private next = 0;
  constructor(
    private readonly arenas: readonly WasmArena[],
    private readonly placement?: readonly number[],
  ) {}
  arena(name: string): WasmArena {
    if (!this.placement) return this.arenas[0]!;
    const memory = this.placement[this.next++];
    const arena = memory === undefined ? undefined : this.arenas[memory];
    if (!arena)
      throw new BackendError(`wasm: matrix '${name}' is past the memory plan (${this.placement.length} matrices)`);
    return arena;
  }
  /** Throws unless every planned matrix was packed. */
  done(): void {
    if (this.placement && this.next !== this.placement.length)
      throw new BackendError(`wasm: packed ${this.next} matrices, the memory plan has ${this.placement.length}`);
  }
}

const matrix = async (placer: MatrixPlacer, t: ExportableTensor) => {
  const tensor = await loadedTensor(t);
  return packMatrix(placer.arena(tensor.name), tensor);
};
const vector = async (t: ExportableTensor) => tensorToF32(await loadedTensor(t));
const optionalVector = async (t: ExportableTensor | undefined) => (t ? vector(t) : undefined);

async function packMlp(placer: MatrixPlacer, mlp: MlpOf<ExportableTensor>): Promise<PackedMlp> {
  const gate = await matrix(placer, mlp.gate);
  return { gate, up: await matrix(placer, mlp.up), down: await matrix(placer, mlp.down), intermediate: gate.n };
}

async function packLayer(placer: MatrixPlacer, layer: ExportableWeights['layers'][number]): Promise<PackedLayer> {
  const packed: PackedLayer = {
    attnNorm: await vector(layer.attnNorm),
    wq: await matrix(placer, layer.wq),
    wk: await matrix(placer, layer.wk),
    wv: await matrix(placer, layer.wv),
    wo: await matrix(placer, layer.wo),
    bq: await optionalVector(layer.bq),
    bk: await optionalVector(layer.bk),
    bv: await optionalVector(layer.bv),
    qNorm: await optionalVector(layer.qNorm),
    kNorm: await optionalVector(layer.kNorm),
    ffnNorm: await vector(layer.ffnNorm),
  };
  if (layer.mlp) packed.mlp = await packMlp(placer, layer.mlp);
  if (layer.moe) {
    const experts: PackedMlp[] = [];
    for (const e of layer.moe.experts) experts.push(await packMlp(placer, e));
    packed.moe = {
      router: await vector(layer.moe.router),
      experts,
      shared: layer.moe.shared ? await packMlp(placer, layer.moe.shared) : undefined,
      sharedGate: await optionalVector(layer.moe.sharedGate),
    };
  }
  return packed;
}

/** Packs `weights` into `arena` (or the placer's arenas), tensor by tensor, in file order (layers, then embed, finalNorm, lmHead). */
export async function packModel(into: WasmArena | MatrixPlacer, weights: ExportableWeights): Promise<PackedModel> {
  const placer = into instanceof MatrixPlacer ? into : new MatrixPlacer([into]);
  const layers: PackedLayer[] = [];
  for (const layer of weights.layers) layers.push(await packLayer(placer, layer));
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
  const finalNorm = await vector(weights.finalNorm);
  const lmHeadTensor = weights.lmHead ? await loadedTensor(weights.lmHead) : embed;
  const lmHead = packMatrix(placer.arena(lmHeadTensor.name), lmHeadTensor);
  placer.done();
  return { spec: weights.spec, embed, layers, finalNorm, lmHead, maxIntermediate };
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
