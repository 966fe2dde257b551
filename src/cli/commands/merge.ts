/**
 * `moe-studio merge CONFIG.yml OUT_DIR [flags]` — mergekit-moe from Node.
 * Exit codes: 0 merged, 1 invalid config / incompatible models / failed merge, 2 bad usage.
 */
import { basename, join, resolve } from 'node:path';
import { ConfigError } from '../../core/errors.ts';
import {
  formatModelReference,
  parseMergeYaml,
  type ConfigIssue,
  type ModelReference,
} from '../../core/formats/mergekit-yaml.ts';
import type { FileSet } from '../../core/io/byte-source.ts';
import { createMergeRuntime } from '../../core/merge/default-runtime.ts';
import { httpFileSet } from '../../core/hub/http-files.ts';
import { exportOnlyReason } from '../../core/merge/architecture.ts';
import { planMerge, type MergePlan } from '../../core/merge/plan.ts';
import { runMerge, type MergeProgress, type MergeRuntime, type RunOptions } from '../../core/merge/run.ts';
import { openMergeInputs, type MergeInputs, type ModelResolver } from '../../core/merge/sources.ts';
import { folderWriter, DEFAULT_SHARD_BYTES } from '../../core/merge/writer.ts';
import {
  CALIBRATION_METHODS,
  CALIBRATION_WINDOWINGS,
  calibrateMerge,
  calibrationModelCard,
  describeCalibration,
  parseCalibrationJsonl,
} from '../../core/calibrate/index.ts';
import { enumFlag, numberFlag, parseFlags, stringFlag, UsageError, type FlagSpec } from '../args.ts';
import { exportGguf, ggufExportRefusal } from '../../core/model/gguf-model.ts';
import { parseHfConfig } from '../../core/model/hf-config.ts';
import { hfModelCard, mergeModelCardFacts } from '../../core/merge/model-card.ts';
import { loadModelLazy } from '../../core/model/load.ts';
import { HfTokenizer } from '../../core/tokenizer/hf.ts';
import { isDirectory, nodeDirFileSet, nodeDirSinkOpener, nodeFileSink, pathExists, readTextFile } from '../node-io.ts';
import { cliTokenizerGuard } from '../load-model.ts';
import { cpuBackend } from '../../core/runtime/cpu/backend.ts';
import type { GgufExportQuant } from '../../core/model/gguf-names.ts';

export const MERGE_USAGE = `moe-studio merge CONFIG.yml OUT_DIR [flags]      (mergekit-moe compatible)
  --models-dir DIR        resolve model org/name to DIR/org/name/ (default: paths as given)
  --hub URL               else fetch org/name from URL/org/name/resolve/<rev>/<file>
  --layout classic|fused  Mixtral/Qwen3 expert tensors: per expert (mergekit v0.1.4, default) or fused (transformers v5)
  --mergekit-version v0.1.4|main   where they differ (Mixtral residual_scale); default follows --layout
  --out-shard-size N      shard budget in bytes; K/M/B suffixes (×1000); default 5B
  --random-seed N         seed for random/uniform_random gates and noise (default 0)
  --i-understand-this-is-not-useful-without-training   allow every expert to be the same model
  --gguf f32|f16|q8_0|q4_0   also write OUT_DIR/model.<type>.gguf (reads the merged folder back tensor by tensor)
  --no-copy-tokenizer     do not save the base tokenizer    --no-write-model-card   no mergekit_moe_config.yml
  --force                 write into an existing OUT_DIR    -v, --verbose  explain refusals, stack traces
  --calibrate FILE.jsonl  fit the routers to texts, one {"expert": <0-based index in experts>, "text": "..."} a line;
                          writes the calibrated gate tensors, records method + data sha256 in README.md and the YAML copy
  --calibrate-method mean|logistic|token-loss|lm-loss|output-match   (default output-match)   --calibrate-logit-scale X  multiply fitted routers
  --calibrate-window N    tokens per window (default 64)    --calibrate-steps N  lm-loss training steps (default 200)
  --calibrate-windowing packed|per-text   packed (default): each expert's texts joined and cut into windows that start
                          mid-text; per-text: one window from each text's start
  --calibrate-tokens-per-expert N   packed: tokens an expert (default 3840)
  Accepted and ignored, as in mergekit-moe: --allow-crimes --lazy-unpickle --clone-tensors --trust-remote-code
  --low-cpu-memory --cuda --device X --copy-tokenizer --write-model-card --safe-serialization --quiet`;

