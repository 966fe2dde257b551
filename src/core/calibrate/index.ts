/**
 * Router calibration (docs/merge.md "Router calibration"): fit each MoE layer's router to
 * texts labelled by expert, layer by layer on the MoE's own states.
 *
 *   const texts = parseCalibrationJsonl(source, 'cal.jsonl', experts);   // or from Compose
 *   const { routers, record, before, after } = await calibrateMergedModel(weights, tokenizer, texts,
 *     { evaluate: true, onProgress, signal });
 *   runMerge(plan, inputs, writer, { gates: calibratedGates(result.gates, routers), calibration: record })
 *
 * Hosts with a plan call calibrateMerge (merge in memory, fit, the runMerge options) instead.
 */
export {
  calibrateRouters,
  CALIBRATION_METHODS,
  type CalibrationMethod,
  type CalibrationOptions,
  type CalibrationProgress,
  type CalibrationResult,
} from './calibrate.ts';
export {
  calibrateMerge,
  calibratedRunOptions,
  type CalibratedMergeRun,
  type CalibratedRunOptions,
  type CalibrateMergeProgress,
  type CalibrateMergeRunOptions,
} from './calibrate-merge.ts';
export { evaluateRouting, forwardSequence, withRouters, type RoutingEvaluation } from './evaluate.ts';
export {
  calibrateMergedModel,
  calibratedGates,
  withCalibratedRouters,
  calibrationModelCard,
  calibrationYamlComment,
  describeCalibration,
  DEFAULT_CALIBRATION,
  CALIBRATION_WINDOWINGS,
  type CalibrationWindowing,
  type CalibratedMerge,
  type CalibrationRecord,
  type CalibrateMergeOptions,
} from './merged.ts';
export {
  calibrationDataSha256,
  checkCalibrationTexts,
  parseCalibrationJsonl,
  tokenizeCalibrationTexts,
  MAX_CALIBRATION_TEXTS,
  MAX_CALIBRATION_TEXT_CHARS,
  MAX_CALIBRATION_TOKENS,
  type CalibrationSequence,
  type CalibrationText,
} from './texts.ts';
