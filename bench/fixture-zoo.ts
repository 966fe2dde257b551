/**
 * The zoo MoE bench fixture: the zoo (public/zoo) merged by the merge command with
 * public/zoo/moe-hidden.yml (4 experts, top-2, hidden gates) into the temp dir, loaded by
 * loadHfModel and exported by exportGguf. The prompt is the first
 * `count` tokens of public/zoo/heldout/stories.txt; wllama gets their decoded text (its own
 * tokenization; the count it saw is in its timings note).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runMergeCommand } from '../src/cli/commands/merge.ts';
import { nodeDirFileSet, nodeFileSink } from '../src/cli/node-io.ts';
import { loadHfModel } from '../src/core/model/load.ts';
import { exportGguf } from '../src/core/model/gguf-model.ts';
import { BENCH_DIR } from './fixture-gguf.ts';
import type { BenchQuant } from './fixture-model.ts';

const publicDir = fileURLToPath(new URL('../public/', import.meta.url));
/** Cached per zoo version (index.json lists every model file's sha256) and merge config: a retrained zoo is re-merged. */
const zooVersion = createHash('sha256')
  .update(readFileSync(join(publicDir, 'zoo', 'index.json')))
  .update(readFileSync(join(publicDir, 'zoo', 'moe-hidden.yml')))
  .digest('hex')
  .slice(0, 12);
const mergedDir = join(BENCH_DIR, `zoo-moe-hidden-${zooVersion}`);

export interface ZooFixture {
  files: Map<BenchQuant, string>;
  promptIds: number[];
  promptText: string;
  description: string;
}

async function ensureMerged(log: (line: string) => void): Promise<void> {
  if (existsSync(join(mergedDir, 'config.json'))) return;
  mkdirSync(BENCH_DIR, { recursive: true });
  log(`fixture: merging public/zoo/moe-hidden.yml into ${mergedDir}`);
  const code = await runMergeCommand([
    join(publicDir, 'zoo', 'moe-hidden.yml'),
    mergedDir,
    '--models-dir',
    publicDir,
    '--force',
  ]);
  if (code !== 0) throw new Error(`zoo merge exited ${code}`);
}

export async function ensureZooFixture(
  quants: BenchQuant[],
  promptTokens: number,
  log: (line: string) => void,
): Promise<ZooFixture> {
  await ensureMerged(log);
  const model = await loadHfModel(nodeDirFileSet(mergedDir));
  if (!model.tokenizer) throw new Error(`zoo MoE at ${mergedDir} has no tokenizer`);
  const tokenizerJson = JSON.parse(readFileSync(join(mergedDir, 'tokenizer.json'), 'utf8'));
  const configPath = join(mergedDir, 'tokenizer_config.json');
  const tokenizerConfig = existsSync(configPath) ? JSON.parse(readFileSync(configPath, 'utf8')) : {};
  const files = new Map<BenchQuant, string>();
  for (const quant of quants) {
    const path = join(BENCH_DIR, `zoo-moe-hidden-${zooVersion}-${quant}.gguf`);
    if (!existsSync(path)) {
      log(`fixture: exporting ${path}`);
      const sink = await nodeFileSink(`${path}.partial`);
      await exportGguf(sink, model.weights, { tokenizerJson, tokenizerConfig }, quant);
      renameSync(`${path}.partial`, path);
    }
    files.set(quant, path);
  }
  const text = readFileSync(join(publicDir, 'zoo', 'heldout', 'stories.txt'), 'utf8');
  const promptIds = model.tokenizer.encode(text, { addSpecialTokens: false }).slice(0, promptTokens);
  const s = model.spec;
  const description = `zoo MoE (moe-hidden.yml: ${s.moe?.experts}×${s.moe?.expertsPerToken} experts, hidden ${s.hidden}, ${s.layers} layers, vocab ${s.vocab})`;
  return { files, promptIds, promptText: model.tokenizer.decode(promptIds), description };
}
