/**
 * Maintainer experiment (the research note's untested lever): calibration texts sampled from
 * each expert's own path, added to the user's texts. For expert e, `--n` windows of `--win`
 * tokens: a `--prompt`-token start taken from e's texts (spread over them), continued by the
 * merged MoE with every layer forced to e alone (routing force [e], k = 1: the expert's own
 * path, whatever its donor's attention), temperature `--temp`, top-k 50, seeded. The sampled
 * windows join the user's packed windows (`--user` tokens an expert, 0 = none), the router is
 * fitted by output-match (the default method), and every held-out token is scored as in
 * calibration-report.ts. Prints one line; docs/merge.md quotes them.
 *
 *   npx tsx scripts/zoo/calibration-selfgen.ts --set check --user 3840 --n 20 [--win 64] [--prompt 8] [--temp 0.9]
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nodeDirFileSet } from '../../src/cli/node-io.ts';
import { calibrateRouters } from '../../src/core/calibrate/calibrate.ts';
import {
  evaluateRouting,
  pairedPerplexityRatio,
  withRouters,
  type RoutingEvaluation,
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
import { heldoutWindows } from './calibration-report.ts';
import { dequantizeModel } from '../../src/core/runtime/cpu/model-f32.ts';
import { createWasmBackend } from '../../src/core/runtime/wasm/backend.ts';
import { generate } from '../../src/core/runtime/generate.ts';

const ROOT = join(import.meta.dirname, '../..');
const ZOO = join(ROOT, 'public/zoo');
const DOMAINS = ['stories', 'code', 'math', 'chat'] as const;
const arg = (n: string, d: string) => (process.argv.includes(n) ? process.argv[process.argv.indexOf(n) + 1]! : d);
const set = arg('--set', 'check');
const userTokens = Number(arg('--user', '3840'));
const perExpert = Number(arg('--n', '20'));
const promptTokens = Number(arg('--prompt', '8'));
const windowTokens = Number(arg('--win', '64'));
const temperature = Number(arg('--temp', '0.9'));

const yaml = await readFile(join(ZOO, 'moe-hidden.yml'), 'utf8');
const built = await buildMergeInMemory(yaml, async (ref) => nodeDirFileSet(join(ROOT, 'public', ref.path)));
const tokenizer = built.model!.tokenizer!;
const moe = dequantizeModel(built.model!.weights);
const texts: CalibrationText[] = [];
for (const d of DOMAINS) {
  const name = set === 'zoo' ? `${d}.jsonl` : `check-${d}.jsonl`;
  texts.push(...parseCalibrationJsonl(await readFile(join(ZOO, 'calibration', name), 'utf8'), name, 4).slice(0, 60));
}
checkCalibrationTexts(texts, 4);
const user =
  userTokens > 0
    ? tokenizeCalibrationTexts(tokenizer, texts, {
        windowTokens: 64,
        windowsPerText: 1,
        packed: { tokensPerExpert: userTokens },
      })
    : [];

const t0 = performance.now();
const sampled: CalibrationSequence[] = [];
if (perExpert > 0) {
  const session = await (await createWasmBackend({ threads: 1 })).createSession(built.model!.weights, {
    maxContext: windowTokens + 8,
  });
  for (let e = 0; e < 4; e++) {
    const stream = tokenizer.encode(
      texts
        .filter((t) => t.expert === e)
        .map((t) => t.text.trim())
        .join('\n\n'),
      { addSpecialTokens: false },
    );
    for (let i = 0; i < perExpert; i++) {
      const at = Math.floor(((i + 0.5) * (stream.length - promptTokens)) / perExpert);
      const prompt = stream.slice(at, at + promptTokens);
      session.truncate(0);
      const ids = [...prompt];
      for await (const tok of generate(session, undefined, prompt, {
        maxTokens: windowTokens - promptTokens,
        temperature,
        topK: 50,
        seed: 1000 * e + i,
        stopIds: [],
        routing: { force: { experts: [e] }, expertsPerToken: 1 },
      }))
        ids.push(tok.id);
      sampled.push({ expert: e, tokens: ids });
      if (i === 0) process.stderr.write(`[${DOMAINS[e]}] ${JSON.stringify(tokenizer.decode(ids).slice(0, 300))}\n`);
    }
  }
}
const genSeconds = (performance.now() - t0) / 1000;
process.stderr.write(`sampled ${sampled.length} windows in ${genSeconds.toFixed(1)} s\n`);

const t1 = performance.now();
const fitted = await calibrateRouters(moe, [...user, ...sampled], { method: 'output-match' });
const fitSeconds = (performance.now() - t1) / 1000;

const all = await heldoutWindows(tokenizer);
const own: RoutingEvaluation[] = [];
for (const d of DOMAINS)
  own.push(await evaluateRouting(dequantizeModel((await loadHfModel(nodeDirFileSet(join(ZOO, d)))).weights), all));
const a = await evaluateRouting(withRouters(moe, fitted.routers), all);
const of = (e: RoutingEvaluation, d: number) => e.windowNll.filter((_, w) => all[w]!.expert === d);
const ratio = DOMAINS.map((_, d) => pairedPerplexityRatio(of(a, d), of(own[d]!, d)));
const line = `${process.argv.slice(2).join(' ')} | tokens ${fitted.tokens} | gen ${genSeconds.toFixed(1)}s fit ${fitSeconds.toFixed(1)}s | share ${a.ownShareMean.map((s) => (100 * s).toFixed(1)).join(' / ')} | ÷own ${ratio.map((r) => `${r.ratio.toFixed(3)} [${r.low.toFixed(2)},${r.high.toFixed(2)}]`).join(' / ')}`;
console.log(line);
