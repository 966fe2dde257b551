/**
 * Maintainer tool: router calibration of the zoo MoE (public/zoo/moe-hidden.yml, top-2 of 4),
 * measured on the held-out texts of public/zoo/heldout twice: on every held-out token (windows
 * of 256 from an empty cache; the verdict, with a 90% block-bootstrap interval per ratio) and on
 * the first 512 tokens per domain, exactly as scripts/merge-report.ts measures the uncalibrated
 * gates. Each variant calibrates with one method on one text set, then scores own-expert top-1
 * share (averaged over layers) and perplexity ÷ the domain's own expert. Results are cached in
 * scripts/zoo/calibration-results.json (rerun one variant with --only NAME); the table goes into
 * public/zoo/ROUTING.md between the calibration markers (merge-report.ts keeps that block).
 *
 *   npx tsx scripts/zoo/calibration-report.ts [--only "NAME|NAME…"] [--table-only]
 *
 * Text sets: 'zoo' = public/zoo/calibration/<domain>.jsonl (the built-in set: training
 * documents of each expert); 'check' = public/zoo/calibration/check-<domain>.jsonl (documents
 * no zoo model was trained on, none from heldout): the held-out-of-tuning check.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nodeDirFileSet } from '../../src/cli/node-io.ts';
import { calibrateRouters, type CalibrationOptions } from '../../src/core/calibrate/calibrate.ts';
import {
  evaluateRouting,
  pairedPerplexityRatio,
  type PerplexityRatio,
  type RoutingEvaluation,
  withRouters,
} from '../../src/core/calibrate/evaluate.ts';
import {
  checkCalibrationTexts,
  parseCalibrationJsonl,
  tokenizeCalibrationTexts,
  type CalibrationSequence,
  type CalibrationText,
} from '../../src/core/calibrate/texts.ts';
import { buildMergeInMemory } from '../../src/core/merge/build.ts';
import { loadHfModel } from '../../src/core/model/load.ts';
import { dequantizeModel } from '../../src/core/runtime/cpu/model-f32.ts';
import type { Tokenizer } from '../../src/core/tokenizer/types.ts';

const ROOT = join(import.meta.dirname, '../..');
const ZOO = join(ROOT, 'public/zoo');
const RESULTS = join(ROOT, 'scripts/zoo/calibration-results.json');
const DOMAINS = ['stories', 'code', 'math', 'chat'] as const;
export const ROUTING_BEGIN = '<!-- calibration:begin (scripts/zoo/calibration-report.ts) -->';
export const ROUTING_END = '<!-- calibration:end -->';
const DOCS_BEGIN = '<!-- calibration table:begin (scripts/zoo/calibration-report.ts) -->';
const DOCS_END = '<!-- calibration table:end -->';

interface Variant {
  name: string;
  /** 'both' = the built-in and the check set's texts together (twice the documents). */
  set: 'zoo' | 'check' | 'both';
  texts: number; // per expert, per set
  windowTokens: number;
  windowsPerText: number;
  /** Packed windows (texts.ts WindowOptions.packed) of at most this many tokens an expert. */
  tokensPerExpert?: number;
  /** How packed windows share the tokens between experts (texts.ts WindowOptions.packed.share). */
  share?: 'equal' | 'sqrt';
  options: Omit<CalibrationOptions, 'onProgress' | 'signal'>;
}

