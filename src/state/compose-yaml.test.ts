import { describe, expect, it } from 'vitest';
import { parseMergeYaml } from '../core/formats/mergekit-yaml.ts';
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
});
