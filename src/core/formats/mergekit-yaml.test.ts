import { describe, expect, it } from 'vitest';
import { parseMergeYaml, parseModelReferenceString, type MoeMergeConfig } from './mergekit-yaml.ts';

function parseOk(text: string): MoeMergeConfig {
  const r = parseMergeYaml(text);
  if (!r.ok) throw new Error(`unexpected issues: ${JSON.stringify(r.issues)}`);
  return r.config;
}

function issuesOf(text: string): string[] {
  const r = parseMergeYaml(text);
  expect(r.ok).toBe(false);
  return r.ok ? [] : r.issues.map((i) => `${i.field}: ${i.message}`);
}

describe('mergekit-moe YAML (conformance rule 1)', () => {
  it('rule 1: resolves anchors, aliases and merge keys as yaml.safe_load does', () => {
    const config = parseOk(`
base_model: org/base
common: &rp ["roleplay", "story"]
expert_defaults: &defaults { noise_scale: 0.5 }
experts:
  - source_model: org/a
    positive_prompts: *rp
    negative_prompts: &code ["python code"]
  - <<: *defaults
    source_model: org/b
    positive_prompts: *code
    negative_prompts: *rp
`);
    expect(config.experts[0]!.positivePrompts).toEqual(['roleplay', 'story']);
    expect(config.experts[1]!.negativePrompts).toEqual(['roleplay', 'story']);
    expect(config.experts[1]!.positivePrompts).toEqual(['python code']);
    expect(config.experts[1]!.noiseScale).toBe(0.5);
  });

  it('rule 1: ignores unknown keys (merge_method, tokenizer_source, misspelt postive_prompts)', () => {
    const config = parseOk(`
base_model: org/base
merge_method: slerp
tokenizer_source: union
experts:
  - source_model: org/a
    postive_prompts: ["x"]
    positive_prompts: ["a"]
`);
    expect(config.experts).toHaveLength(1);
    expect(config.experts[0]!.positivePrompts).toEqual(['a']);
    // ... and says so, with the line and a near miss of a real key
    expect(config.ignoredKeys).toEqual([
      "mergekit-yaml: 'merge_method' (line 3) is not a mergekit-moe key and is ignored, as mergekit ignores it",
      "mergekit-yaml: 'tokenizer_source' (line 4) is not a mergekit-moe key and is ignored, as mergekit ignores it",
      "mergekit-yaml: 'postive_prompts' in experts[0] (line 7) is not a mergekit-moe key and is ignored, as mergekit ignores it; did you mean 'positive_prompts'?",
    ]);
  });

  it('lists no ignored keys for a clean config, and none for merge keys or anchors', () => {
    const config = parseOk(`
base_model: org/base
gate_mode: hidden
experts_per_token: 1
experts:
  - &e { source_model: org/a, positive_prompts: ["a"] }
  - <<: *e
    source_model: org/b
`);
    expect(config.ignoredKeys).toEqual([]);
    const misspelt = parseOk('base_model: org/base\nexperts_per_tokens: 1\nexperts:\n  - source_model: org/a\n');
    expect(misspelt.ignoredKeys).toEqual([
      "mergekit-yaml: 'experts_per_tokens' (line 2) is not a mergekit-moe key and is ignored, as mergekit ignores it; did you mean 'experts_per_token'?",
    ]);
  });

  it('rule 1: rejects a bare string where positive_prompts / negative_prompts must be a list', () => {
    const issues = issuesOf(`
base_model: org/base
experts:
  - source_model: org/a
    positive_prompts: "As a doctor of medicine,"
    negative_prompts: "no"
`);
    expect(issues.some((m) => m.startsWith('experts.0.positive_prompts:') && m.includes('list of strings'))).toBe(true);
    expect(issues.some((m) => m.startsWith('experts.0.negative_prompts:'))).toBe(true);
  });

  it('rule 1: rejects non-string prompt items (pydantic does not coerce int to str)', () => {
    expect(issuesOf('base_model: b\nexperts:\n  - source_model: a\n    positive_prompts: ["ok", 3]\n')[0]).toMatch(
      /^experts\.0\.positive_prompts\.1:/,
    );
  });

  it('rule 1: accepts [""] as a prompt list', () => {
    expect(
      parseOk('base_model: b\nexperts:\n  - source_model: a\n    positive_prompts: [""]\n').experts[0]!.positivePrompts,
    ).toEqual(['']);
  });

  it('rule 1: requires base_model and experts', () => {
    const issues = issuesOf('gate_mode: random\n');
    expect(issues).toContain('base_model: Field required');
    expect(issues).toContain('experts: Field required');
  });
});

