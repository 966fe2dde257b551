/**
 * Merges the demo zoo's four experts over its base (public/zoo/moe-{hidden,cheap_embed,random}.yml)
 * and writes public/zoo/ROUTING.md: for each domain's held-out text, the share of tokens
 * whose top-1 expert is each expert (averaged over layers, and per layer), and perplexity of
 * each MoE beside the base's and each expert's.
 *
 *   npx tsx scripts/merge-report.ts [--tokens N]    (N held-out tokens per domain, default 512)
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nodeDirFileSet } from '../src/cli/node-io.ts';
import { buildMergeInMemory } from '../src/core/merge/build.ts';
import { loadHfModel } from '../src/core/model/load.ts';
import type { ModelWeights } from '../src/core/model/weights.ts';
import { averageShares, evaluate, windows, type EvalResult } from './merge-report-eval.ts';
import { DYNAMIC_ROUTING_MARKERS } from './dynamic-routing-markers.ts';
import { extractSection } from './report-sections.ts';

const ZOO = 'public/zoo';
const DOMAINS = ['stories', 'code', 'math', 'chat'] as const;
const MODES = ['hidden', 'cheap_embed', 'random'] as const;
const WINDOW = 256;
const tokensArg = process.argv.indexOf('--tokens');
const TOKENS = tokensArg > 0 ? Number(process.argv[tokensArg + 1]) : 512;

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const log = (m: string) => process.stderr.write(`${m}\n`);

async function main(): Promise<void> {
  const base = await loadHfModel(nodeDirFileSet(join(ZOO, 'base')));
  const tokenizer = base.tokenizer!;
  const chunks: Record<string, number[][]> = {};
  for (const d of DOMAINS) {
    const ids = tokenizer
      .encode(await readFile(join(ZOO, 'heldout', `${d}.txt`), 'utf8'), { addSpecialTokens: false })
      .slice(0, TOKENS);
    chunks[d] = windows(ids, WINDOW);
  }
  const ppl: Record<string, Record<string, EvalResult>> = {};
  const evalAll = async (name: string, weights: ModelWeights) => {
    ppl[name] = {};
    for (const d of DOMAINS) ppl[name]![d] = await evaluate(weights, chunks[d]!);
    log(`${name}: ${DOMAINS.map((d) => `${d} ${ppl[name]![d]!.perplexity.toFixed(2)}`).join(', ')}`);
  };
  await evalAll('base', base.weights);
  for (const d of DOMAINS) await evalAll(`expert ${d}`, (await loadHfModel(nodeDirFileSet(join(ZOO, d)))).weights);
  const warnings: Record<string, string[]> = {};
  for (const mode of MODES) {
    const yaml = await readFile(join(ZOO, `moe-${mode}.yml`), 'utf8');
    const built = await buildMergeInMemory(yaml, async (ref) => nodeDirFileSet(join('public', ref.path)), { seed: 0 });
    warnings[mode] = built.result.warnings;
    await evalAll(`MoE ${mode}`, built.model!.weights);
  }
  const index = JSON.parse(await readFile(join(ZOO, 'index.json'), 'utf8')) as {
    models: { id: string; files: { name: string; sha256: string }[] }[];
  };
  const provenance = index.models
    .map((m) => `${m.id} ${m.files.find((f) => f.name === 'model.safetensors')?.sha256.slice(0, 12) ?? '?'}`)
    .join(', ');
  await writeFile(join(ZOO, 'ROUTING.md'), report(ppl, warnings, provenance) + (await keptBlocks()));
  log(`wrote ${join(ZOO, 'ROUTING.md')}`);
}

/**
 * The blocks other scripts wrote into ROUTING.md, kept as they are: router calibration
 * (scripts/zoo/calibration-report.ts) and dynamic routing (scripts/dynamic-routing-report.ts).
 */
async function keptBlocks(): Promise<string> {
  const old = await readFile(join(ZOO, 'ROUTING.md'), 'utf8').catch(() => '');
  const sections = [{ begin: '<!-- calibration:begin', end: '<!-- calibration:end -->' }, DYNAMIC_ROUTING_MARKERS].map(
    (markers) => extractSection(old, markers),
  );
  return sections
    .filter(Boolean)
    .map((block) => `\n${block}\n`)
    .join('');
}

