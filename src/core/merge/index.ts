/**
 * mergekit-moe-compatible frankenMoE merging (specs/mergekit-moe.md), as
 * config → validated plan → streamed execution → writer (STYLE habit 9):
 *
 *   const parsed = parseMergeYaml(text);                       // { ok, config } | { ok: false, issues }
 *   const issues = validateMergeConfig(parsed.config, flags);  // [] when fine (planMerge runs it too)
 *   const inputs = await openMergeInputs(config, resolver);    // config.json + safetensors headers
 *   const planned = planMerge(config, inputs, options);        // { ok, plan } | { ok: false, issues }
 *   const result = await runMerge(plan, inputs, writer, { runtime, onProgress, signal });
 */
export {
  parseMergeYaml,
  parseModelReferenceString,
  formatModelReference,
  modelReferenceKey,
  GATE_MODES,
  OUTPUT_DTYPES,
  type ConfigIssue,
  type ExpertConfig,
  type GateMode,
  type ModelReference,
  type MoeMergeConfig,
  type OutputDType,
  type ParseResult,
} from '../formats/mergekit-yaml.ts';
export { validateMergeConfig, MESSAGES, type ValidateFlags } from './validate.ts';
export {
  selectOutputArchitecture,
  OUTPUT_ARCHITECTURES,
  type OutputArchName,
  type ArchSelection,
} from './architecture.ts';
export {
  openMergeInputs,
  openModel,
  referencedModels,
  type MergeInputs,
  type ModelResolver,
  type OpenedModel,
} from './sources.ts';
export {
  planMerge,
  type MergePlan,
  type MergeLayout,
  type MergekitVersion,
  type PlanOptions,
  type PlanResult,
} from './plan.ts';
export {
  runMerge,
  type MergePhase,
  type MergeProgress,
  type MergeResult,
  type MergeRuntime,
  type RunOptions,
} from './run.ts';
export { folderWriter, memoryWriter, DEFAULT_SHARD_BYTES, type MergeWriter, type MemoryMergeOutput } from './writer.ts';
export { computeGates, tokenizePrompts, type BaseForward, type GateOwner } from './gates.ts';
export { degenerateGateWarnings, powerOfTwoWarning, conditionNumber } from './warnings.ts';
export { createMergeRuntime } from './default-runtime.ts';