const V = (name: string, options: Variant['options'], data: Partial<Variant> = {}): Variant => ({
  name,
  set: 'zoo',
  texts: 60,
  windowTokens: 64,
  windowsPerText: 1,
  options,
  ...data,
});
const VARIANTS: Variant[] = [
  V('(a) mean', { method: 'mean' }),
  V('(a)+(d) mean, fitted scale', { method: 'mean', fitScale: true }),
  V('(b) logistic', { method: 'logistic' }),
  V('(b)+(d) logistic, fitted scale', { method: 'logistic', fitScale: true }),
  V('(b)+(d) logistic ×2', { method: 'logistic', logitScale: 2 }),
  V('(b)+(d) logistic ×4', { method: 'logistic', logitScale: 4 }),
  V('(c) token-loss targets', { method: 'token-loss' }),
  V('(b)+(d) logistic ×0.5', { method: 'logistic', logitScale: 0.5 }),
  V('(b) logistic, L2 1e-2', { method: 'logistic', l2: 1e-2 }),
  V('(b) logistic, 30 texts, windows of 128', { method: 'logistic' }, { texts: 30, windowTokens: 128 }),
  V('(b) logistic, windows of 128', { method: 'logistic' }, { windowTokens: 128 }),
  V('(e) lm-loss, 150 steps from (b)', { method: 'lm-loss', steps: 150 }),
  V('(b) logistic, 15 texts', { method: 'logistic' }, { texts: 15 }),
  V('(b) logistic, check set', { method: 'logistic' }, { set: 'check' }),
  V('(b) logistic, 50 iterations', { method: 'logistic', maxIterations: 50 }),
  V('(b) logistic, 50 iterations, 40 texts', { method: 'logistic', maxIterations: 50 }, { texts: 40 }),
  V('(b) logistic, windows of 256', { method: 'logistic' }, { windowTokens: 256 }),
  V('(b) logistic, windows of 128, 4 per text', { method: 'logistic' }, { windowTokens: 128, windowsPerText: 4 }),
  V('(b) logistic, windows of 256, check set', { method: 'logistic' }, { set: 'check', windowTokens: 256 }),
  V('(e) lm-loss, 20 steps, windows of 128', { method: 'lm-loss', steps: 20 }, { windowTokens: 128 }),
  V('(b) logistic, packed windows of 64', { method: 'logistic' }, { tokensPerExpert: 3840 }),
  V('(b) logistic, packed windows of 64, check set', { method: 'logistic' }, { set: 'check', tokensPerExpert: 3840 }),
  V('(b) logistic, packed windows of 64, twice the tokens', { method: 'logistic' }, { tokensPerExpert: 7680 }),
  V(
    '(b) logistic, packed windows of 64, twice the tokens, check set',
    { method: 'logistic' },
    { set: 'check', tokensPerExpert: 7680 },
  ),
  V('(b) logistic, packed windows of 64, L2 1e-4', { method: 'logistic', l2: 1e-4 }, { tokensPerExpert: 3840 }),
  V(
    '(f) output-match, packed windows of 64 (the shipped default)',
    { method: 'output-match' },
    { tokensPerExpert: 3840 },
  ),
  V(
    '(f) output-match, packed windows of 64, check set',
    { method: 'output-match' },
    { set: 'check', tokensPerExpert: 3840 },
  ),
  V(
    '(f) output-match, routed set top-2, packed windows of 64',
    { method: 'output-match', matchTopK: 2 },
    { tokensPerExpert: 3840 },
  ),
  V(
    '(f) output-match ×16, packed windows of 64',
    { method: 'output-match', matchWeight: 16 },
    { tokensPerExpert: 3840 },
  ),
  V('(f) output-match, packed windows of 64, twice the tokens', { method: 'output-match' }, { tokensPerExpert: 7680 }),
  V(
    '(f) output-match, packed windows of 64, twice the tokens, check set',
    { method: 'output-match' },
    { set: 'check', tokensPerExpert: 7680 },
  ),
  V(
    '(f) output-match, packed windows of 128, check set',
    { method: 'output-match' },
    { set: 'check', tokensPerExpert: 3840, windowTokens: 128 },
  ),
  V(
    '(f) output-match, packed windows of 256, check set',
    { method: 'output-match' },
    { set: 'check', tokensPerExpert: 3840, windowTokens: 256 },
  ),
  V(
    '(f) output-match, packed windows of 32, check set',
    { method: 'output-match' },
    { set: 'check', tokensPerExpert: 3840, windowTokens: 32 },
  ),
  V(
    '(f) output-match, packed windows of 64 shared ∝ √text',
    { method: 'output-match' },
    { tokensPerExpert: 3840, share: 'sqrt' },
  ),
  V(
    '(f) output-match, packed windows of 64 shared ∝ √text, check set',
    { method: 'output-match' },
    { set: 'check', tokensPerExpert: 3840, share: 'sqrt' },
  ),
  V(
    '(f) output-match, packed windows of 32 shared ∝ √text, check set',
    { method: 'output-match' },
    { set: 'check', tokensPerExpert: 3840, windowTokens: 32, share: 'sqrt' },
  ),
  V(
    '(f) output-match, packed windows of 64 shared ∝ √text, 1.5× the tokens',
    { method: 'output-match' },
    { tokensPerExpert: 5760, share: 'sqrt' },
  ),
  V(
    '(f) output-match, packed windows of 64 shared ∝ √text, 1.5× the tokens, check set',
    { method: 'output-match' },
    { set: 'check', tokensPerExpert: 5760, share: 'sqrt' },
  ),
  V(
    '(f)+(d) output-match ×0.7, packed windows of 64, check set',
    { method: 'output-match', logitScale: 0.7 },
    { set: 'check', tokensPerExpert: 3840 },
  ),
  V(
    '(f)+(d) output-match ×0.5, packed windows of 64, check set',
    { method: 'output-match', logitScale: 0.5 },
    { set: 'check', tokensPerExpert: 3840 },
  ),
  V(
    '(f)+(d) output-match ×0.7, packed windows of 64',
    { method: 'output-match', logitScale: 0.7 },
    { tokensPerExpert: 3840 },
  ),
  V(
    '(f) output-match, packed windows of 64, built-in and check set together',
    { method: 'output-match' },
    { set: 'both', tokensPerExpert: 3840 },
  ),
];

