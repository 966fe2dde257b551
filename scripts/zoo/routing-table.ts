/**
 * Maintainer tool: merges the zoo with each public/zoo/moe-*.yml (our merge CLI), runs the
 * held-out text of every domain through the CPU reference with a routing trace, and writes
 * public/zoo/ROUTING-top2.md: how often each domain's tokens go to that domain's expert.
 *
 *   npx tsx scripts/zoo/routing-table.ts [gate modes…]      (default: hidden cheap_embed random)
 *
 * Chance level with 4 experts: 25% for the top-1 expert, 50% for "in the top 2".
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMergeCommand } from '../../src/cli/commands/merge.ts';
import { nodeDirFileSet } from '../../src/cli/node-io.ts';
import { loadHfModel } from '../../src/core/model/load.ts';
import { cpuBackend } from '../../src/core/runtime/cpu/backend.ts';

const ROOT = join(import.meta.dirname, '../..');
const ZOO_DIR = join(ROOT, 'public/zoo');
/** Expert order of every zoo merge config (moe-*.yml). */
const DOMAINS = ['stories', 'code', 'math', 'chat'] as const;
const TOKENS_PER_DOMAIN = 384; // held-out tokens routed per domain

interface DomainRouting {
  top1: number[];
  top2: number[];
} // [layers] fractions

async function routeDomain(modelDir: string, domain: string, expert: number): Promise<DomainRouting> {
  const { weights, tokenizer } = await loadHfModel(nodeDirFileSet(modelDir));
  const text = await readFile(join(ZOO_DIR, 'heldout', `${domain}.txt`), 'utf8');
  const ids = tokenizer!.encode(text, { addSpecialTokens: false }).slice(0, TOKENS_PER_DOMAIN);
  const session = await cpuBackend.createSession(weights, { maxContext: ids.length });
  const { routing } = await session.forward(ids, { trace: true });
  session.dispose();
  const layers = routing![0].layers.length;
  const top1 = new Array<number>(layers).fill(0);
  const top2 = new Array<number>(layers).fill(0);
  for (const token of routing!) {
    token.layers.forEach((layer, l) => {
      if (layer.expertIds[0] === expert) top1[l]++;
      if (layer.expertIds.includes(expert)) top2[l]++;
    });
  }
  return { top1: top1.map((n) => n / ids.length), top2: top2.map((n) => n / ids.length) };
}

const pct = (x: number) => `${(100 * x).toFixed(0)}%`;

async function tableFor(mode: string): Promise<string> {
  const out = await mkdtemp(join(tmpdir(), `zoo-moe-${mode}-`));
  try {
    const code = await runMergeCommand([
      join(ZOO_DIR, `moe-${mode}.yml`),
      out,
      '--models-dir',
      join(ROOT, 'public'),
      '--force',
    ]);
    if (code !== 0) throw new Error(`merge of moe-${mode}.yml exited with ${code}`);
    const rows: string[] = [];
    for (const [expert, domain] of DOMAINS.entries()) {
      const r = await routeDomain(out, domain, expert);
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      rows.push(`| ${domain} | ${r.top1.map(pct).join(' / ')} | ${pct(mean(r.top1))} | ${pct(mean(r.top2))} |`);
    }
    return `### gate_mode ${mode}\n\n| held-out domain | top-1 = own expert, per layer | mean top-1 | mean in top-2 |\n|---|---|---:|---:|\n${rows.join('\n')}\n`;
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const modes = process.argv.slice(2).length ? process.argv.slice(2) : ['hidden', 'cheap_embed', 'random'];
  const sections: string[] = [];
  for (const mode of modes) sections.push(await tableFor(mode));
  const doc = `# Routing of the zoo MoEs on held-out text\n\nWritten by \`npx tsx scripts/zoo/routing-table.ts\`: each public/zoo/moe-*.yml merged with our merge CLI, then the first ${TOKENS_PER_DOMAIN} tokens of heldout/<domain>.txt run through the CPU reference with a routing trace. Experts in order: ${DOMAINS.join(', ')}. Chance: 25% top-1, 50% in the top 2.\n\n${sections.join('\n')}`;
  await writeFile(join(ZOO_DIR, 'ROUTING-top2.md'), doc);
  process.stdout.write(doc);
}

await main();
