/**
 * Maintainer tool: where a calibrated zoo router still loses to the own expert (docs/merge.md
 * "Where the last few percent go"). Calibrates moe-hidden.yml with the logistic method on the
 * built-in texts (windows of WINDOW tokens, default 128), then on each domain's held-out
 * windows (as calibration-report.ts scores them) prints perplexity with top-2 routing, top-1
 * only, the own expert forced alone (the oracle), and the mean next-token loss by position.
 *
 *   npx tsx scripts/zoo/calibration-diagnose.ts [WINDOW]
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nodeDirFileSet } from '../../src/cli/node-io.ts';
import { calibrateRouters } from '../../src/core/calibrate/calibrate.ts';
import { forwardSequence, withRouters } from '../../src/core/calibrate/evaluate.ts';
import { parseCalibrationJsonl, tokenizeCalibrationTexts } from '../../src/core/calibrate/texts.ts';
import { buildMergeInMemory } from '../../src/core/merge/build.ts';
import { dequantizeModel } from '../../src/core/runtime/cpu/model-f32.ts';
import type { RoutingOverrides } from '../../src/core/runtime/types.ts';

const ROOT = join(import.meta.dirname, '../..');
const ZOO = join(ROOT, 'public/zoo');
const DOMAINS = ['stories', 'code', 'math', 'chat'];
const POSITION_BUCKETS = [16, 64, 128, Infinity]; // upper bounds of the position buckets

const windowTokens = Number(process.argv[2] ?? 128);
const built = await buildMergeInMemory(await readFile(join(ZOO, 'moe-hidden.yml'), 'utf8'), async (ref) =>
  nodeDirFileSet(join(ROOT, 'public', ref.path)),
);
const tokenizer = built.model!.tokenizer!;
const moe = dequantizeModel(built.model!.weights);
const texts = [];
for (const d of DOMAINS)
  texts.push(...parseCalibrationJsonl(await readFile(join(ZOO, 'calibration', `${d}.jsonl`), 'utf8'), d, 4));
const sequences = tokenizeCalibrationTexts(tokenizer, texts, { windowTokens, windowsPerText: 1 });
const fitted = await calibrateRouters(moe, sequences, { method: 'logistic' });
console.log(`train-set top-1 accuracy per layer: ${fitted.trainTargetShare.map((x) => x.toFixed(3)).join(' ')}`);
const model = withRouters(moe, fitted.routers);
for (const [expert, domain] of DOMAINS.entries()) {
  const ids = tokenizer
    .encode(await readFile(join(ZOO, 'heldout', `${domain}.txt`), 'utf8'), { addSpecialTokens: false })
    .slice(0, 512);
  const windows = [ids.slice(0, 256), ids.slice(256, 512)];
  const run = (routing?: RoutingOverrides) => {
    const sums = POSITION_BUCKETS.map(() => 0);
    const counts = POSITION_BUCKETS.map(() => 0);
    for (const w of windows)
      forwardSequence(model, w, routing).nll.forEach((v, i) => {
        const b = POSITION_BUCKETS.findIndex((limit) => i < limit);
        sums[b] += v;
        counts[b]++;
      });
    const perplexity = Math.exp(sums.reduce((a, b) => a + b, 0) / counts.reduce((a, b) => a + b, 0));
    return { perplexity, byPosition: sums.map((s, b) => (s / counts[b]).toFixed(3)).join(' / ') };
  };
  const top2 = run();
  const oracle = run({ expertsPerToken: 1, force: { experts: [expert] } });
  console.log(
    `${domain}: top-2 ${top2.perplexity.toFixed(2)}, top-1 only ${run({ expertsPerToken: 1 }).perplexity.toFixed(2)}, own expert alone ${oracle.perplexity.toFixed(2)}`,
  );
  console.log(
    `  mean loss by position <16 / <64 / <128 / rest: top-2 ${top2.byPosition}; own expert ${oracle.byPosition}`,
  );
}
