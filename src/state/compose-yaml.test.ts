import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatModelReference, parseMergeYaml } from '../core/formats/mergekit-yaml.ts';
import { configToForm, formToYaml, locateIssues, type ComposeForm } from './compose-yaml.ts';

const form: ComposeForm = {
  base: 'zoo/base',
  experts: [
    {
      model: 'zoo/stories',
      positive: ['Once upon a time', 'The little dog'],
      negative: [],
      noiseScale: '',
      residualScale: '',
    },
    {
      model: 'zoo/code',
      positive: ['def main():\n    return 1\n', 'x = "quoted"'],
      negative: ['Once upon a time'],
      noiseScale: '0.01',
      residualScale: '',
    },
  ],
  gateMode: 'hidden',
  expertsPerToken: 2,
  architecture: 'Mixtral',
  dtype: 'float32',
};

const ZOO = join(import.meta.dirname, '..', '..', 'public', 'zoo');

describe('compose form ⇄ YAML', () => {
  it('writes mergekit keys that parse back to the same form', () => {
    const yaml = formToYaml(form);
    expect(yaml.split('\n')[0]).toBe('base_model: zoo/base');
    const parsed = parseMergeYaml(yaml);
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(configToForm(parsed.config)).toEqual(form);
  });

  it('keeps multi-line prompts whole and drops empty ones', () => {
    const parsed = parseMergeYaml(
      formToYaml({ ...form, experts: [{ ...form.experts[1], positive: ['a\nb', '', 'c'] }] }),
    );
    expect(parsed.ok && parsed.config.experts[0].positivePrompts).toEqual(['a\nb', 'c']);
  });

  it('points a schema issue at the line of its field', () => {
    const yaml = 'base_model: zoo/base\nexperts:\n  - source_model: zoo/a\n    positive_prompts: "just a string"\n';
    const parsed = parseMergeYaml(yaml);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    const located = locateIssues(yaml, parsed.issues);
    const issue = located.find((i) => i.field === 'experts.0.positive_prompts');
    expect(issue?.line).toBe(4);
  });

  it('points a YAML syntax error at its line', () => {
    const yaml = 'base_model: zoo/base\nexperts:\n  - source_model: [unclosed\n';
    const parsed = parseMergeYaml(yaml);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(locateIssues(yaml, parsed.issues)[0].line).toBeGreaterThanOrEqual(3);
  });

  describe('every mergekit-moe key round-trips through the form (specs/mergekit-moe.md §2)', () => {
    /** Every key of MoEMergeConfig and Expert, spellings the form normalises, comments, and keys mergekit ignores. */
    const EVERY_KEY = [
      '# a recipe with every mergekit-moe key',
      'base_model: org/base@main',
      'gate_mode: hidden_avg # averaged over the prompt',
      'dtype: torch.bfloat16',
      'experts_per_token: 2',
      'architecture: qwen',
      'tokenizer_source: base',
      'chat_template: chatml',
      'experts:',
      '  - source_model: org/stories',
      '    positive_prompts:',
      '      - "Once upon a time"',
      '      - |-',
      '        def main():',
      '            return 1',
      '    negative_prompts: ["12 + 7 ="]',
      '    noise_scale: 0.01',
      '    residual_scale: 0.5',
      '    postive_prompts: ["typo"]',
      '  - source_model: org/code+lora',
      '    positive_prompts: [code, "line 1\\nline 2"]',
      'shared_experts:',
      '  - source_model: org/math',
      '    positive_prompts: ["1 + 1"]',
      '    negative_prompts: ["Once"]',
      '    noise_scale: 0.02',
      '    residual_scale: 0.1',
      'merge_method: moe',
      '',
    ].join('\n');
    const parse = (yaml: string) => {
      const parsed = parseMergeYaml(yaml);
      if (!parsed.ok) throw new Error(parsed.issues.map((i) => i.message).join('; '));
      return parsed.config;
    };

    it('an unchanged form gives back the YAML byte for byte', () => {
      expect(formToYaml(configToForm(parse(EVERY_KEY)), EVERY_KEY)).toBe(EVERY_KEY);
    });

    it.each(readdirSync(ZOO).filter((f) => f.endsWith('.yml')))(
      'the zoo example %s (escaped multi-line prompts) comes back byte for byte, and an edit changes one line',
      (name) => {
        const yaml = readFileSync(join(ZOO, name), 'utf8');
        const form = configToForm(parse(yaml));
        expect(formToYaml(form, yaml)).toBe(yaml);
        const edited = formToYaml({ ...form, expertsPerToken: 1 }, yaml).split('\n');
        const changed = yaml.split('\n').filter((line, i) => line !== edited[i]);
        expect(changed).toEqual(['experts_per_token: 2']);
      },
    );

    it('the keys mergekit ignores are listed as ignored, with their line and a did-you-mean', () => {
      const ignored = parse(EVERY_KEY).ignoredKeys.join('\n');
      expect(ignored).toContain("'tokenizer_source' (line 7) is not a mergekit-moe key and is ignored");
      expect(ignored).toContain("'chat_template' (line 8)");
      expect(ignored).toContain("'merge_method' (line 28)");
      expect(ignored).toContain(
        "'postive_prompts' in experts[0] (line 19) is not a mergekit-moe key and is ignored, as mergekit ignores it; did you mean 'positive_prompts'?",
      );
      expect(parse(EVERY_KEY).ignoredKeys).toHaveLength(4);
    });

    it('an edit rewrites only the line it changed; everything else stays as written', () => {
      const form = configToForm(parse(EVERY_KEY));
      const edited = formToYaml({ ...form, expertsPerToken: 1 }, EVERY_KEY);
      const diff = edited
        .split('\n')
        .map((line, i) => [line, EVERY_KEY.split('\n')[i]])
        .filter(([a, b]) => a !== b);
      expect(diff).toEqual([['experts_per_token: 1', 'experts_per_token: 2']]);
      // and a change of one expert's field changes that field only
      const noise = formToYaml(
        { ...form, experts: form.experts.map((e, i) => (i === 1 ? { ...e, noiseScale: '0.3' } : e)) },
        EVERY_KEY,
      );
      expect(noise).toBe(EVERY_KEY.replace('"line 1\\nline 2"]\n', '"line 1\\nline 2"]\n    noise_scale: 0.3\n'));
      const config = parse(noise);
      expect(config.sharedExperts).toEqual(parse(EVERY_KEY).sharedExperts);
      expect(config.architecture).toBe('qwen');
      expect(config.experts[1]!.noiseScale).toBe(0.3);
      // a prompt list written [in flow style] stays one
      const prompt = formToYaml(
        { ...form, experts: form.experts.map((e, i) => (i === 1 ? { ...e, positive: ['code', 'more'] } : e)) },
        EVERY_KEY,
      );
      expect(prompt).toBe(EVERY_KEY.replace('[code, "line 1\\nline 2"]', '[code, more]'));
    });

    it('removing an expert deletes it where it was and keeps the others, shared experts and ignored keys', () => {
      const form = configToForm(parse(EVERY_KEY));
      const yaml = formToYaml({ ...form, experts: form.experts.slice(1) }, EVERY_KEY);
      const config = parse(yaml);
      expect(config.experts.map((e) => formatModelReference(e.sourceModel))).toEqual(['org/code+lora']);
      expect(config.sharedExperts).toEqual(parse(EVERY_KEY).sharedExperts);
      expect(yaml).toContain('tokenizer_source: base');
      expect(yaml).toContain('# a recipe with every mergekit-moe key');
      expect(yaml).not.toContain('postive_prompts'); // it belonged to the removed expert
    });

    it('an expert added to an empty list is written as a block, not a flow list', () => {
      const yaml = formToYaml({ ...form, experts: [form.experts[0]!] }, 'base_model: zoo/base\nexperts: []\n');
      expect(yaml).toContain('experts:\n  - source_model: zoo/stories\n');
    });

    it('without the YAML it came from, the form alone cannot keep shared_experts or ignored keys', () => {
      const fresh = formToYaml(configToForm(parse(EVERY_KEY)));
      expect(fresh).not.toContain('shared_experts');
      expect(fresh).not.toContain('tokenizer_source');
      expect(parse(fresh).architecture).toBe('qwen'); // the form keeps the architecture as written
    });
  });
});