interface Row {
  name: string;
  set: string;
  tokens: number;
  seconds: number;
  ownShare: number[]; // [domain]  first 512 held-out tokens
  ownShareByLayer: number[][]; // [domain][layer]
  perplexity: number[]; // [domain]
  /** Every held-out token: shares, perplexities and ppl ÷ own expert with its 90% interval. */
  all?: { ownShare: number[]; perplexity: number[]; ratio: PerplexityRatio[]; scoredTokens: number[] };
}

async function loadTexts(set: Variant['set'], perExpert: number): Promise<CalibrationText[]> {
  const texts: CalibrationText[] = [];
  for (const d of DOMAINS) {
    const names = { zoo: [`${d}.jsonl`], check: [`check-${d}.jsonl`], both: [`${d}.jsonl`, `check-${d}.jsonl`] }[set];
    for (const name of names) {
      const parsed = parseCalibrationJsonl(
        await readFile(join(ZOO, 'calibration', name), 'utf8'),
        name,
        DOMAINS.length,
      );
      texts.push(...parsed.slice(0, perExpert));
    }
  }
  return checkCalibrationTexts(texts, DOMAINS.length);
}

/** Held-out windows of 256 tokens, from the first `limit` tokens of each domain's text (a last window needs 2 tokens to score). */
export async function heldoutWindows(tokenizer: Tokenizer, limit = Infinity): Promise<CalibrationSequence[]> {
  const windows: CalibrationSequence[] = [];
  for (const [expert, d] of DOMAINS.entries()) {
    const text = await readFile(join(ZOO, 'heldout', `${d}.txt`), 'utf8');
    const ids = tokenizer.encode(text, { addSpecialTokens: false }).slice(0, limit);
    for (let i = 0; i + 2 <= ids.length; i += 256) windows.push({ expert, tokens: ids.slice(i, i + 256) });
  }
  return windows;
}

