/**
 * config → validated plan (STYLE habit 9). planMerge does everything that can fail without
 * reading tensor data: validation (§3), output architecture (§5), compatibility checks
 * (extension), dtype, and the full ordered list of output tensors with each one's recipe
 * and a check that every source tensor exists with the right shape.
 */
import {
  modelReferenceKey,
  type ConfigIssue,
  type ExpertConfig,
  type MoeMergeConfig,
  type OutputDType,
} from '../formats/mergekit-yaml.ts';
import type { DType } from '../tensor.ts';
import { selectOutputArchitecture, type OutputArchName } from './architecture.ts';
import { compatibilityIssues, outputConfigJson, type HfConfig } from './config-json.ts';
import type { GateOwner } from './gates.ts';
import type { MergeInputs, OpenedModel } from './sources.ts';
import { validateMergeConfig, sharedExpertsHavePrompts } from './validate.ts';
import { powerOfTwoWarning } from './warnings.ts';
import { buildTensorList, type PlannedTensor } from './plan-tensors.ts';

export type MergeLayout = 'classic' | 'fused';
/** Which mergekit behaviour to match where v0.1.4 and main differ (Mixtral residual_scale). */
export type MergekitVersion = 'v0.1.4' | 'main';

export interface PlanOptions {
  /** Mixtral/Qwen3 expert tensors: per-expert (v0.1.4, default) or fused (transformers v5, main). */
  layout?: MergeLayout;
  /** `--i-understand-this-is-not-useful-without-training`. */
  allowAllSameModels?: boolean;
  /** Seed of random gates and noise (--random-seed); default 0. */
  seed?: number;
  /** Default: 'v0.1.4' for the classic layout (residual_scale ignored on Mixtral), 'main' for fused. */
  residualScaleBehaviour?: MergekitVersion;
}

export interface MergePlan {
  config: MoeMergeConfig;
  arch: OutputArchName;
  layout: MergeLayout;
  layers: number;
  hidden: number;
  /** Routed experts E. */
  experts: number;
  /** Gate rows in order: experts, then the shared expert when it takes part (§1 `need`). */
  gateOwners: GateOwner[];
  /** Output dtype for every tensor; null = keep each source's dtype (routers: bf16 hidden, f32 otherwise). */
  outDtype: DType | null;
  /** Keys of the models in first-use order; [0] is the base. */
  modelKeys: string[];
  tensors: PlannedTensor[];
  outputConfig: HfConfig;
  warnings: string[];
  seed: number;
  residualScaleBehaviour: MergekitVersion;
  /** Σ output tensor bytes. */
  totalBytes: number;
}

export type PlanResult = { ok: true; plan: MergePlan } | { ok: false; issues: ConfigIssue[] };

const TORCH_TO_DTYPE = { bfloat16: 'bf16', float16: 'f16', float32: 'f32', int64: 'i64' } as const satisfies Record<
  OutputDType,
  DType
>;

function issue(field: string, message: string): ConfigIssue {
  return { field, message, severity: 'error' };
}

/** Output dtype: the YAML's dtype, else the base's torch_dtype (or `dtype`, transformers v5), else null. */
function selectDtype(
  config: MoeMergeConfig,
  base: HfConfig,
): { dtype: DType | null; torchName: string | null } | ConfigIssue {
  const baseName =
    typeof base.torch_dtype === 'string' ? base.torch_dtype : typeof base.dtype === 'string' ? base.dtype : null;
  const name = config.dtype ?? baseName?.replace(/^torch\./, '') ?? null;
  if (name === null) return { dtype: null, torchName: null };
  if (name === 'int64')
    return issue(
      'dtype',
      'merge: dtype int64 is accepted by mergekit but truncates every weight to an integer; refused',
    );
  // hasOwn, not `in`: the name comes from the base's config.json, and "constructor" or
  // "__proto__" are `in` every object (they reached the writer as an undefined dtype)
  if (!Object.hasOwn(TORCH_TO_DTYPE, name))
    return issue(
      'dtype',
      `merge: the base model's torch_dtype ${JSON.stringify(name)} is not one of bfloat16, float16, float32`,
    );
  return { dtype: TORCH_TO_DTYPE[name as OutputDType], torchName: name };
}

function modelOf(inputs: MergeInputs, e: ExpertConfig | { sourceModel: MoeMergeConfig['baseModel'] }): OpenedModel {
  const m = inputs.models.get(modelReferenceKey(e.sourceModel));
  if (!m) throw new Error(`merge: model '${e.sourceModel.path}' was not opened`);
  return m;
}