describe('defaults (conformance rule 2)', () => {
  it('rule 2: gate_mode=hidden, experts_per_token=2, dtype=null, shared_experts=null, architecture=null', () => {
    const c = parseOk('base_model: org/base\nexperts:\n  - source_model: org/a\n');
    expect(c.gateMode).toBe('hidden');
    expect(c.expertsPerToken).toBe(2);
    expect(c.dtype).toBeNull();
    expect(c.sharedExperts).toBeNull();
    expect(c.architecture).toBeNull();
    expect(c.experts[0]!.positivePrompts).toBeNull();
    expect(c.experts[0]!.noiseScale).toBeNull();
    expect(c.experts[0]!.residualScale).toBeNull();
  });

  it('keeps the input text verbatim for mergekit_moe_config.yml', () => {
    const text = '# my merge\nbase_model: org/base   \nexperts:\n  - source_model: org/a\n';
    expect(parseOk(text).sourceText).toBe(text);
  });
});

describe('model references and dtype', () => {
  it('parses org/name, path@revision and model+lora; more than one @ is an error with upstream wording', () => {
    expect(parseModelReferenceString('org/name')).toEqual({ path: 'org/name' });
    expect(parseModelReferenceString('org/name@v2')).toEqual({ path: 'org/name', revision: 'v2' });
    expect(parseModelReferenceString('org/m+org/lora')).toEqual({ path: 'org/m', lora: 'org/lora' });
    expect(parseModelReferenceString('a@b@c')).toBe('Invalid model path - multiple @: a@b@c');
  });

  it('accepts the dict form {model: {path, revision}}', () => {
    const c = parseOk(
      'base_model:\n  model:\n    path: org/base\n    revision: main\nexperts:\n  - source_model: {model: org/a@r1}\n',
    );
    expect(c.baseModel).toEqual({ path: 'org/base', revision: 'main' });
    expect(c.experts[0]!.sourceModel).toEqual({ path: 'org/a', revision: 'r1' });
  });

  it('rule 19: dtype accepts bfloat16/float16/float32/int64 with an optional torch. prefix; anything else is an issue', () => {
    expect(parseOk('base_model: b\nexperts: [{source_model: a}]\ndtype: torch.float16\n').dtype).toBe('float16');
    expect(parseOk('base_model: b\nexperts: [{source_model: a}]\ndtype: bfloat16\n').dtype).toBe('bfloat16');
    expect(issuesOf('base_model: b\nexperts: [{source_model: a}]\ndtype: bf16\n')[0]).toMatch(
      /^dtype: Unimplemented dtype "bf16"/,
    );
  });

  it('gate_mode is a literal union: unknown modes are an issue (extension: upstream crashes later)', () => {
    for (const mode of ['hidden', 'hidden_last', 'hidden_avg', 'cheap_embed', 'random', 'uniform_random']) {
      expect(parseOk(`base_model: b\nexperts: [{source_model: a}]\ngate_mode: ${mode}\n`).gateMode).toBe(mode);
    }
    expect(issuesOf('base_model: b\nexperts: [{source_model: a}]\ngate_mode: orthogonal\n')[0]).toMatch(
      /^gate_mode: Unknown gate_mode "orthogonal"/,
    );
  });

  it('experts_per_token takes integers and integer strings (pydantic lax), not fractions', () => {
    expect(parseOk('base_model: b\nexperts: [{source_model: a}]\nexperts_per_token: "3"\n').expertsPerToken).toBe(3);
    expect(issuesOf('base_model: b\nexperts: [{source_model: a}]\nexperts_per_token: 1.5\n')[0]).toMatch(
      /^experts_per_token:/,
    );
  });

  it('reports invalid YAML as an issue, not a throw', () => {
    expect(issuesOf('base_model: [unclosed\n')[0]).toMatch(/not valid YAML/);
  });
});

describe('limits', () => {
  it('refuses a YAML alias bomb instead of expanding it (YAML_MAX_ALIAS_COUNT)', () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++)
      levels.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(',')}]`,
      );
    expect(issuesOf(`${levels.join('\n')}\nbase_model: b\nexperts: [{source_model: x}]\n`)[0]).toMatch(
      /not valid YAML/,
    );
  });

  it('reports a self-referencing alias as an issue (no "Converting circular structure to JSON")', () => {
    expect(issuesOf('base_model: &a [*a]\nexperts: [{source_model: x}]\n')[0]).toMatch(
      /base_model\.0 contains itself \(a YAML alias refers to its own anchor\)/,
    );
    expect(issuesOf('experts: &e [{source_model: x, positive_prompts: *e}]\nbase_model: b\n')[0]).toMatch(
      /contains itself/,
    );
  });

  it('reports nesting deeper than YAML_MAX_DEPTH as an issue', () => {
    expect(issuesOf(`base_model: ${'['.repeat(200)}${']'.repeat(200)}\nexperts: []\n`)[0]).toMatch(
      /nests deeper than 64 levels/,
    );
  });

  it('walks a shared alias once (a DAG of aliases stays linear)', () => {
    const lines = ['a0: &a0 [x, y]'];
    for (let i = 1; i < 40; i++) lines.push(`a${i}: &a${i} [*a${i - 1}, *a${i - 1}]`);
    const started = performance.now();
    issuesOf(`${lines.join('\n')}\nbase_model: b\nexperts: [{source_model: x}]\n`);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