const IGNORED_BOOLEANS = [
  'allow-crimes',
  'lazy-unpickle',
  'clone-tensors',
  'trust-remote-code',
  'low-cpu-memory',
  'cuda',
  'copy-tokenizer',
  'write-model-card',
  'safe-serialization',
  'quiet',
  'help',
];
const FLAGS: FlagSpec = {
  'models-dir': { type: 'string' },
  hub: { type: 'string' },
  layout: { type: 'string' },
  'mergekit-version': { type: 'string' },
  'out-shard-size': { type: 'string' },
  'random-seed': { type: 'string' },
  gguf: { type: 'string' },
  device: { type: 'string' },
  'i-understand-this-is-not-useful-without-training': { type: 'boolean' },
  'no-copy-tokenizer': { type: 'boolean' },
  'no-write-model-card': { type: 'boolean' },
  force: { type: 'boolean' },
  calibrate: { type: 'string' },
  'calibrate-method': { type: 'string' },
  'calibrate-windowing': { type: 'string' },
  'calibrate-tokens-per-expert': { type: 'string' },
  'calibrate-logit-scale': { type: 'string' },
  'calibrate-window': { type: 'string' },
  'calibrate-steps': { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
  ...Object.fromEntries(IGNORED_BOOLEANS.map((f) => [f, { type: 'boolean' as const }])),
};

/** mergekit's size syntax: an integer with an optional K/M/B suffix (×1000). */
export function parseShardSize(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmb])?\s*$/i.exec(value);
  const scale = { k: 1e3, m: 1e6, b: 1e9 }[(m?.[2] ?? '').toLowerCase()] ?? 1;
  const bytes = m ? Math.floor(Number(m[1]) * scale) : NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 1)
    throw new UsageError(
      `--out-shard-size must be a byte count like 1000000, 500M or 1B, got ${JSON.stringify(value)}`,
    );
  return bytes;
}

function modelResolver(modelsDir: string | undefined, hub: string | undefined): ModelResolver {
  return async (ref: ModelReference): Promise<FileSet> => {
    const local = modelsDir === undefined ? ref.path : join(modelsDir, ref.path);
    if (await isDirectory(local)) return nodeDirFileSet(local);
    if (hub !== undefined) return httpFileSet(hub, ref.path, ref.revision ?? 'main');
    throw new ConfigError(
      `merge: model '${formatModelReference(ref)}' not found: ${local} is not a directory${modelsDir === undefined ? ' (use --models-dir or --hub)' : ' (or pass --hub)'}`,
    );
  };
}

function printIssues(issues: ConfigIssue[]): void {
  for (const i of issues) process.stderr.write(`moe-studio merge: ${i.field ? `${i.field}: ` : ''}${i.message}\n`);
}

function progressPrinter(): (p: MergeProgress) => void {
  let lastPercent = -1;
  return (p) => {
    if (p.phase === 'gates') process.stderr.write(`gates: ${p.bytesDone}/${p.bytesTotal} gate rows\n`);
    if (p.phase !== 'tensors') return;
    const percent = Math.floor((100 * p.bytesDone) / Math.max(1, p.bytesTotal));
    if (percent >= lastPercent + 10 || p.bytesDone === p.bytesTotal) {
      lastPercent = percent;
      process.stderr.write(
        `tensors: ${percent}% (${(p.bytesDone / 1e6).toFixed(1)} / ${(p.bytesTotal / 1e6).toFixed(1)} MB) ${p.tensor ?? ''}\n`,
      );
    }
  };
}

async function writeGguf(outDir: string, quant: GgufExportQuant): Promise<string> {
  const model = await loadModelLazy(nodeDirFileSet(outDir)); // tensors read one by one as the GGUF is written
  if (!(model.tokenizer instanceof HfTokenizer))
    throw new ConfigError('merge: --gguf needs the base tokenizer (tokenizer.json) in the output');
  const path = join(outDir, `model.${quant}.gguf`);
  await exportGguf(
    await nodeFileSink(path),
    model.weights,
    { tokenizerJson: model.tokenizer.tokenizerJson, tokenizerConfig: model.tokenizer.tokenizerConfig },
    quant,
  );
  return path;
}

/** --gguf for an output llama.cpp would run differently (or we cannot open) is refused before anything is merged. */
function checkGgufOutput(plan: MergePlan, quant: GgufExportQuant): void {
  const reason = exportOnlyReason(plan.arch) ?? ggufExportRefusal(parseHfConfig(plan.outputConfig));
  if (reason)
    throw new ConfigError(
      `merge: --gguf ${quant} refused before merging (nothing was written): ${reason}. Drop --gguf to write the HF folder alone`,
    );
}

function describePlan(plan: MergePlan): string {
  return `${plan.arch} (${plan.layout}) · ${plan.experts} experts, top-${plan.config.expertsPerToken} · gate_mode ${plan.config.gateMode} · ${plan.tensors.length} tensors, ${(plan.totalBytes / 1e6).toFixed(1)} MB · dtype ${plan.outDtype ?? 'as sources'}`;
}

/**
 * --calibrate: merges into memory once, fits the routers to the JSONL texts, and returns the
 * runMerge options that write the calibrated gates and the YAML comment, and the model card's
 * calibration section.
 */
