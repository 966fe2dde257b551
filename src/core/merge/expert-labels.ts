/**
 * The names of a merged model's experts: each expert's donor (`source_model`) as the
 * mergekit_moe_config.yml that runMerge writes beside the weights records it, in expert
 * order. Used wherever routing is shown (CLI `route`, the studio's pages), so expert 2 reads
 * "zoo/math", not "2". undefined when the folder carries no merge config (a GGUF, a model
 * from the hub): callers then fall back to numbers.
 */
import { parseMergeYaml } from '../formats/mergekit-yaml.ts';
import { type FileSet, readText } from '../io/byte-source.ts';

export const MERGE_CONFIG_FILE = 'mergekit_moe_config.yml';

export async function readExpertLabels(files: FileSet, experts: number): Promise<string[] | undefined> {
  if (!(await files.list()).includes(MERGE_CONFIG_FILE)) return undefined;
  const parsed = parseMergeYaml(await readText(await files.open(MERGE_CONFIG_FILE)));
  if (!parsed.ok) return undefined; // the weights load without it; the names are a nicety
  const labels = parsed.config.experts.map((e) => e.sourceModel.path); // routed experts, in router row order
  return labels.length === experts ? labels : undefined;
}
