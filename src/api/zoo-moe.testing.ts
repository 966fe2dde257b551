/**
 * Test helper: the demo zoo's MoE (public/zoo/moe-hidden.yml: four zoo experts over the zoo
 * base, hidden gates) merged by the CLI's merge command into a fresh temporary folder;
 * `remove()` deletes it (call it in afterAll).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMergeCommand } from '../cli/commands/merge.ts';

export const REPO = join(import.meta.dirname, '../..');

export async function mergeZooMoe(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'moe-api-'));
  const dir = join(root, 'zoo-moe');
  const code = await runMergeCommand([
    join(REPO, 'public/zoo/moe-hidden.yml'),
    dir,
    '--models-dir',
    join(REPO, 'public'),
  ]);
  if (code !== 0) throw new Error(`merging the zoo MoE exited with ${code}`);
  return { dir, remove: () => rm(root, { recursive: true, force: true }) };
}