async function calibrationFor(
  values: Record<string, string | boolean | undefined>,
  plan: MergePlan,
  inputs: MergeInputs,
  runtime: MergeRuntime,
): Promise<{ runOptions: Pick<RunOptions, 'gates' | 'configYamlComment'>; cardSection?: string }> {
  const path = stringFlag(values.calibrate);
  const method = enumFlag('calibrate-method', values['calibrate-method'], CALIBRATION_METHODS);
  const logitScale = numberFlag('calibrate-logit-scale', values['calibrate-logit-scale'], { min: 1e-3 });
  const windowTokens = numberFlag('calibrate-window', values['calibrate-window'], { integer: true, min: 2 });
  const steps = numberFlag('calibrate-steps', values['calibrate-steps'], { integer: true, min: 1 });
  const windowing = enumFlag('calibrate-windowing', values['calibrate-windowing'], CALIBRATION_WINDOWINGS);
  const tokensPerExpert = numberFlag('calibrate-tokens-per-expert', values['calibrate-tokens-per-expert'], {
    integer: true,
    min: 2,
  });
  if (path === undefined) {
    if (method ?? logitScale ?? windowTokens ?? steps ?? windowing ?? tokensPerExpert)
      throw new UsageError('merge: --calibrate-* flags need --calibrate FILE.jsonl');
    return { runOptions: {} };
  }
  const texts = parseCalibrationJsonl(await readTextFile(path), path, plan.experts);
  let lastLayer = -1;
  const fitted = await calibrateMerge(plan, inputs, texts, {
    runtime,
    method,
    logitScale,
    windowTokens,
    windowing,
    tokensPerExpert,
    steps,
    onProgress: (p) => {
      if (p.phase === 'fit' && p.layer !== undefined && p.layer !== lastLayer) {
        lastLayer = p.layer;
        process.stderr.write(`calibrate: layer ${p.layer + 1}/${plan.layers}\n`);
      }
    },
  });
  process.stderr.write(`calibrate: ${describeCalibration(fitted.record)}\n`);
  return { runOptions: fitted.runOptions, cardSection: calibrationModelCard(fitted.record) };
}

export async function runMergeCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${MERGE_USAGE}\n`);
    return 0;
  }
  const { values, positionals } = parseFlags('merge', argv, FLAGS);
  if (positionals.length !== 2)
    throw new UsageError(
      `merge: expected CONFIG.yml and OUT_DIR, got ${positionals.length} argument(s)\n${MERGE_USAGE}`,
    );
  const [configPath, outDir] = positionals as [string, string];
  const layout = enumFlag('layout', values.layout, ['classic', 'fused'] as const);
  const version = enumFlag('mergekit-version', values['mergekit-version'], ['v0.1.4', 'main'] as const);
  const gguf = enumFlag('gguf', values.gguf, ['f32', 'f16', 'q8_0', 'q4_0'] as const);
  const seed = numberFlag('random-seed', values['random-seed'], { integer: true, min: 0 });
  const shardBytes =
    values['out-shard-size'] === undefined ? DEFAULT_SHARD_BYTES : parseShardSize(String(values['out-shard-size']));
  if (!values.force && (await pathExists(join(outDir, 'config.json'))))
    throw new UsageError(`merge: ${outDir} already holds a model; pass --force to overwrite`);

  const parsed = parseMergeYaml(await readTextFile(configPath));
  if (!parsed.ok) {
    printIssues(parsed.issues);
    return 1;
  }
  const inputs = await openMergeInputs(
    parsed.config,
    modelResolver(stringFlag(values['models-dir']), stringFlag(values.hub)),
  );
  const planned = planMerge(parsed.config, inputs, {
    layout,
    seed,
    residualScaleBehaviour: version,
    allowAllSameModels: values['i-understand-this-is-not-useful-without-training'] === true,
  });
  if (!planned.ok) {
    printIssues(planned.issues);
    return 1;
  }
  const plan = planned.plan;
  if (gguf) checkGgufOutput(plan, gguf);
  process.stderr.write(`plan: ${describePlan(plan)}\n`);
  const started = performance.now();
  // The base tokenizer encodes the prompts and the calibration texts in a sandbox thread, under the deadline.
  const runtime = createMergeRuntime(cpuBackend, cliTokenizerGuard());
  const calibration = await calibrationFor(values, plan, inputs, runtime);
  const result = await runMerge(plan, inputs, folderWriter(nodeDirSinkOpener(outDir), { maxShardBytes: shardBytes }), {
    runtime,
    onProgress: progressPrinter(),
    onWarning: (m) => process.stderr.write(`WARNING: ${m}\n`),
    copyTokenizer: values['no-copy-tokenizer'] !== true,
    writeConfigYaml: values['no-write-model-card'] !== true,
    ...calibration.runOptions,
    // The Export page's card for the same merge (modelCard in src/state/export.ts) is this text.
    modelCard: hfModelCard(
      mergeModelCardFacts(
        basename(resolve(outDir)),
        plan.config,
        plan.config.sourceText,
        plan.arch,
        calibration.cardSection,
      ),
    ),
  });
  const files = gguf ? [...result.files, await writeGguf(outDir, gguf)] : result.files;
  process.stderr.write(`merged into ${outDir} in ${((performance.now() - started) / 1000).toFixed(2)} s\n`);
  for (const f of files) process.stdout.write(`${f}\n`);
  return 0;
}
