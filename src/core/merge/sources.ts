/**
 * The input models of a merge, opened lazily: config.json plus the safetensors headers.
 * Tensor data is read later, one tensor at a time, by the executor (run.ts).
 */
import { ConfigError } from '../errors.ts';
import { openSafetensorsFolder, type TensorDirectory } from '../formats/safetensors-folder.ts';
import {
  formatModelReference,
  modelReferenceKey,
  type ModelReference,
  type MoeMergeConfig,
} from '../formats/mergekit-yaml.ts';
import { readText, type FileSet } from '../io/byte-source.ts';
import type { HfConfig } from './config-json.ts';

export interface OpenedModel {
  /** modelReferenceKey(ref): equal references share one OpenedModel. */
  key: string;
  /** For messages: `org/name@rev`. */
  label: string;
  ref: ModelReference;
  files: FileSet;
  config: HfConfig;
  tensors: TensorDirectory;
}

/** Where model references point: a models dir, a hub, an in-memory map, IndexedDB. */
export type ModelResolver = (ref: ModelReference) => Promise<FileSet>;

export interface MergeInputs {
  /** Keyed by modelReferenceKey. */
  models: Map<string, OpenedModel>;
}

async function readConfigJson(files: FileSet, label: string): Promise<HfConfig> {
  let text: string;
  try {
    text = await readText(await files.open('config.json'));
  } catch (e) {
    throw new ConfigError(`merge: model '${label}' has no readable config.json (${(e as Error).message})`);
  }
  try {
    const json = JSON.parse(text) as unknown;
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('not an object');
    return json as HfConfig;
  } catch (e) {
    throw new ConfigError(`merge: model '${label}' config.json is not a JSON object (${(e as Error).message})`);
  }
}

export async function openModel(ref: ModelReference, resolve: ModelResolver): Promise<OpenedModel> {
  const label = formatModelReference(ref);
  if (ref.lora)
    throw new ConfigError(
      `merge: model '${label}': LoRA references are parsed but never merged by mergekit-moe; merge the LoRA first`,
    );
  const files = await resolve(ref);
  const config = await readConfigJson(files, label);
  const tensors = await openSafetensorsFolder(files);
  return { key: modelReferenceKey(ref), label, ref, files, config, tensors };
}

/** Every model the config names (base, experts, shared experts), each opened once. */
export function referencedModels(config: MoeMergeConfig): ModelReference[] {
  const refs = [
    config.baseModel,
    ...config.experts.map((e) => e.sourceModel),
    ...(config.sharedExperts ?? []).map((e) => e.sourceModel),
  ];
  const seen = new Set<string>();
  return refs.filter((r) => {
    const k = modelReferenceKey(r);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export async function openMergeInputs(config: MoeMergeConfig, resolve: ModelResolver): Promise<MergeInputs> {
  const models = new Map<string, OpenedModel>();
  for (const ref of referencedModels(config)) models.set(modelReferenceKey(ref), await openModel(ref, resolve));
  return { models };
}
