/**
 * Config validation in mergekit's order and with its messages (specs/mergekit-moe.md §3,
 * `moe/config.py is_bad_config`, plus the shared-expert assertion in `scripts/moe.py build`).
 * Returns issues as data; upstream logs and calls sys.exit(1), here the caller decides.
 */
import {
  modelReferenceKey,
  type ConfigIssue,
  type ExpertConfig,
  type MoeMergeConfig,
} from '../formats/mergekit-yaml.ts';

export interface ValidateFlags {
  /** `--i-understand-this-is-not-useful-without-training`: allow every expert to be the same model. */
  allowAllSameModels?: boolean;
}

export const MESSAGES = {
  expertsPerTokenMin: 'Experts per token must be >= 1',
  tooFewExperts: 'Must include at least as many experts as experts_per_token.',
  noPositivePrompts: (i: number) => `Expert ${i} has no positive prompts.`,
  identicalPrompts:
    'Your positive and negative prompts are identical for all experts. This will not produce a functioning MoE.',
  identicalPromptsHelp:
    'For each expert, `positive_prompts` must contain one or more example prompt reflecting what should be routed to that expert.',
  allSameModels:
    'All of your expert models are the same. This will produce a model that uses more resources but gives the exact same output. If you plan to train the model after merging, proceed with the --i-understand-this-is-not-useful-without-training flag.',
  sharedPromptsMix: 'Must specify prompts for all shared experts or none, not a mix',
} as const;

function error(field: string, message: string): ConfigIssue {
  return { field, message, severity: 'error' };
}

/** The identity of an expert's prompts: (tuple(positive), tuple(negative or [])). */
function promptKey(e: ExpertConfig): string {
  return JSON.stringify([e.positivePrompts ?? [], e.negativePrompts ?? []]);
}

/** `is_bad_config`: stops at the first failing rule, like upstream. */
function badConfigIssues(config: MoeMergeConfig, flags: ValidateFlags): ConfigIssue[] {
  const { experts } = config;
  if (config.expertsPerToken < 1) return [error('experts_per_token', MESSAGES.expertsPerTokenMin)];
  if (experts.length < config.expertsPerToken) return [error('experts', MESSAGES.tooFewExperts)];
  // Exact string: `uniform_random` does NOT get this early exit (an upstream quirk we match).
  if (config.gateMode === 'random') return [];
  for (let i = 0; i < experts.length; i++) {
    const prompts = experts[i].positivePrompts;
    if (!prompts || prompts.length === 0)
      return [error(`experts.${i}.positive_prompts`, MESSAGES.noPositivePrompts(i))];
  }
  const first = promptKey(experts[0]);
  if (experts.slice(1).every((e) => promptKey(e) === first)) {
    return [error('experts', MESSAGES.identicalPrompts), error('experts', MESSAGES.identicalPromptsHelp)];
  }
  if (!flags.allowAllSameModels) {
    const model0 = modelReferenceKey(experts[0].sourceModel);
    if (experts.slice(1).every((e) => modelReferenceKey(e.sourceModel) === model0)) {
      return [error('experts', MESSAGES.allSameModels)];
    }
  }
  return [];
}

/** Whether shared experts carry prompts; undefined when they mix (an issue). */
export function sharedExpertsHavePrompts(config: MoeMergeConfig): boolean {
  return (config.sharedExperts ?? []).some((e) => (e.positivePrompts?.length ?? 0) > 0);
}

/**
 * Validates a parsed config before any file I/O. Order: is_bad_config (§3), then the
 * shared-expert all-or-none prompt rule (build's assertion, which also runs for `random`).
 */
export function validateMergeConfig(config: MoeMergeConfig, flags: ValidateFlags = {}): ConfigIssue[] {
  const issues = badConfigIssues(config, flags);
  if (issues.length > 0) return issues;
  const shared = config.sharedExperts ?? [];
  if (shared.length > 0) {
    const has = sharedExpertsHavePrompts(config);
    if (!shared.every((e) => (e.positivePrompts?.length ?? 0) > 0 === has)) {
      return [error('shared_experts', MESSAGES.sharedPromptsMix)];
    }
  }
  return [];
}
