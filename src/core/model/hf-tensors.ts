/**
 * The HF checkpoint tensors a ModelSpec implies: name, expected shape and the ModelWeights
 * role each one fills. The loader (load-hf.ts) and the exporter (export-hf.ts) both walk
 * this one list, so what we write is exactly what we read back.
 *
 * Order: embed; per layer attention norm, q, k, v, o, (q/k/v biases), ffn norm, then the
 * feed-forward tensors; final norm; lm_head. (Order only matters for shards.)
 */
import { assert } from '../errors.ts';
import type { RawTensor } from '../tensor.ts';
import type { ArchNameTable, AttentionNames, MlpNames } from './names.ts';
import { tensorName } from './names.ts';
import type { ModelSpec } from './spec.ts';
import type { MlpOf, WeightsOf } from './weights.ts';

export type AttentionRole = keyof AttentionNames;
export type MlpRole = keyof MlpNames;

/** Which slot of ModelWeights a checkpoint tensor fills. */
export type TensorRole =
  | { kind: 'embed' }
  | { kind: 'finalNorm' }
  | { kind: 'lmHead' }
  | { kind: 'attention'; layer: number; key: AttentionRole }
  | { kind: 'mlp'; layer: number; key: MlpRole }
  | { kind: 'expert'; layer: number; expert: number; key: MlpRole }
  | { kind: 'shared'; layer: number; key: MlpRole }
  | { kind: 'router'; layer: number }
  | { kind: 'sharedGate'; layer: number }
  /** Fused Mixtral: every expert's gate rows then up rows, [experts, 2*expertIntermediate, hidden]. */
  | { kind: 'fusedGateUp'; layer: number }
  /** Fused Mixtral: every expert's down, [experts, hidden, expertIntermediate]. */
  | { kind: 'fusedDown'; layer: number };

export interface HfTensorEntry {
  name: string;
  /** PyTorch order. */
  shape: number[];
  role: TensorRole;
}

const MLP_KEYS: readonly MlpRole[] = ['gate', 'up', 'down'];

function mlpShape(spec: ModelSpec, key: MlpRole, intermediate: number): number[] {
  return key === 'down' ? [spec.hidden, intermediate] : [intermediate, spec.hidden];
}

function attentionEntries(spec: ModelSpec, table: ArchNameTable, layer: number): HfTensorEntry[] {
  const q = spec.heads * spec.headDim;
  const kv = spec.kvHeads * spec.headDim;
  const shapes: [AttentionRole, number[]][] = [
    ['attnNorm', [spec.hidden]],
    ['wq', [q, spec.hidden]],
    ['wk', [kv, spec.hidden]],
    ['wv', [kv, spec.hidden]],
    ['wo', [spec.hidden, q]],
  ];
  if (spec.qkvBias) shapes.push(['bq', [q]], ['bk', [kv]], ['bv', [kv]]);
  if (spec.qkNorm) shapes.push(['qNorm', [spec.headDim]], ['kNorm', [spec.headDim]]);
  shapes.push(['ffnNorm', [spec.hidden]]);
  return shapes.map(([key, shape]) => ({
    name: tensorName(table.attention[key], layer),
    shape,
    role: { kind: 'attention', layer, key },
  }));
}

