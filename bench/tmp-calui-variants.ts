import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nodeDirFileSet } from '../src/cli/node-io.ts';
import { calibrateMerge, parseCalibrationJsonl, type CalibrationText } from '../src/core/calibrate/index.ts';
import { parseMergeYaml } from '../src/core/formats/mergekit-yaml.ts';
import { planMerge } from '../src/core/merge/plan.ts';
import { openMergeInputs } from '../src/core/merge/sources.ts';
const ROOT = process.cwd();
const parsed = parseMergeYaml(await readFile(join(ROOT, 'public/zoo/moe-hidden.yml'), 'utf8'));
if (!parsed.ok) throw new Error('yaml');
const inputs = await openMergeInputs(parsed.config, async (ref) => nodeDirFileSet(join(ROOT, 'public', ref.path)));
const planned = planMerge(parsed.config, inputs, {});
if (!planned.ok) throw new Error('plan');
const all: CalibrationText[][] = [];
for (const d of ['stories', 'code', 'math', 'chat'])
  all.push(parseCalibrationJsonl(await readFile(join(ROOT, 'public/zoo/calibration', `${d}.jsonl`), 'utf8'), d, 4));
for (const [perDomain, windowTokens] of JSON.parse(process.argv[2]) as [number, number][]) {
  const texts = all.flatMap((t) => t.slice(0, perDomain));
  const t0 = performance.now();
  const r = await calibrateMerge(planned.plan, inputs, texts, { windowTokens, evaluate: true, evaluateTextsPerExpert: 8 });
  const fmt = (e: { ownShare: number[][]; perplexity: number[] }) => e.ownShare.map((x, i) => x.map((v) => v.toFixed(2)).join(' ') + ' ppl ' + e.perplexity[i].toFixed(1)).join(' | ');
  console.log(`${perDomain}x${windowTokens}: ${((performance.now() - t0) / 1000).toFixed(1)} s, ${r.record.tokens} tokens`);
  console.log('  before', fmt(r.before!));
  console.log('  after ', fmt(r.after!));
}
