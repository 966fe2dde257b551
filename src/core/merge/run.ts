/**
 * The streamed executor (STYLE habit 9): gates first (only the base model resident), then
 * every output tensor produced from its recipe and handed to the writer one at a time, then
 * config.json, generation_config.json, the tokenizer files and mergekit_moe_config.yml; the writer commits last.
 * Progress is typed; an AbortSignal stops the merge with CancelledError and nothing is
 * reported as done.
 */
import { CancelledError, ConfigError } from '../errors.ts';
import type { FileSet } from '../io/byte-source.ts';
import type { RawTensor } from '../tensor.ts';
import type { Tokenizer } from '../tokenizer/types.ts';
import { computeGates, tokenizePrompts, type BaseForward } from './gates.ts';
import type { MergePlan } from './plan.ts';
import type { SourceTensor } from './plan-tensors.ts';
import type { MergeInputs, OpenedModel } from './sources.ts';
import { produceTensor } from './tensor-ops.ts';
import { createYielder, yieldNow } from './cooperative.ts';
import { mergedTokenizerFiles } from './tokenizer-files.ts';
import type { MergeWriter } from './writer.ts';
import { degenerateGateWarnings } from './warnings.ts';
import { MERGE_CONFIG_FILE } from './expert-labels.ts';
import { stringifyHfConfig } from '../model/hf-config-json.ts';
import { GENERATION_CONFIG_FILE, generationConfigText, readSourceGeneration } from '../model/generation-config.ts';

export type MergePhase = 'gates' | 'tensors' | 'files' | 'done';

export interface MergeProgress {
  phase: MergePhase;
  /** gates: the gate owner being computed; tensors: the layer of the current tensor (if any). */
  layer?: number;
  /** tensors: the output tensor just written. */
  tensor?: string;
  bytesDone: number;
  bytesTotal: number;
}

/** What the hidden / cheap_embed gates need beyond tensors: a tokenizer and a base forward. */
export interface MergeRuntime {
  loadTokenizer(files: FileSet): Promise<Tokenizer>;
  /** Loads the base model (only it) for the hidden modes, for prompts of ≤ maxTokens tokens; dispose() frees it. */
  openBaseForward(base: OpenedModel, maxTokens: number): Promise<BaseForward & { dispose(): void }>;
}

export interface RunOptions {
  runtime?: MergeRuntime;
  onProgress?: (p: MergeProgress) => void;
  onWarning?: (message: string) => void;
  signal?: AbortSignal;
  /** Copy the (modified) base tokenizer (mergekit --copy-tokenizer, default on). */
  copyTokenizer?: boolean;
  /** Write mergekit_moe_config.yml (mergekit --write-model-card, default on). */
  writeConfigYaml?: boolean;
  /** Gate rows G to write instead of computing the gate_mode's (calibratedGates of a router calibration). */
  gates?: Float32Array[];
  /** Comment lines put before the YAML copy (calibrationYamlComment); mergekit still loads the file. */
  configYamlComment?: string;
  /** README.md model card text (calibrationModelCard); none is written without it. */
  modelCard?: string;
}

export interface MergeResult {
  files: string[];
  warnings: string[];
  /** G: one [gateRows, hidden] Float32Array per layer. */
  gates: Float32Array[];
}

function checkAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new CancelledError('merge: cancelled');
}

