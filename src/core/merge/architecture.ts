/**
 * Output-architecture selection (specs/mergekit-moe.md §5, `scripts/moe.py select_output_arch`
 * and each writer's `supports_config`). Refusals are data: every candidate that does not
 * fit says why, in upstream's words.
 */
import type { ConfigIssue, MoeMergeConfig } from '../formats/mergekit-yaml.ts';

export type OutputArchName = 'Mixtral' | 'DeepSeek MoE' | 'Qwen MoE' | 'Qwen3 MoE';
/** Upstream's list order (ALL_OUTPUT_ARCHITECTURES). */
export const OUTPUT_ARCHITECTURES: readonly OutputArchName[] = ['Mixtral', 'DeepSeek MoE', 'Qwen MoE', 'Qwen3 MoE'];

/** Outputs this studio's engine loads (their model_type is in core/model/hf-config.ts HF_ARCHS). */
const LOADABLE_OUTPUTS: ReadonlySet<OutputArchName> = new Set(['Mixtral', 'Qwen MoE', 'Qwen3 MoE']);

/**
 * Why an output cannot be opened here (undefined when it can): the merge writes it exactly as
 * mergekit does, but the engine has no forward pass for its model_type, so the library (which
 * keeps only models it can load) refuses it: Compose says so before building and offers Build for
 * export only (a zip on disk); the CLI writes it.
 */
export function exportOnlyReason(arch: OutputArchName): string | undefined {
  if (LOADABLE_OUTPUTS.has(arch)) return undefined;
  const modelType = arch === 'DeepSeek MoE' ? 'deepseek' : 'qwen3_moe';
  return `a ${arch} model (model_type ${modelType}) is what mergekit would write, but this studio cannot open it: its engine runs llama, mistral, qwen2, qwen3, mixtral, qwen2_moe and qwen3_moe. Build it for export only (Compose writes its HF folder as a zip; the CLI's moe-studio merge CONFIG OUT writes the folder), or choose experts that make a Mixtral, Qwen MoE or Qwen3 MoE`;
}

/** `model_type` of each input model, read from its config.json. */
export interface InputModelTypes {
  base: string;
  experts: string[]; // [experts]
  shared: string[]; // [sharedExperts]
}

export type ArchSelection =
  | { ok: true; arch: OutputArchName; warnings: string[]; refusals: Record<string, string> }
  | { ok: false; issues: ConfigIssue[]; refusals: Record<string, string> };

function allSame(types: string[]): boolean {
  return types.every((t) => t === types[0]);
}

function hasPrompts(e: { positivePrompts: string[] | null; negativePrompts: string[] | null }): boolean {
  return (e.positivePrompts?.length ?? 0) > 0 || (e.negativePrompts?.length ?? 0) > 0;
}

/** Why `arch` cannot take this config, or undefined when it can (upstream's explain messages). */
export function refusalReason(
  arch: OutputArchName,
  config: MoeMergeConfig,
  types: InputModelTypes,
): string | undefined {
  const shared = config.sharedExperts ?? [];
  const llamaLike = (t: string) => t === 'llama' || t === 'mistral';
  switch (arch) {
    case 'Mixtral': {
      if (shared.length > 0) return 'Mixtral does not support shared experts';
      const ts = [types.base, ...types.experts];
      if (!allSame(ts)) return 'Mixtral requires all input models to have the same architecture';
      if (!ts.every(llamaLike)) return 'Mixtral requires all input models to be Llama or Mistral models';
      return undefined;
    }
    case 'DeepSeek MoE': {
      if (shared.length > 1) return 'DeepSeek MoE merge does not support more than one shared expert';
      if (shared.length === 1 && hasPrompts(shared[0]))
        return 'DeepSeek MoE merge does not support gating shared experts';
      const ts = [types.base, ...types.experts, ...types.shared];
      if (!allSame(ts)) return 'Deepseek MoE requires all input models to have the same architecture';
      if (!ts.every(llamaLike)) return 'Deepseek MoE requires all input models to be Llama or Mistral models';
      return undefined;
    }
    case 'Qwen MoE': {
      if (shared.length !== 1) return 'Qwen MoE merge requires exactly one shared expert';
      if (config.gateMode !== 'random' && !shared[0].positivePrompts?.length)
        return 'Qwen MoE requires the shared expert to have prompts';
      const ts = [types.base, ...types.experts, ...types.shared];
      if (!allSame(ts)) return 'Qwen MoE requires all input models to have the same architecture';
      if (!ts.every((t) => llamaLike(t) || t === 'qwen2'))
        return 'Qwen MoE requires all input models to be Qwen2, Llama or Mistral models';
      return undefined;
    }
    case 'Qwen3 MoE': {
      if (shared.length > 0) return 'Qwen3 MoE merge does not support shared experts';
      if (![types.base, ...types.experts].every((t) => t === 'qwen3'))
        return 'Qwen3 MoE only supports Qwen3 input models';
      return undefined;
    }
  }
}

function listing(): string[] {
  return ['All supported output architectures:', ...OUTPUT_ARCHITECTURES.map((a) => `  * ${a}`)];
}

/** Mixtral wins whenever eligible; otherwise the first eligible architecture in list order. */
export function selectOutputArchitecture(config: MoeMergeConfig, types: InputModelTypes): ArchSelection {
  let candidates = [...OUTPUT_ARCHITECTURES];
  const refusals: Record<string, string> = {};
  if (config.architecture !== null) {
    const want = config.architecture.toLowerCase();
    candidates = candidates.filter((a) => a.toLowerCase().startsWith(want));
    if (candidates.length === 0) {
      const message = [
        `No output architecture found that matches the given architecture: ${config.architecture}`,
        ...listing(),
      ].join('\n');
      return { ok: false, issues: [{ field: 'architecture', message, severity: 'error' }], refusals };
    }
  }
  const eligible: OutputArchName[] = [];
  for (const arch of candidates) {
    const reason = refusalReason(arch, config, types);
    if (reason === undefined) eligible.push(arch);
    else refusals[arch] = reason;
  }
  if (eligible.length === 0) {
    const reasons = Object.entries(refusals).map(
      ([arch, why]) => `Output architecture ${arch} does not support config: ${why}`,
    );
    const message = [
      'No output architecture found that is compatible with the given models.',
      ...listing(),
      ...reasons,
    ].join('\n');
    return { ok: false, issues: [{ field: 'architecture', message, severity: 'error' }], refusals };
  }
  if (eligible.includes('Mixtral')) return { ok: true, arch: 'Mixtral', warnings: [], refusals };
  const warnings =
    eligible.length > 1
      ? [
          'Multiple output architectures found that are compatible with the given models.',
          `Defaulting to ${eligible[0]}`,
        ]
      : [];
  return { ok: true, arch: eligible[0], warnings, refusals };
}
