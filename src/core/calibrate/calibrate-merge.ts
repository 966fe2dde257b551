/**
 * Router calibration of a planned merge, one function for both hosts (the CLI's --calibrate,
 * the merge worker's Compose step):
 *
 *   plan + inputs → runMerge into memory → mergedModelWeights → calibrateMergedModel
 *                 → the runMerge options that write the calibrated gates, the YAML comment
 *                   and the model card, plus the record and the before/after evaluations.
 */
import { CancelledError, ConfigError } from '../errors.ts';
import { createYielder } from '../merge/cooperative.ts';
import { createMergeRuntime } from '../merge/default-runtime.ts';
import { mergedModelWeights } from '../merge/memory-model.ts';
import type { MergePlan } from '../merge/plan.ts';
import { runMerge, type MergeRuntime, type RunOptions } from '../merge/run.ts';
import type { MergeInputs } from '../merge/sources.ts';
import { memoryWriter } from '../merge/writer.ts';
import type { CalibrationProgress } from './calibrate.ts';
import { evaluateRouting, withRouters, type RoutingEvaluation } from './evaluate.ts';
import type { ModelWeights } from '../model/weights.ts';
import { dequantizeModel } from '../runtime/cpu/model-f32.ts';
import type { Tokenizer } from '../tokenizer/types.ts';
import {
  calibratedGates,
  calibrateMergedModel,
  calibrationYamlComment,
  recordWindowOptions,
  type CalibrateMergeOptions,
  type CalibrationRecord,
} from './merged.ts';
import { tokenizeCalibrationTexts, type CalibrationText, type WindowOptions } from './texts.ts';

/** Typed progress of calibrateMerge: the in-memory merge (bytes), the evaluation (windows), the fit phases. */
export type CalibrateMergeProgress =
  | CalibrationProgress
  | { phase: 'merge'; done: number; total: number } // tensor bytes
  | { phase: 'evaluate'; done: number; total: number }; // windows

export interface CalibrateMergeRunOptions extends Omit<CalibrateMergeOptions, 'onProgress'> {
  runtime?: MergeRuntime;
  /**
   * With evaluate: score before/after on at most this many texts per expert (the first ones), not on all:
   * a scoring pass costs a whole forward with the LM head per window, more than fitting a layer.
   */
  evaluateTextsPerExpert?: number;
  onProgress?: (p: CalibrateMergeProgress) => void;
}

/** The runMerge options a calibrated build passes (spread into RunOptions). */
export type CalibratedRunOptions = Pick<RunOptions, 'gates' | 'configYamlComment'>;

export interface CalibratedMergeRun {
  runOptions: CalibratedRunOptions;
  record: CalibrationRecord;
  /** With evaluate: routing on the calibration windows with the merged gates and with the calibrated ones. */
  before?: RoutingEvaluation;
  after?: RoutingEvaluation;
}

/** The runMerge options that write `routers` as the gates of a merge whose own gates are `gates`. */
export function calibratedRunOptions(
  gates: Float32Array[],
  routers: Float32Array[],
  record: CalibrationRecord,
): CalibratedRunOptions {
  return {
    gates: calibratedGates(gates, routers),
    configYamlComment: calibrationYamlComment(record),
  };
}

/**
 * The largest merge calibrateMerge takes, in parameters. It holds the merged model in memory
 * twice (as merged, then an f32 copy for the forward passes: ~6 bytes a parameter from bf16
 * donors), so past this a tab or a small machine would run out of memory mid-fit; the
 * 4×SmolLM2-135M-dims bench MoE (0.37 B) is well inside, a 4×1.1B MoE (3.4 B) is refused.
 */
export const CALIBRATION_MAX_PARAMETERS = 1_000_000_000;

/** The parameters of a plan's output tensors. */
export function planParameters(plan: MergePlan): number {
  return plan.tensors.reduce((sum, t) => sum + t.shape.reduce((a, b) => a * b, 1), 0);
}

