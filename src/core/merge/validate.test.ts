import { describe, expect, it } from 'vitest';
import { parseMergeYaml, type MoeMergeConfig } from '../formats/mergekit-yaml.ts';
import { selectOutputArchitecture, type InputModelTypes } from './architecture.ts';
import { MESSAGES, validateMergeConfig } from './validate.ts';
import { powerOfTwoWarning } from './warnings.ts';

function config(text: string): MoeMergeConfig {
  const r = parseMergeYaml(text);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
}

const messages = (c: MoeMergeConfig, flags = {}) => validateMergeConfig(c, flags).map((i) => i.message);

const TWO_EXPERTS = `base_model: org/base
experts:
  - source_model: org/a
    positive_prompts: ["story"]
  - source_model: org/b
    positive_prompts: ["code"]
`;

describe('validation order and messages (conformance rule 3)', () => {
  it('rule 3: experts_per_token < 1 → "Experts per token must be >= 1" (checked first)', () => {
    expect(messages(config(`${TWO_EXPERTS}experts_per_token: 0\n`))).toEqual([MESSAGES.expertsPerTokenMin]);
    expect(MESSAGES.expertsPerTokenMin).toBe('Experts per token must be >= 1');
  });

  it('rule 3: fewer experts than experts_per_token → upstream message; an empty list fails here', () => {
    expect(messages(config(`${TWO_EXPERTS}experts_per_token: 3\n`))).toEqual([
      'Must include at least as many experts as experts_per_token.',
    ]);
    expect(messages(config('base_model: b\nexperts: []\n'))).toEqual([
      'Must include at least as many experts as experts_per_token.',
    ]);
  });

  it('rule 3: an expert without positive prompts → "Expert {i} has no positive prompts." (null and [] alike)', () => {
    const c = config(
      'base_model: b\nexperts:\n  - source_model: a\n    positive_prompts: ["x"]\n  - source_model: c\n    positive_prompts: []\n',
    );
    expect(messages(c)).toEqual(['Expert 1 has no positive prompts.']);
    const d = config(
      'base_model: b\nexperts:\n  - source_model: a\n  - source_model: c\n    positive_prompts: ["x"]\n',
    );
    expect(messages(d)).toEqual(['Expert 0 has no positive prompts.']);
  });

  it('rule 3: identical (positive, negative) prompts for all experts → the two upstream lines', () => {
    const c = config(
      'base_model: b\nexperts:\n  - source_model: a\n    positive_prompts: [""]\n  - source_model: c\n    positive_prompts: [""]\n    negative_prompts: []\n',
    );
    expect(messages(c)).toEqual([
      'Your positive and negative prompts are identical for all experts. This will not produce a functioning MoE.',
      'For each expert, `positive_prompts` must contain one or more example prompt reflecting what should be routed to that expert.',
    ]);
  });

  it('rule 3: a single expert fails the identical-prompts test (vacuously true) unless the mode is random', () => {
    const one = 'base_model: b\nexperts_per_token: 1\nexperts:\n  - source_model: a\n    positive_prompts: ["x"]\n';
    expect(messages(config(one))[0]).toBe(MESSAGES.identicalPrompts);
    expect(messages(config(`${one}gate_mode: random\n`))).toEqual([]);
  });

  it('rule 3: random skips the prompt and same-model checks; uniform_random does not', () => {
    const noPrompts = 'base_model: b\nexperts:\n  - source_model: a\n  - source_model: a\n';
    expect(messages(config(`${noPrompts}gate_mode: random\n`))).toEqual([]);
    expect(messages(config(`${noPrompts}gate_mode: uniform_random\n`))).toEqual(['Expert 0 has no positive prompts.']);
  });

  it('rule 3: the first failing rule is the only one reported', () => {
    const c = config('base_model: b\nexperts_per_token: 5\nexperts:\n  - source_model: a\n');
    expect(messages(c)).toHaveLength(1);
  });
});

describe('all-same-model check (conformance rule 4)', () => {
  const same =
    'base_model: b\nexperts:\n  - source_model: org/m\n    positive_prompts: ["x"]\n  - source_model: org/m\n    positive_prompts: ["y"]\n';

  it('rule 4: all experts the same model → upstream message, bypassed only by the flag', () => {
    expect(messages(config(same))).toEqual([MESSAGES.allSameModels]);
    expect(MESSAGES.allSameModels).toContain('--i-understand-this-is-not-useful-without-training');
    expect(messages(config(same), { allowAllSameModels: true })).toEqual([]);
  });

  it('rule 4: references compare as strings: a revision or a different spelling makes a different model', () => {
    const rev = same.replace(
      'source_model: org/m\n    positive_prompts: ["y"]',
      'source_model: org/m@v2\n    positive_prompts: ["y"]',
    );
    expect(messages(config(rev))).toEqual([]);
    const dot = same.replace(
      'source_model: org/m\n    positive_prompts: ["y"]',
      'source_model: ./org/m\n    positive_prompts: ["y"]',
    );
    expect(messages(config(dot))).toEqual([]);
  });
});

describe('shared experts (conformance rule 5)', () => {
  it('rule 5: prompts for all shared experts or none, not a mix (also in random mode)', () => {
    const mixed = `${TWO_EXPERTS}shared_experts:\n  - source_model: org/base\n    positive_prompts: ["x"]\n  - source_model: org/a\n`;
    expect(messages(config(mixed))).toEqual(['Must specify prompts for all shared experts or none, not a mix']);
    expect(messages(config(`${mixed}gate_mode: random\n`))).toEqual([
      'Must specify prompts for all shared experts or none, not a mix',
    ]);
    const none = `${TWO_EXPERTS}shared_experts:\n  - source_model: org/base\n`;
    expect(messages(config(none))).toEqual([]);
  });
});

