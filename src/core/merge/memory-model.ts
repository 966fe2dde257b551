/**
 * Chat without exporting: a merge written by memoryWriter becomes ModelWeights (
 * loadHfWeights over the in-memory tensors, so the engine sees exactly what an exported
 * folder would give) plus the merged tokenizer files.
 */
import { ConfigError } from '../errors.ts';
import { parseHfConfig } from '../model/hf-config.ts';
import { loadHfWeights, type HfTensorSource } from '../model/load-hf.ts';
import type { ModelWeights } from '../model/weights.ts';
import { memoryFileSet, type FileSet } from '../io/byte-source.ts';
import type { RawTensor } from '../tensor.ts';
import type { MergePlan } from './plan.ts';
import { loadHfTokenizer } from '../tokenizer/hf.ts';
import type { MergeRuntime } from './run.ts';
import type { Tokenizer } from '../tokenizer/types.ts';
import type { MemoryMergeOutput } from './writer.ts';
import { exportOnlyReason } from './architecture.ts';

export function memoryTensorSource(tensors: Map<string, RawTensor>): HfTensorSource {
  return {
    names: () => [...tensors.keys()],
    info: (name) => {
      const t = tensors.get(name);
      return t && { dtype: t.dtype, shape: t.shape, byteLength: t.data.byteLength };
    },
    readTensor: async (name) => {
      const t = tensors.get(name);
      if (!t) throw new ConfigError(`merge: the merged model has no tensor '${name}'`);
      return t;
    },
  };
}

export interface MergedModel {
  weights: ModelWeights;
  /** The base tokenizer as the merge saved it (absent with copyTokenizer off or no tokenizer.json). */
  tokenizer?: Tokenizer;
  /** config.json, tokenizer files and mergekit_moe_config.yml, as a folder (for loadHfTokenizer / export). */
  files: FileSet;
}

/**
 * The merged model for the engine. DeepSeek MoE output (remote-code model) is refused: the engine cannot run it.
 * `loadTokenizer` reads the merged tokenizer files (a MergeRuntime's, so its guard applies).
 */
export async function mergedModelWeights(
  plan: MergePlan,
  output: MemoryMergeOutput,
  loadTokenizer: MergeRuntime['loadTokenizer'] = loadHfTokenizer,
): Promise<MergedModel> {
  const exportOnly = exportOnlyReason(plan.arch);
  if (exportOnly) throw new ConfigError(`merge: ${exportOnly}`);
  const spec = parseHfConfig(plan.outputConfig, 'merged config.json');
  const { weights } = await loadHfWeights(spec, memoryTensorSource(output.tensors));
  const files = memoryFileSet(Object.fromEntries(output.files), 'merged');
  const merged: MergedModel = { weights, files };
  if (output.files.has('tokenizer.json')) merged.tokenizer = await loadTokenizer(files);
  return merged;
}