/** Merges `plan` into memory once and fits its routers to `texts`; the merge itself is left to the caller. */
export async function calibrateMerge(
  plan: MergePlan,
  inputs: MergeInputs,
  texts: CalibrationText[],
  options: CalibrateMergeRunOptions = {},
): Promise<CalibratedMergeRun> {
  const { runtime, onProgress, signal, evaluate, evaluateTextsPerExpert, ...calibration } = options;
  const parameters = planParameters(plan);
  if (parameters > CALIBRATION_MAX_PARAMETERS)
    throw new ConfigError(
      `calibrate: the merged model has ${(parameters / 1e9).toFixed(2)} B parameters; calibration holds it in memory (about ${((parameters * 6) / 1e9).toFixed(0)} GB), and takes at most ${CALIBRATION_MAX_PARAMETERS / 1e9} B. Merge it without calibration, or calibrate a composition of smaller donors`,
    );
  const memory = memoryWriter();
  const mergeRuntime = runtime ?? createMergeRuntime();
  const merged = await runMerge(plan, inputs, memory, {
    runtime: mergeRuntime,
    signal,
    onProgress: (p) => onProgress?.({ phase: 'merge', done: p.bytesDone, total: p.bytesTotal }),
  });
  if (signal?.aborted) throw new CancelledError('calibrate: cancelled');
  const model = await mergedModelWeights(plan, memory.output, mergeRuntime.loadTokenizer);
  if (!model.tokenizer) throw new ConfigError('calibrate: the base model has no tokenizer.json to read the texts with');
  const fitted = await calibrateMergedModel(model.weights, model.tokenizer, texts, {
    ...calibration,
    evaluate: false,
    signal,
    onProgress,
  });
  const scored = evaluate
    ? await beforeAfter(model.weights, model.tokenizer, sampleTexts(texts, evaluateTextsPerExpert), fitted.routers, {
        ...recordWindowOptions(fitted.record),
        signal,
        onProgress,
      })
    : undefined;
  if (signal?.aborted) throw new CancelledError('calibrate: cancelled');
  return {
    runOptions: calibratedRunOptions(merged.gates, fitted.routers, fitted.record),
    record: fitted.record,
    before: scored?.before,
    after: scored?.after,
  };
}

/** The first `perExpert` texts of each expert (all without a limit), in their order. */
function sampleTexts(texts: CalibrationText[], perExpert = Number.POSITIVE_INFINITY): CalibrationText[] {
  const taken = new Map<number, number>();
  return texts.filter((t) => {
    const n = taken.get(t.expert) ?? 0;
    taken.set(t.expert, n + 1);
    return n < perExpert;
  });
}

/**
 * Routing on `texts`' windows with the merged gates and with `routers`. evaluateRouting takes no
 * signal: its window callback yields (so a cancel message can land in a worker) and throws once
 * the signal is aborted.
 */
async function beforeAfter(
  weights: ModelWeights,
  tokenizer: Tokenizer,
  texts: CalibrationText[],
  routers: Float32Array[],
  options: WindowOptions & { signal?: AbortSignal; onProgress?: (p: CalibrateMergeProgress) => void },
): Promise<{ before: RoutingEvaluation; after: RoutingEvaluation }> {
  const sequences = tokenizeCalibrationTexts(tokenizer, texts, options);
  const model = dequantizeModel(weights);
  const yielder = createYielder();
  const total = 2 * sequences.length;
  const onWindow = (offset: number) => async (done: number) => {
    if (options.signal?.aborted) throw new CancelledError('calibrate: cancelled');
    options.onProgress?.({ phase: 'evaluate', done: offset + done, total });
    await yielder();
  };
  const before = await evaluateRouting(model, sequences, onWindow(0));
  const after = await evaluateRouting(withRouters(model, routers), sequences, onWindow(sequences.length));
  return { before, after };
}