async function main(): Promise<void> {
  const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
  const results = JSON.parse(await readFile(RESULTS, 'utf8').catch(() => '{}')) as Record<string, Row>;
  if (!process.argv.includes('--table-only')) {
    const yaml = await readFile(join(ZOO, 'moe-hidden.yml'), 'utf8');
    const built = await buildMergeInMemory(yaml, async (ref) => nodeDirFileSet(join(ROOT, 'public', ref.path)));
    const tokenizer = built.model!.tokenizer!;
    const moe = dequantizeModel(built.model!.weights);
    const heldout = await heldoutWindows(tokenizer, 512);
    const heldoutAll = await heldoutWindows(tokenizer);
    // each domain's own expert on every held-out token: the denominators of the paired ratios
    const ownAll: RoutingEvaluation[] = [];
    for (const d of DOMAINS)
      ownAll.push(
        await evaluateRouting(dequantizeModel((await loadHfModel(nodeDirFileSet(join(ZOO, d)))).weights), heldoutAll),
      );
    const windowsOf = (e: RoutingEvaluation, d: number) => e.windowNll.filter((_, w) => heldoutAll[w]!.expert === d);
    const score = async (name: string, set: string, model = moe, tokens = 0, seconds = 0) => {
      const e = await evaluateRouting(model, heldout);
      const a = await evaluateRouting(model, heldoutAll);
      const ratio = DOMAINS.map((_, d) => pairedPerplexityRatio(windowsOf(a, d), windowsOf(ownAll[d]!, d)));
      results[name] = {
        name,
        set,
        tokens,
        seconds,
        ownShare: e.ownShareMean,
        ownShareByLayer: e.ownShare,
        perplexity: e.perplexity,
        all: { ownShare: a.ownShareMean, perplexity: a.perplexity, ratio, scoredTokens: a.scoredTokens },
      };
      process.stderr.write(
        `${name}: all ${a.ownShareMean.map((s) => (100 * s).toFixed(1)).join(' / ')} · ÷own ${ratio.map((r) => `${r.ratio.toFixed(3)} [${r.low.toFixed(3)}, ${r.high.toFixed(3)}]`).join(' / ')}; first 512 ppl ${e.perplexity.map((p) => p.toFixed(2)).join(' / ')}\n`,
      );
      await writeFile(RESULTS, `${JSON.stringify(results, null, 1)}\n`);
    };
    if (!only || only.split('|').includes('reference')) {
      for (const d of ['base', ...DOMAINS])
        await score(
          d === 'base' ? 'base' : `expert ${d}`,
          '-',
          dequantizeModel((await loadHfModel(nodeDirFileSet(join(ZOO, d)))).weights),
        );
      await score('hidden gates (no calibration)', '-');
    }
    for (const v of VARIANTS.filter((x) => !only || only.split('|').includes(x.name))) {
      const sequences = tokenizeCalibrationTexts(tokenizer, await loadTexts(v.set, v.texts), {
        ...v,
        packed: v.tokensPerExpert ? { tokensPerExpert: v.tokensPerExpert, share: v.share } : undefined,
      });
      const started = performance.now();
      const fitted = await calibrateRouters(moe, sequences, v.options);
      const seconds = (performance.now() - started) / 1000;
      await score(
        v.name,
        v.tokensPerExpert
          ? v.share === 'sqrt'
            ? `${v.set} ${v.texts} packed, ${(4 * v.tokensPerExpert) / v.windowTokens}×${v.windowTokens} shared ∝ √text`
            : `${v.set} ${v.texts} packed, ${v.tokensPerExpert / v.windowTokens}×${v.windowTokens} an expert`
          : `${v.set} ${v.texts}×${v.windowsPerText}×${v.windowTokens}`,
        withRouters(moe, fitted.routers),
        fitted.tokens,
        seconds,
      );
    }
  }
  await writeRoutingSection(results);
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/**
 * The calibration table, in the order rows were first measured. Cells and verdicts are on every
 * held-out token (ppl ÷ own with its 90% block-bootstrap interval); the first-512-token ratios
 * (the window ROUTING.md's uncalibrated tables use) sit in one column beside them.
 */
export function calibrationTable(results: Record<string, Row>): string[] {
  const own512 = DOMAINS.map((d) => results[`expert ${d}`]?.perplexity[DOMAINS.indexOf(d)] ?? NaN);
  const baseAll = results.base?.all?.perplexity ?? DOMAINS.map(() => NaN);
  const lines = [
    `| router | texts (set texts×windows×tokens) | ${DOMAINS.map((d) => `${d}: own share · ppl ÷ own [90%]`).join(' | ')} | first 512 tokens: ppl ÷ own | below base everywhere | ≥ 80% and ≤ 1.10× everywhere |`,
    `|---|---|${DOMAINS.map(() => '---:').join('|')}|---:|:---:|:---:|`,
  ];
  for (const row of Object.values(results)) {
    if (row.name === 'base' || row.name.startsWith('expert ') || !row.all) continue;
    const { ownShare, perplexity, ratio } = row.all;
    const below = perplexity.every((p, d) => p < baseAll[d]!);
    const target = ownShare.every((s) => s >= 0.8) && ratio.every((r) => r.ratio <= 1.1);
    const cells = DOMAINS.map(
      (_, d) =>
        `${pct(ownShare[d]!)} · ${ratio[d]!.ratio.toFixed(3)}× [${ratio[d]!.low.toFixed(2)}, ${ratio[d]!.high.toFixed(2)}]`,
    );
    const first512 = row.perplexity.map((p, d) => (p / own512[d]!).toFixed(3)).join(' / ');
    lines.push(
      `| ${row.name} | ${row.set} | ${cells.join(' | ')} | ${first512} | ${below ? 'yes' : 'no'} | ${target ? 'yes' : 'no'} |`,
    );
  }
  return lines;
}

const scoredAll = (results: Record<string, Row>): string => {
  const counts = Object.values(results).find((r) => r.all)?.all?.scoredTokens ?? [];
  return DOMAINS.map((d, i) => `${d} ${(counts[i] ?? NaN).toLocaleString('en-US')}`).join(', ');
};

async function writeRoutingSection(results: Record<string, Row>): Promise<void> {
  const path = join(ZOO, 'ROUTING.md');
  const routing = await readFile(path, 'utf8');
  const section = [
    ROUTING_BEGIN,
    '## Router calibration (moe-hidden.yml, top-2 of 4)',
    '',
    'Generated by `npx tsx scripts/zoo/calibration-report.ts` (numbers cached in scripts/zoo/calibration-results.json).',
    'Each calibrated router is fitted by src/core/calibrate on the texts named in the second column and scored on the same',
    `held-out texts as above, on every token (windows of 256: ${scoredAll(results)} scored tokens), and on the first`,
    '512 tokens as the tables above (one column). Own share: own-domain top-1 share averaged',
    "over layers; ppl ÷ own: MoE perplexity ÷ that domain's expert alone on the same tokens, with a 90% interval (block",
    'bootstrap over blocks of 64 tokens: a difference smaller than the interval is not measured). Sets: zoo =',
    'public/zoo/calibration/<domain>.jsonl (built in), check = check-<domain>.jsonl (documents no zoo model was trained on).',
    '',
    ...calibrationTable(results),
    '',
    'Perplexity per domain (every held-out token):',
    '',
    `| model | ${DOMAINS.join(' | ')} |`,
    `|---|${DOMAINS.map(() => '---:').join('|')}|`,
    ...Object.values(results)
      .filter((r) => r.all)
      .map((r) => `| ${r.name} | ${r.all!.perplexity.map((p) => p.toFixed(2)).join(' | ')} |`),
    ROUTING_END,
  ].join('\n');
  const start = routing.indexOf(ROUTING_BEGIN);
  const end = routing.indexOf(ROUTING_END);
  const next =
    start >= 0 && end > start
      ? routing.slice(0, start) + section + routing.slice(end + ROUTING_END.length)
      : `${routing.trimEnd()}\n\n${section}\n`;
  await writeFile(path, next);
  process.stderr.write(`wrote ${path}\n`);
  // docs/merge.md carries the same table (one source: this script), between its own markers
  const docsPath = join(ROOT, 'docs/merge.md');
  const docs = await readFile(docsPath, 'utf8');
  const docsStart = docs.indexOf(DOCS_BEGIN);
  const docsEnd = docs.indexOf(DOCS_END);
  if (docsStart < 0 || docsEnd < docsStart) throw new Error(`${docsPath}: no ${DOCS_BEGIN} … ${DOCS_END} block`);
  const table = [DOCS_BEGIN, ...calibrationTable(results), DOCS_END].join('\n');
  await writeFile(docsPath, docs.slice(0, docsStart) + table + docs.slice(docsEnd + DOCS_END.length));
  process.stderr.write(`wrote ${docsPath}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
