/**
 * One call for hosts (the merge worker, UI state): YAML text → parse → open → plan → run
 * into memory → ModelWeights for the engine. Issues come back as a ConfigError whose message
 * lists them (it crosses comlink by name).
 */
import { ConfigError } from '../errors.ts';
import { parseMergeYaml, type ConfigIssue } from '../formats/mergekit-yaml.ts';
import { createMergeRuntime } from './default-runtime.ts';
import { mergedModelWeights, type MergedModel } from './memory-model.ts';
import { planMerge, type MergePlan, type PlanOptions } from './plan.ts';
import { runMerge, type MergeProgress, type MergeResult, type MergeRuntime } from './run.ts';
import { openMergeInputs, type ModelResolver } from './sources.ts';
import { memoryWriter, type MemoryMergeOutput } from './writer.ts';
import { exportOnlyReason } from './architecture.ts';

export interface BuildOptions extends PlanOptions {
  runtime?: MergeRuntime;
  onProgress?: (p: MergeProgress) => void;
  signal?: AbortSignal;
}

export interface BuiltMerge {
  plan: MergePlan;
  result: MergeResult;
  output: MemoryMergeOutput;
  /** Set for engine-runnable outputs (not exportOnlyReason: Mixtral, Qwen MoE, Qwen3 MoE). */
  model?: MergedModel;
}

function issuesError(issues: ConfigIssue[]): ConfigError {
  return new ConfigError(issues.map((i) => (i.field ? `${i.field}: ${i.message}` : i.message)).join('\n'));
}

export async function buildMergeInMemory(
  yaml: string,
  resolve: ModelResolver,
  options: BuildOptions = {},
): Promise<BuiltMerge> {
  const parsed = parseMergeYaml(yaml);
  if (!parsed.ok) throw issuesError(parsed.issues);
  const inputs = await openMergeInputs(parsed.config, resolve);
  const planned = planMerge(parsed.config, inputs, options);
  if (!planned.ok) throw issuesError(planned.issues);
  const writer = memoryWriter();
  const result = await runMerge(planned.plan, inputs, writer, {
    runtime: options.runtime ?? createMergeRuntime(),
    onProgress: options.onProgress,
    signal: options.signal,
  });
  const built: BuiltMerge = { plan: planned.plan, result, output: writer.output };
  if (exportOnlyReason(planned.plan.arch) === undefined)
    built.model = await mergedModelWeights(planned.plan, writer.output);
  return built;
}
