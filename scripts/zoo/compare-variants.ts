/**
 * Maintainer tool (zoo recipe): which expert recipe merges better, MLP-only (shipped) or
 * MLP + norms (recipe.sh variant-norms, then export_variant.py)? Merges each set over the
 * shipped base with public/zoo/moe-hidden.yml and scores the MoE on every domain's held-out
 * text (perplexity, own-expert top-1 share); writes scripts/zoo/build/variant-norms/compare.json,
 * which export.py puts into the zoo README.
 *
 *   npx tsx scripts/zoo/compare-variants.ts
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nodeDirFileSet } from '../../src/cli/node-io.ts';
import { buildMergeInMemory } from '../../src/core/merge/build.ts';
import { loadHfModel } from '../../src/core/model/load.ts';
import { averageShares, evaluate, windows } from '../merge-report-eval.ts';

const ROOT = join(import.meta.dirname, '../..');
const VARIANT_DIR = join(ROOT, 'scripts/zoo/build/variant-norms');
const DOMAINS = ['stories', 'code', 'math', 'chat'] as const;
const TOKENS = 510;
const WINDOW = 256;
const SETS = { mlp: join(ROOT, 'public'), 'mlp+norms': VARIANT_DIR } as const;

async function main(): Promise<void> {
  const base = await loadHfModel(nodeDirFileSet(join(ROOT, 'public/zoo/base')));
  const yaml = await readFile(join(ROOT, 'public/zoo/moe-hidden.yml'), 'utf8');
  const chunks = Object.fromEntries(
    await Promise.all(
      DOMAINS.map(async (d) => {
        const text = await readFile(join(ROOT, 'public/zoo/heldout', `${d}.txt`), 'utf8');
        return [
          d,
          windows(base.tokenizer!.encode(text, { addSpecialTokens: false }).slice(0, TOKENS), WINDOW),
        ] as const;
      }),
    ),
  );
  const moe: Record<string, Record<string, { perplexity: number; ownShare: number }>> = {};
  for (const [name, modelsDir] of Object.entries(SETS)) {
    const built = await buildMergeInMemory(yaml, async (ref) => nodeDirFileSet(join(modelsDir, ref.path)), { seed: 0 });
    moe[name] = {};
    for (const [i, d] of DOMAINS.entries()) {
      const result = await evaluate(built.model!.weights, chunks[d]!);
      moe[name]![d] = { perplexity: result.perplexity, ownShare: averageShares(result.top1!)[i]! };
    }
    process.stderr.write(`${name}: ${JSON.stringify(moe[name])}\n`);
  }
  const standalone = JSON.parse(await readFile(join(VARIANT_DIR, 'standalone.json'), 'utf8'));
  await writeFile(
    join(VARIANT_DIR, 'compare.json'),
    JSON.stringify({ tokensPerDomain: TOKENS, config: 'moe-hidden.yml', standalone, moe }, null, 1),
  );
  process.stderr.write(`wrote ${join(VARIANT_DIR, 'compare.json')}\n`);
}

void main();