async function computePlanGates(plan: MergePlan, base: OpenedModel, options: RunOptions): Promise<Float32Array[]> {
  const mode = plan.config.gateMode;
  const random = mode === 'random' || mode === 'uniform_random';
  const needsTokenizer = !random;
  const runtime = options.runtime;
  const tokenizer = needsTokenizer && runtime ? await runtime.loadTokenizer(base.files) : undefined;
  const longest = tokenizer
    ? Math.max(
        1,
        ...plan.gateOwners.flatMap((o) =>
          tokenizePrompts(tokenizer, [...(o.positivePrompts ?? []), ...(o.negativePrompts ?? [])]).map(
            (ids) => ids.length,
          ),
        ),
      )
    : 1;
  const forward = mode.startsWith('hidden') && runtime ? await runtime.openBaseForward(base, longest) : undefined;
  try {
    return await computeGates(mode, plan.gateOwners, {
      layers: plan.layers,
      hidden: plan.hidden,
      tokenizer,
      base: forward,
      seed: plan.seed,
      signal: options.signal,
      loadEmbedding: () => base.tensors.readTensor('model.embed_tokens.weight'),
      onPrompt: (done, total) =>
        options.onProgress?.({ phase: 'gates', layer: done, bytesDone: done, bytesTotal: total }),
    });
  } finally {
    forward?.dispose();
  }
}

/** Runs a plan: gates, tensors (streamed), small files, commit. */
export async function runMerge(
  plan: MergePlan,
  inputs: MergeInputs,
  writer: MergeWriter,
  options: RunOptions = {},
): Promise<MergeResult> {
  const warn = (m: string) => {
    warnings.push(m);
    options.onWarning?.(m);
  };
  const warnings: string[] = [];
  plan.warnings.forEach(warn);
  const base = inputs.models.get(plan.modelKeys[0]!)!;
  // Typed first: a config field transformers would refuse stops the merge before any work.
  const configText = stringifyHfConfig(plan.outputConfig);
  const generationText = generationConfigText(plan.outputConfig, await readSourceGeneration(base.files));
  await yieldNow(); // let a cancel sent right after the start land
  checkAborted(options.signal);
  const gates = options.gates ?? (await computePlanGates(plan, base, options));
  if (gates.length !== plan.layers)
    throw new ConfigError(`merge: ${gates.length} gate layers for ${plan.layers} layers`);
  degenerateGateWarnings(gates, plan.gateOwners.length, plan.hidden).forEach(warn);

  const byName = new Map(plan.tensors.map((t) => [t.name, t]));
  const read = (s: SourceTensor): Promise<RawTensor> => inputs.models.get(s.modelKey)!.tensors.readTensor(s.name);
  let bytesDone = 0;
  const yieldTurn = createYielder();
  await writer.writeTensors(
    plan.tensors.map(({ name, dtype, shape }) => ({ name, dtype, shape })),
    async (name) => {
      await yieldTurn();
      checkAborted(options.signal);
      const planned = byName.get(name)!;
      const tensor = await produceTensor(planned, read, gates, plan.hidden, plan.seed);
      bytesDone += tensor.data.byteLength;
      const layer = /^model\.layers\.(\d+)\./.exec(name)?.[1];
      options.onProgress?.({
        phase: 'tensors',
        layer: layer === undefined ? undefined : Number(layer),
        tensor: name,
        bytesDone,
        bytesTotal: plan.totalBytes,
      });
      return tensor;
    },
  );
  checkAborted(options.signal);

  options.onProgress?.({ phase: 'files', bytesDone, bytesTotal: plan.totalBytes });
  const encoder = new TextEncoder();
  await writer.writeFile('config.json', encoder.encode(configText));
  await writer.writeFile(GENERATION_CONFIG_FILE, encoder.encode(generationText));
  if (options.copyTokenizer ?? true) {
    for (const [name, bytes] of await mergedTokenizerFiles(base.files)) await writer.writeFile(name, bytes);
  }
  if (options.writeConfigYaml ?? true)
    await writer.writeFile(
      MERGE_CONFIG_FILE,
      encoder.encode((options.configYamlComment ?? '') + plan.config.sourceText),
    );
  if (options.modelCard !== undefined) await writer.writeFile('README.md', encoder.encode(options.modelCard));
  // One macrotask turn before the commit: a cancel message that reached the worker while the
  // last (< 50 ms) stretch of work ran without a yield still lands before anything is final.
  await yieldNow();
  checkAborted(options.signal);
  const files = await writer.finish();
  options.onProgress?.({ phase: 'done', bytesDone, bytesTotal: plan.totalBytes });
  return { files, warnings, gates };
}