function configNumber(cfg: HfConfig, key: string, label: string): number | ConfigIssue {
  const v = cfg[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
    return issue(key, `merge: model '${label}' config.json ${key} = ${JSON.stringify(v)} is not a positive integer`);
  return v;
}

/** Builds the plan or returns every issue found (validation stops at its first failure, like upstream). */
export function planMerge(config: MoeMergeConfig, inputs: MergeInputs, options: PlanOptions = {}): PlanResult {
  const validation = validateMergeConfig(config, { allowAllSameModels: options.allowAllSameModels });
  if (validation.length > 0) return { ok: false, issues: validation };
  const base = modelOf(inputs, { sourceModel: config.baseModel });
  const experts = config.experts.map((e) => modelOf(inputs, e));
  const shared = (config.sharedExperts ?? []).map((e) => modelOf(inputs, e));
  const modelType = (m: OpenedModel) => String(m.config.model_type ?? '');
  const selection = selectOutputArchitecture(config, {
    base: modelType(base),
    experts: experts.map(modelType),
    shared: shared.map(modelType),
  });
  if (!selection.ok) return { ok: false, issues: selection.issues };
  const arch = selection.arch;
  const others = [
    ...experts.map((m, i) => ({ role: `experts.${i}`, label: m.label, config: m.config })),
    ...shared.map((m, i) => ({ role: `shared_experts.${i}`, label: m.label, config: m.config })),
  ];
  const compat = compatibilityIssues(base, others);
  if (compat.length > 0) return { ok: false, issues: compat };
  const dtype = selectDtype(config, base.config);
  if ('message' in dtype) return { ok: false, issues: [dtype] };
  const layers = configNumber(base.config, 'num_hidden_layers', base.label);
  const hidden = configNumber(base.config, 'hidden_size', base.label);
  if (typeof layers !== 'number') return { ok: false, issues: [layers] };
  if (typeof hidden !== 'number') return { ok: false, issues: [hidden] };

  const layout: MergeLayout =
    options.layout === 'fused' && (arch === 'Mixtral' || arch === 'Qwen3 MoE') ? 'fused' : 'classic';
  const warnings = [...config.ignoredKeys, ...selection.warnings];
  if (options.layout === 'fused' && layout !== 'fused')
    warnings.push(
      `merge: the fused layout exists only for Mixtral and Qwen3 MoE outputs; writing ${arch} with per-expert tensors`,
    );
  if (arch !== 'DeepSeek MoE') {
    const w = powerOfTwoWarning(config.experts.length);
    if (w) warnings.push(w);
  }

  // Gate rows (§1): the shared expert takes part when it has prompts or the mode is random/uniform_random.
  const sharedInGates =
    shared.length > 0 &&
    (sharedExpertsHavePrompts(config) || config.gateMode === 'random' || config.gateMode === 'uniform_random');
  const gateOwners: GateOwner[] = [...config.experts, ...(sharedInGates ? config.sharedExperts! : [])];
  const residualScaleBehaviour = options.residualScaleBehaviour ?? (layout === 'fused' ? 'main' : 'v0.1.4');
  // Never silently dropped: mergekit v0.1.4's Mixtral writer ignores residual_scale (matched here).
  if (arch === 'Mixtral' && residualScaleBehaviour === 'v0.1.4')
    config.experts.forEach((e, i) => {
      if (e.residualScale !== null)
        warnings.push(
          `merge: experts[${i}].residual_scale ${e.residualScale} is not applied: mergekit v0.1.4's Mixtral writer ignores it, and this merge matches v0.1.4; the fused layout or --mergekit-version main applies it`,
        );
    });
  if (config.gateMode === 'random' || config.gateMode === 'uniform_random')
    warnings.push(
      `merge: gate_mode ${config.gateMode} gives routers of random numbers, unrelated to the prompts: tokens reach experts by chance until the router is calibrated (Compose's "Calibrate router", --calibrate) or trained`,
    );
  const routerDtype: DType = dtype.dtype ?? (config.gateMode.startsWith('hidden') ? 'bf16' : 'f32');
  const built = buildTensorList({
    arch,
    layout,
    layers,
    hidden,
    config,
    base,
    experts,
    shared,
    outDtype: dtype.dtype,
    routerDtype,
    applyMixtralResidual: residualScaleBehaviour === 'main',
  });
  if (built.issues.length > 0) return { ok: false, issues: built.issues };
  const plan: MergePlan = {
    config,
    arch,
    layout,
    layers,
    hidden,
    experts: config.experts.length,
    gateOwners,
    outDtype: dtype.dtype,
    modelKeys: [...new Set([base, ...experts, ...shared].map((m) => m.key))],
    tensors: built.tensors,
    outputConfig: outputConfigJson(arch, base.config, config, dtype.torchName),
    warnings,
    seed: options.seed ?? 0,
    residualScaleBehaviour,
    totalBytes: built.totalBytes,
  };
  return { ok: true, plan };
}
