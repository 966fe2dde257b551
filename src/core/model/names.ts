/**
 * Tensor-name tables: where each ModelWeights role lives in an HF checkpoint (STYLE habit 7).
 * One table per architecture (names-llama.ts, names-mixtral.ts, names-qwen2-moe.ts), with
 * `{layer}` / `{expert}` placeholders, in the spirit of gguf-py's TensorNameMap and mergekit's
 * `_data/architectures/*.json`. This file holds the shared types and the helpers that pick a
 * table for a ModelSpec and expand placeholders.
 */
import { ConfigError } from '../errors.ts';
import type { ArchNameTable, MixtralLayout, NamePattern } from './names-types.ts';
import type { ModelSpec } from './spec.ts';
import { LLAMA_NAMES, QWEN2_NAMES, QWEN3_NAMES } from './names-llama.ts';
import { MIXTRAL_CLASSIC_NAMES, MIXTRAL_FUSED_NAMES } from './names-mixtral.ts';
import { QWEN2_MOE_NAMES, QWEN3_MOE_FUSED_NAMES, QWEN3_MOE_NAMES } from './names-qwen2-moe.ts';

export type {
  ArchNameTable,
  AttentionNames,
  FfnNames,
  GlobalNames,
  MixtralLayout,
  MlpNames,
  NamePattern,
} from './names-types.ts';

/** Expands `{layer}` and `{expert}` in a name pattern. */
export function tensorName(pattern: NamePattern, layer?: number, expert?: number): string {
  let name = pattern;
  if (name.includes('{layer}')) {
    if (layer === undefined) throw new ConfigError(`names: pattern '${pattern}' needs a layer`);
    name = name.replaceAll('{layer}', String(layer));
  }
  if (name.includes('{expert}')) {
    if (expert === undefined) throw new ConfigError(`names: pattern '${pattern}' needs an expert`);
    name = name.replaceAll('{expert}', String(expert));
  }
  return name;
}

/**
 * Detects the expert layout of a Mixtral or Qwen3-MoE checkpoint from its tensor names: the fused
 * (transformers v5) layout has `…mlp.experts.gate_up_proj` (no `.weight` suffix); anything else
 * is classic (per-expert tensors).
 */
export function detectMixtralLayout(tensorNames: Iterable<string>): MixtralLayout {
  for (const name of tensorNames) {
    if (name.endsWith('.mlp.experts.gate_up_proj')) return 'fused';
  }
  return 'classic';
}

/**
 * The name table for a spec. `layout` picks Mixtral's and Qwen3-MoE's expert layout (default
 * classic, as mergekit v0.1.4 and llama.cpp's converters expect); pass detectMixtralLayout(names)
 * when loading.
 */
export function nameTableFor(spec: ModelSpec, layout: MixtralLayout = 'classic'): ArchNameTable {
  switch (spec.arch) {
    case 'llama':
    case 'mistral':
      return LLAMA_NAMES;
    case 'qwen2':
      return QWEN2_NAMES;
    case 'qwen3':
      return QWEN3_NAMES;
    case 'mixtral':
      return layout === 'fused' ? MIXTRAL_FUSED_NAMES : MIXTRAL_CLASSIC_NAMES;
    case 'qwen2_moe':
      return QWEN2_MOE_NAMES;
    case 'qwen3_moe':
      return layout === 'fused' ? QWEN3_MOE_FUSED_NAMES : QWEN3_MOE_NAMES;
    default: {
      const unknown: never = spec.arch;
      throw new ConfigError(`names: no tensor-name table for architecture '${String(unknown)}'`);
    }
  }
}