function ffnEntries(spec: ModelSpec, table: ArchNameTable, layer: number): HfTensorEntry[] {
  const ffn = table.ffn;
  const entries: HfTensorEntry[] = [];
  if (ffn.kind === 'dense') {
    assert(!spec.moe, `names: table '${table.id}' is dense but the spec has experts`);
    for (const key of MLP_KEYS) {
      entries.push({
        name: tensorName(ffn.mlp[key], layer),
        shape: mlpShape(spec, key, spec.intermediate),
        role: { kind: 'mlp', layer, key },
      });
    }
    return entries;
  }
  const moe = spec.moe;
  assert(moe, `names: table '${table.id}' is MoE but the spec has no experts`);
  const expertI = moe.expertIntermediate;
  if (ffn.kind === 'moe-fused') {
    entries.push(
      {
        name: tensorName(ffn.gateUp, layer),
        shape: [moe.experts, 2 * expertI, spec.hidden],
        role: { kind: 'fusedGateUp', layer },
      },
      {
        name: tensorName(ffn.down, layer),
        shape: [moe.experts, spec.hidden, expertI],
        role: { kind: 'fusedDown', layer },
      },
      { name: tensorName(ffn.router, layer), shape: [moe.experts, spec.hidden], role: { kind: 'router', layer } },
    );
    return entries;
  }
  for (let expert = 0; expert < moe.experts; expert++) {
    for (const key of MLP_KEYS) {
      entries.push({
        name: tensorName(ffn.experts[key], layer, expert),
        shape: mlpShape(spec, key, expertI),
        role: { kind: 'expert', layer, expert, key },
      });
    }
  }
  entries.push({
    name: tensorName(ffn.router, layer),
    shape: [moe.experts, spec.hidden],
    role: { kind: 'router', layer },
  });
  if (moe.sharedExpert) {
    assert(ffn.shared && ffn.sharedGate, `names: table '${table.id}' has no shared-expert names`);
    for (const key of MLP_KEYS) {
      entries.push({
        name: tensorName(ffn.shared[key], layer),
        shape: mlpShape(spec, key, moe.sharedExpert.intermediate),
        role: { kind: 'shared', layer, key },
      });
    }
    if (moe.sharedExpert.gated) {
      entries.push({
        name: tensorName(ffn.sharedGate, layer),
        shape: [1, spec.hidden],
        role: { kind: 'sharedGate', layer },
      });
    }
  }
  return entries;
}

/** Every tensor an HF checkpoint of `spec` holds under `table`, in write order. */
export function hfTensorEntries(spec: ModelSpec, table: ArchNameTable): HfTensorEntry[] {
  const entries: HfTensorEntry[] = [
    { name: table.global.embed, shape: [spec.vocab, spec.hidden], role: { kind: 'embed' } },
  ];
  for (let layer = 0; layer < spec.layers; layer++) {
    entries.push(...attentionEntries(spec, table, layer), ...ffnEntries(spec, table, layer));
  }
  entries.push({ name: table.global.finalNorm, shape: [spec.hidden], role: { kind: 'finalNorm' } });
  if (!spec.tieEmbeddings) {
    entries.push({ name: table.global.lmHead, shape: [spec.vocab, spec.hidden], role: { kind: 'lmHead' } });
  }
  return entries;
}

function roleName(role: TensorRole): string {
  return 'layer' in role ? `${role.kind} of layer ${role.layer}` : role.kind;
}

/**
 * The tensor of `weights` a per-tensor role refers to (fused roles have no single tensor:
 * export-hf.ts stacks them from the experts). Throws if the weights lack it.
 */
export function weightForRole<T = RawTensor>(weights: WeightsOf<T>, role: TensorRole): T {
  const layer: WeightsOf<T>['layers'][number] | undefined = 'layer' in role ? weights.layers[role.layer] : undefined;
  let tensor: T | undefined;
  switch (role.kind) {
    case 'embed':
      tensor = weights.embed;
      break;
    case 'finalNorm':
      tensor = weights.finalNorm;
      break;
    case 'lmHead':
      tensor = weights.lmHead;
      break;
    case 'attention':
      tensor = layer?.[role.key];
      break;
    case 'mlp':
      tensor = layer?.mlp?.[role.key];
      break;
    case 'expert':
      tensor = layer?.moe?.experts[role.expert]?.[role.key];
      break;
    case 'shared':
      tensor = layer?.moe?.shared?.[role.key];
      break;
    case 'router':
      tensor = layer?.moe?.router;
      break;
    case 'sharedGate':
      tensor = layer?.moe?.sharedGate;
      break;
    case 'fusedGateUp':
    case 'fusedDown':
      assert(false, `weightForRole: ${role.kind} is stacked from the experts, not stored`);
  }
  assert(tensor, `weights have no ${'key' in role ? role.key : ''} ${roleName(role)}`.trim());
  return tensor;
}

/** The experts of one MoE layer, for fused stacking. */
export function layerExperts<T = RawTensor>(weights: WeightsOf<T>, layer: number): MlpOf<T>[] {
  const experts = weights.layers[layer]?.moe?.experts;
  assert(experts, `weights: layer ${layer} has no experts`);
  return experts;
}