const LLAMA: InputModelTypes = { base: 'llama', experts: ['llama', 'llama'], shared: [] };

function pick(text: string, types: InputModelTypes): string {
  const r = selectOutputArchitecture(config(text), types);
  return r.ok ? r.arch : `error: ${r.issues[0]!.message.split('\n')[0]}`;
}

describe('output architecture (conformance rules 6, 7)', () => {
  const shared = `${TWO_EXPERTS}shared_experts:\n  - source_model: org/base\n`;
  const sharedPrompted = `${shared}    positive_prompts: ["general"]\n`;
  const withShared: InputModelTypes = { ...LLAMA, shared: ['llama'] };

  it('rule 6: `architecture` is a case-insensitive prefix match ("qwen" matches both Qwen outputs)', () => {
    expect(pick(`${TWO_EXPERTS}architecture: MIX\n`, LLAMA)).toBe('Mixtral');
    expect(pick(`${sharedPrompted}architecture: qwen\n`, withShared)).toBe('Qwen MoE');
    const r = selectOutputArchitecture(config(`${TWO_EXPERTS}architecture: gemma\n`), LLAMA);
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.issues[0]!.message).toBe(
        'No output architecture found that matches the given architecture: gemma\nAll supported output architectures:\n  * Mixtral\n  * DeepSeek MoE\n  * Qwen MoE\n  * Qwen3 MoE',
      );
  });

  it('rule 7: the §5 decision table', () => {
    expect(pick(TWO_EXPERTS, LLAMA)).toBe('Mixtral');
    expect(pick(TWO_EXPERTS, { base: 'mistral', experts: ['mistral', 'mistral'], shared: [] })).toBe('Mixtral');
    expect(pick(shared, withShared)).toBe('DeepSeek MoE');
    expect(pick(sharedPrompted, withShared)).toBe('Qwen MoE');
    expect(pick(`${shared}gate_mode: random\n`, withShared)).toBe('DeepSeek MoE');
    expect(pick(TWO_EXPERTS, { base: 'qwen2', experts: ['qwen2', 'qwen2'], shared: [] })).toBe(
      'error: No output architecture found that is compatible with the given models.',
    );
    expect(pick(sharedPrompted, { base: 'qwen2', experts: ['qwen2', 'qwen2'], shared: ['qwen2'] })).toBe('Qwen MoE');
    expect(pick(TWO_EXPERTS, { base: 'qwen3', experts: ['qwen3', 'qwen3'], shared: [] })).toBe('Qwen3 MoE');
    expect(pick(TWO_EXPERTS, { base: 'gemma', experts: ['gemma', 'gemma'], shared: [] })).toMatch(
      /^error: No output architecture found that is compatible/,
    );
    expect(pick(TWO_EXPERTS, { base: 'llama', experts: ['mistral', 'llama'], shared: [] })).toMatch(/^error:/);
  });

  it('rule 7: random with an unprompted shared expert warns "Multiple…" and defaults to DeepSeek', () => {
    const r = selectOutputArchitecture(config(`${shared}gate_mode: random\n`), withShared);
    expect(r.ok && r.warnings).toEqual([
      'Multiple output architectures found that are compatible with the given models.',
      'Defaulting to DeepSeek MoE',
    ]);
  });

  it('rule 7: when nothing fits, the error lists the supported architectures and why each refused', () => {
    const r = selectOutputArchitecture(config(TWO_EXPERTS), { base: 'qwen2', experts: ['qwen2', 'qwen2'], shared: [] });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.issues[0]!.message.split('\n')).toEqual([
        'No output architecture found that is compatible with the given models.',
        'All supported output architectures:',
        '  * Mixtral',
        '  * DeepSeek MoE',
        '  * Qwen MoE',
        '  * Qwen3 MoE',
        'Output architecture Mixtral does not support config: Mixtral requires all input models to be Llama or Mistral models',
        'Output architecture DeepSeek MoE does not support config: Deepseek MoE requires all input models to be Llama or Mistral models',
        'Output architecture Qwen MoE does not support config: Qwen MoE merge requires exactly one shared expert',
        'Output architecture Qwen3 MoE does not support config: Qwen3 MoE only supports Qwen3 input models',
      ]);
    }
  });

  it('rule 7: each refusal carries upstream explain message', () => {
    const r = selectOutputArchitecture(config(sharedPrompted), withShared);
    expect(r.refusals).toEqual({
      Mixtral: 'Mixtral does not support shared experts',
      'DeepSeek MoE': 'DeepSeek MoE merge does not support gating shared experts',
      'Qwen3 MoE': 'Qwen3 MoE merge does not support shared experts',
    });
    const q = selectOutputArchitecture(
      config(`${shared}gate_mode: uniform_random\narchitecture: qwen moe\n`),
      withShared,
    );
    expect(q.ok).toBe(false);
    expect(q.refusals['Qwen MoE']).toBe('Qwen MoE requires the shared expert to have prompts');
  });
});

describe('power-of-two warning (conformance rule 33)', () => {
  it('rule 33: warns for expert counts that are not a power of two, with upstream wording', () => {
    expect(powerOfTwoWarning(3)).toBe(
      'Your model has 3 experts, which is not a power of two. The model will not be usable in llama.cpp.',
    );
    expect(powerOfTwoWarning(4)).toBeUndefined();
    expect(powerOfTwoWarning(1)).toBeUndefined();
    expect(powerOfTwoWarning(6)).toMatch(/6 experts/);
  });
});
