/**
 * The ordered list of output tensors for each output architecture (specs/mergekit-moe.md
 * §6.2-6.5), each with the recipe that produces it. Write order follows v0.1.4: embed;
 * per layer the base's attention weights then the experts' MLPs (JSON order up, gate, down;
 * all experts of one projection together); final norm; lm_head; routers last (Qwen MoE:
 * router and shared-expert gate interleaved per layer).
 */
import type { ConfigIssue, ExpertConfig, MoeMergeConfig } from '../formats/mergekit-yaml.ts';
import { tensorByteLength } from '../quant/dtype-traits.ts';
import type { DType } from '../tensor.ts';
import type { OutputArchName } from './architecture.ts';
import type { OpenedModel } from './sources.ts';
import {
  attentionWeightsFor,
  expandLayer,
  MIXTRAL_EXPERT_NAME,
  MLP_ORDER,
  POST_LAYER_WEIGHTS,
  PRE_LAYER_WEIGHTS,
  sourceMlpName,
  type MlpProjection,
  type WeightListEntry,
} from './weight-lists.ts';

/** Noise then residual scale, applied in the source dtype (§6.1 noise_and_scale). */
export interface ExpertTransform {
  noiseScale: number | null;
  /** Already resolved: null when it does not apply (not down_proj, or Mixtral v0.1.4). */
  residualScale: number | null;
}

export interface SourceTensor {
  modelKey: string;
  modelLabel: string;
  name: string;
  dtype: DType;
  shape: number[];
  transform?: ExpertTransform;
}

export type TensorRecipe =
  | { kind: 'copy'; source: SourceTensor }
  /** Fused v5 experts: the sources' elements one after another (= stack of cat). */
  | { kind: 'concat'; sources: SourceTensor[] }
  /** Gate rows [rowStart, rowStart+rowCount) of layer `layer`. */
  | { kind: 'router'; layer: number; rowStart: number; rowCount: number }
  /** Qwen MoE: the zero q/k/v bias a llama/mistral base lacks. */
  | { kind: 'zeros' };

export interface PlannedTensor {
  name: string;
  dtype: DType;
  /** PyTorch order. */
  shape: number[];
  recipe: TensorRecipe;
}

export interface TensorListInput {
  arch: OutputArchName;
  layout: 'classic' | 'fused';
  layers: number;
  hidden: number;
  config: MoeMergeConfig;
  base: OpenedModel;
  experts: OpenedModel[]; // [experts]
  shared: OpenedModel[]; // [0 or 1]
  outDtype: DType | null;
  routerDtype: DType;
  applyMixtralResidual: boolean;
}

class TensorListBuilder {
  readonly tensors: PlannedTensor[] = [];
  readonly issues: ConfigIssue[] = [];
  constructor(readonly input: TensorListInput) {}

  source(model: OpenedModel, name: string, transform?: ExpertTransform): SourceTensor | undefined {
    const info = model.tensors.info(name);
    if (!info) {
      this.issues.push({
        field: model.label,
        message: `merge: model '${model.label}' has no tensor '${name}'`,
        severity: 'error',
      });
      return undefined;
    }
    return { modelKey: model.key, modelLabel: model.label, name, dtype: info.dtype, shape: [...info.shape], transform };
  }

  copy(outName: string, model: OpenedModel, name: string, transform?: ExpertTransform): void {
    const src = this.source(model, name, transform);
    if (src)
      this.tensors.push({
        name: outName,
        dtype: this.input.outDtype ?? src.dtype,
        shape: src.shape,
        recipe: { kind: 'copy', source: src },
      });
  }

  baseWeight(entry: WeightListEntry, layer?: number): void {
    const { base, outDtype, hidden } = this.input;
    const name = layer === undefined ? entry.name : expandLayer(entry.name, layer);
    if (base.tensors.info(name) || !(entry.optional || entry.zeroBias)) {
      this.copy(name, base, name);
      return;
    }
    if (entry.zeroBias) {
      // torch.zeros(n_heads * head_dim) with head_dim = hidden // num_attention_heads (explicit head_dim ignored upstream)
      const heads = Number(base.config.num_attention_heads);
      const kvHeads = Number(base.config.num_key_value_heads ?? heads);
      const n = (entry.zeroBias === 'q' ? heads : kvHeads) * Math.floor(hidden / heads);
      this.tensors.push({ name, dtype: outDtype ?? 'f32', shape: [n], recipe: { kind: 'zeros' } });
    }
  }

  /** Expert transform for one projection: noise always; residual only on down_proj (and not Mixtral v0.1.4). */
  transform(expert: ExpertConfig, proj: MlpProjection): ExpertTransform | undefined {
    const residualApplies = proj === 'down_proj' && (this.input.arch !== 'Mixtral' || this.input.applyMixtralResidual);
    const residualScale = residualApplies ? expert.residualScale : null;
    if (expert.noiseScale === null && residualScale === null) return undefined;
    return { noiseScale: expert.noiseScale, residualScale };
  }

  router(name: string, layer: number, rowStart: number, rowCount: number): void {
    const { hidden, routerDtype } = this.input;
    this.tensors.push({
      name,
      dtype: routerDtype,
      shape: [rowCount, hidden],
      recipe: { kind: 'router', layer, rowStart, rowCount },
    });
  }
}

function expertName(arch: OutputArchName, layer: number, e: number, proj: MlpProjection): string {
  if (arch === 'Mixtral')
    return `model.layers.${layer}.block_sparse_moe.experts.${e}.${MIXTRAL_EXPERT_NAME[proj]}.weight`;
  return `model.layers.${layer}.mlp.experts.${e}.${proj}.weight`;
}

