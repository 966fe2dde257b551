/**
 * Model folders on disk for the encode-deadline tests of the CLI and the library's Node engine
 * (hanging.testing.ts's tokenizer and template): dense donors for merges, and one MoE for route.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileSet } from '../core/io/byte-source.ts';
import { randomHfFolder, TESTING_VOCAB } from '../core/merge/models.testing.ts';
import { exportHfFolder } from '../core/model/export-hf.ts';
import { randomModelWeights, tinyMoeSpec } from '../core/model/random.ts';
import { RUNAWAY_TEMPLATE, withHangingPreTokenizer } from '../core/tokenizer/hanging.testing.ts';
import { nodeDirFileSet, nodeDirSinkOpener } from './node-io.ts';

export async function writeFileSet(files: FileSet, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const f of await files.list()) {
    const src = await files.open(f);
    await writeFile(join(to, f), await src.read(0, src.size));
  }
}

async function editJson(path: string, edit: (json: Record<string, unknown>) => Record<string, unknown>) {
  await writeFile(path, JSON.stringify(edit(JSON.parse(await readFile(path, 'utf8')))));
}

export interface DeadlineModels {
  /** Dense, the testing tokenizer as it is. */
  fine: string;
  /** Dense, the tokenizer's pre-tokenizer hangs on HANGING_TEXT. */
  hangs: string;
  /** Dense, its chat template is RUNAWAY_TEMPLATE. */
  runaway: string;
  /** An MoE (4 experts) with the hanging tokenizer, for route. */
  moeHangs: string;
}

/** Writes the folders under `root` (org/fine, org/hangs, org/runaway, org/moe-hangs: a --models-dir). */
export async function writeDeadlineModels(root: string): Promise<DeadlineModels> {
  const models: DeadlineModels = {
    fine: join(root, 'org', 'fine'),
    hangs: join(root, 'org', 'hangs'),
    runaway: join(root, 'org', 'runaway'),
    moeHangs: join(root, 'org', 'moe-hangs'),
  };
  for (const [i, name] of (['fine', 'hangs', 'runaway'] as const).entries())
    await writeFileSet((await randomHfFolder(name, 31 + i)).files, models[name]);
  await editJson(join(models.hangs, 'tokenizer.json'), withHangingPreTokenizer);
  await editJson(join(models.runaway, 'tokenizer_config.json'), (c) => ({ ...c, chat_template: RUNAWAY_TEMPLATE }));
  const spec = tinyMoeSpec({ vocab: TESTING_VOCAB, bosTokenId: undefined, eosTokenIds: [TESTING_VOCAB - 1] });
  await exportHfFolder(randomModelWeights(spec, 35), nodeDirSinkOpener(models.moeHangs), {
    sidecarFiles: nodeDirFileSet(models.hangs),
  });
  return models;
}