function routingTables(mode: string, ppl: Record<string, Record<string, EvalResult>>): string[] {
  const lines = [
    `### gate_mode: ${mode}`,
    '',
    `| held-out domain | ${DOMAINS.map((d) => `→ ${d}`).join(' | ')} | own expert wins |`,
    `|---|${DOMAINS.map(() => '---:').join('|')}|:---:|`,
  ];
  for (const d of DOMAINS) {
    const shares = averageShares(ppl[`MoE ${mode}`]![d]!.top1!);
    const own = DOMAINS.indexOf(d);
    const wins = shares.every((s, e) => e === own || s < shares[own]!);
    lines.push(
      `| ${d} | ${shares.map((s, e) => (e === own ? `**${pct(s)}**` : pct(s))).join(' | ')} | ${wins ? 'yes' : 'no'} |`,
    );
  }
  lines.push(
    '',
    "Per layer (own-domain expert's top-1 share):",
    '',
    `| held-out domain | ${ppl[`MoE ${mode}`]!.stories!.top1!.map((_, l) => `layer ${l}`).join(' | ')} |`,
    `|---|${ppl[`MoE ${mode}`]!.stories!.top1!.map(() => '---:').join('|')}|`,
  );
  for (const d of DOMAINS) {
    const own = DOMAINS.indexOf(d);
    lines.push(
      `| ${d} | ${ppl[`MoE ${mode}`]![d]!.top1!.map((layer) => pct(layer[own]! / layer.reduce((a, b) => a + b, 0))).join(' | ')} |`,
    );
  }
  return [...lines, ''];
}

function verdict(mode: string, ppl: Record<string, Record<string, EvalResult>>): string {
  const losing = DOMAINS.filter((d) => {
    const shares = averageShares(ppl[`MoE ${mode}`]![d]!.top1!);
    const own = DOMAINS.indexOf(d);
    return !shares.every((s, e) => e === own || s < shares[own]!);
  });
  return losing.length === 0
    ? `${mode}: the own-domain expert gets the most tokens on every domain.`
    : `${mode}: the own-domain expert does NOT get the most tokens on ${losing.join(', ')}.`;
}

function report(
  ppl: Record<string, Record<string, EvalResult>>,
  warnings: Record<string, string[]>,
  provenance: string,
): string {
  const tokens = DOMAINS.map((d) => `${d} ${ppl.base![d]!.tokens}`).join(', ');
  const lines = [
    '# Routing of the zoo MoE (generated)',
    '',
    'Generated by `npx tsx scripts/merge-report.ts`. It merges the four zoo experts over',
    'the zoo base with `public/zoo/moe-{hidden,cheap_embed,random}.yml` (top-2 of 4, float16) and runs',
    `each model on the CPU reference backend over the held-out text in public/zoo/heldout/ (first tokens only: ${tokens};`,
    `windows of ${WINDOW} tokens from an empty cache). Random gates use --random-seed 0. Chance is 25% per expert.`,
    `Zoo weights (model.safetensors sha256 prefixes): ${provenance}.`,
    '',
    '## Verdict',
    '',
    ...MODES.map((m) => `- ${verdict(m, ppl)}`),
    '',
    '## Top-1 expert share per held-out domain (averaged over layers)',
    '',
  ];
  for (const mode of MODES) lines.push(...routingTables(mode, ppl));
  lines.push(
    '## Perplexity per domain (lower is better)',
    '',
    `| model | ${DOMAINS.join(' | ')} |`,
    `|---|${DOMAINS.map(() => '---:').join('|')}|`,
  );
  for (const [name, byDomain] of Object.entries(ppl))
    lines.push(`| ${name} | ${DOMAINS.map((d) => byDomain[d]!.perplexity.toFixed(2)).join(' | ')} |`);
  lines.push('', '## Merge warnings', '');
  for (const mode of MODES) lines.push(`- ${mode}: ${warnings[mode]!.length ? warnings[mode]!.join(' ') : 'none'}`);
  return `${lines.join('\n')}\n`;
}

await main();