function sharedName(arch: OutputArchName, layer: number, proj: MlpProjection): string {
  return arch === 'DeepSeek MoE'
    ? `model.layers.${layer}.mlp.shared_experts.${proj}.weight`
    : `model.layers.${layer}.mlp.shared_expert.${proj}.weight`;
}

/** Per-expert MLP tensors of one layer (classic layouts). */
function classicMlp(b: TensorListBuilder, layer: number): void {
  const { arch, config, experts, shared } = b.input;
  for (const proj of MLP_ORDER) {
    experts.forEach((m, e) =>
      b.copy(expertName(arch, layer, e, proj), m, sourceMlpName(layer, proj), b.transform(config.experts[e]!, proj)),
    );
    shared.forEach((m, s) =>
      b.copy(
        sharedName(arch, layer, proj),
        m,
        sourceMlpName(layer, proj),
        b.transform(config.sharedExperts![s]!, proj),
      ),
    );
  }
}

/** transformers-v5 fused experts of one layer: gate_up_proj [E, 2I, H], down_proj [E, H, I]. */
function fusedMlp(b: TensorListBuilder, layer: number): void {
  const { config, experts, outDtype } = b.input;
  const prefix = `model.layers.${layer}.mlp.experts`;
  const gateUp = experts.flatMap((m, e) =>
    ['gate_proj', 'up_proj'].map((p) =>
      b.source(m, sourceMlpName(layer, p as MlpProjection), b.transform(config.experts[e]!, p as MlpProjection)),
    ),
  );
  const down = experts.map((m, e) =>
    b.source(m, sourceMlpName(layer, 'down_proj'), b.transform(config.experts[e]!, 'down_proj')),
  );
  if (gateUp.some((s) => !s) || down.some((s) => !s)) return;
  const [g0, d0] = [gateUp[0]!, down[0]!];
  const E = experts.length;
  b.tensors.push({
    name: `${prefix}.gate_up_proj`,
    dtype: outDtype ?? g0.dtype,
    shape: [E, 2 * g0.shape[0]!, g0.shape[1]!],
    recipe: { kind: 'concat', sources: gateUp as SourceTensor[] },
  });
  b.tensors.push({
    name: `${prefix}.down_proj`,
    dtype: outDtype ?? d0.dtype,
    shape: [E, d0.shape[0]!, d0.shape[1]!],
    recipe: { kind: 'concat', sources: down as SourceTensor[] },
  });
}

function routerName(arch: OutputArchName, layout: 'classic' | 'fused', layer: number): string {
  return arch === 'Mixtral' && layout === 'classic'
    ? `model.layers.${layer}.block_sparse_moe.gate.weight`
    : `model.layers.${layer}.mlp.gate.weight`;
}

/** Checks that expert MLP sources have the base's MLP shapes, and that fused sources share one dtype. */
function checkSources(b: TensorListBuilder): void {
  const { hidden, base } = b.input;
  const inter = Number(base.config.intermediate_size);
  for (const t of b.tensors) {
    const sources = t.recipe.kind === 'copy' ? [t.recipe.source] : t.recipe.kind === 'concat' ? t.recipe.sources : [];
    for (const s of sources) {
      const proj = /\.mlp\.(gate_proj|up_proj|down_proj)\.weight$/.exec(s.name)?.[1];
      if (!proj) continue;
      const want = proj === 'down_proj' ? [hidden, inter] : [inter, hidden];
      if (s.shape.join(',') !== want.join(',')) {
        b.issues.push({
          field: s.modelLabel,
          message: `merge: model '${s.modelLabel}' tensor '${s.name}' has shape [${s.shape}], expected [${want}]`,
          severity: 'error',
        });
      }
    }
    if (
      t.recipe.kind === 'concat' &&
      new Set(t.recipe.sources.map((s) => s.dtype)).size > 1 &&
      b.input.outDtype === null
    ) {
      b.issues.push({
        field: 'dtype',
        message: `merge: experts of '${t.name}' have different dtypes; set dtype in the config to fuse them`,
        severity: 'error',
      });
    }
  }
}

export function buildTensorList(input: TensorListInput): {
  tensors: PlannedTensor[];
  issues: ConfigIssue[];
  totalBytes: number;
} {
  const b = new TensorListBuilder(input);
  const { arch, layout, layers, experts } = input;
  const E = experts.length;
  for (const w of PRE_LAYER_WEIGHTS) b.baseWeight(w);
  for (let layer = 0; layer < layers; layer++) {
    for (const w of attentionWeightsFor(arch)) b.baseWeight(w, layer);
    if (layout === 'classic') classicMlp(b, layer);
  }
  for (const w of POST_LAYER_WEIGHTS) b.baseWeight(w);
  if (layout === 'fused') for (let layer = 0; layer < layers; layer++) fusedMlp(b, layer);
  for (let layer = 0; layer < layers; layer++) {
    b.router(routerName(arch, layout, layer), layer, 0, E);
    if (arch === 'Qwen MoE') b.router(`model.layers.${layer}.mlp.shared_expert_gate.weight`, layer, E, 1);
  }
  checkSources(b);
  const totalBytes = b.tensors.reduce((sum, t) => sum + tensorByteLength(t.dtype, t.shape), 0);
  return { tensors: b.tensors, issues: b.issues, totalBytes };
}
