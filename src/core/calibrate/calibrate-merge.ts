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
import type { RoutingEvaluation } from './evaluate.ts';
import {
  calibratedGates,
  calibrateMergedModel,
  calibrationModelCard,
  calibrationYamlComment,
  type CalibrateMergeOptions,
  type CalibrationRecord,
} from './merged.ts';
import type { CalibrationText } from './texts.ts';

/** Typed progress of calibrateMerge: the in-memory merge (bytes), the evaluation (windows), the fit phases. */
export type CalibrateMergeProgress =
  | CalibrationProgress
  | { phase: 'merge'; done: number; total: number } // tensor bytes
  | { phase: 'evaluate'; done: number; total: number }; // windows

export interface CalibrateMergeRunOptions extends Omit<CalibrateMergeOptions, 'onProgress'> {
  runtime?: MergeRuntime;
  onProgress?: (p: CalibrateMergeProgress) => void;
}

/** The runMerge options a calibrated build passes (spread into RunOptions). */
export type CalibratedRunOptions = Pick<RunOptions, 'gates' | 'configYamlComment' | 'modelCard'>;

export interface CalibratedMergeRun {
  runOptions: CalibratedRunOptions;
  record: CalibrationRecord;
  /** With evaluate: routing on the calibration windows with the merged gates and with the calibrated ones. */
  before?: RoutingEvaluation;
  after?: RoutingEvaluation;
}

/** The model card of a calibrated merge (README.md). */
export function calibratedModelCard(record: CalibrationRecord): string {
  return `# frankenMoE merged by moe-studio merge\n\nmergekit-moe config: mergekit_moe_config.yml.\n\n${calibrationModelCard(record)}`;
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
    modelCard: calibratedModelCard(record),
  };
}

/** Merges `plan` into memory once and fits its routers to `texts`; the merge itself is left to the caller. */
export async function calibrateMerge(
  plan: MergePlan,
  inputs: MergeInputs,
  texts: CalibrationText[],
  options: CalibrateMergeRunOptions = {},
): Promise<CalibratedMergeRun> {
  const { runtime, onProgress, signal, ...calibration } = options;
  const memory = memoryWriter();
  const merged = await runMerge(plan, inputs, memory, {
    runtime: runtime ?? createMergeRuntime(),
    signal,
    onProgress: (p) => onProgress?.({ phase: 'merge', done: p.bytesDone, total: p.bytesTotal }),
  });
  if (signal?.aborted) throw new CancelledError('calibrate: cancelled');
  const model = await mergedModelWeights(plan, memory.output);
  if (!model.tokenizer) throw new ConfigError('calibrate: the base model has no tokenizer.json to read the texts with');
  // evaluateRouting takes no signal: its window callback (calibrateMergedModel passes our
  // onProgress's promise on to it) yields, so a cancel message can land in a worker, and
  // throws once the signal is aborted.
  const yielder = createYielder();
  const fitted = await calibrateMergedModel(model.weights, model.tokenizer, texts, {
    ...calibration,
    signal,
    onProgress: (p) => {
      if (p.phase === 'evaluate' && signal?.aborted) throw new CancelledError('calibrate: cancelled');
      onProgress?.(p);
      if (p.phase === 'evaluate') return yielder();
    },
  });
  if (signal?.aborted) throw new CancelledError('calibrate: cancelled');
  return {
    runOptions: calibratedRunOptions(merged.gates, fitted.routers, fitted.record),
    record: fitted.record,
    before: fitted.before,
    after: fitted.after,
  };
}
