/**
 * Compose form ⇄ mergekit-moe YAML. The form writes YAML in mergekit's key order (so the
 * file loads in mergekit-moe unchanged); YAML is parsed by parseMergeYaml and issues
 * are mapped back to the line of the field they name.
 */
import { LineCounter, parseDocument, stringify } from 'yaml';
import type { ConfigIssue, GateMode, MoeMergeConfig, OutputDType } from '../core/formats/mergekit-yaml.ts';
import { formatModelReference } from '../core/formats/mergekit-yaml.ts';

export interface ExpertForm {
  model: string;
  /** Each prompt verbatim (prompts may span lines, as code prompts do); '' entries are dropped. */
  positive: string[];
  negative: string[];
  noiseScale: string;
  residualScale: string;
}

export interface ComposeForm {
  base: string;
  experts: ExpertForm[];
  gateMode: GateMode;
  expertsPerToken: number;
  architecture: '' | 'Mixtral' | 'DeepSeek MoE' | 'Qwen MoE' | 'Qwen3 MoE';
  dtype: '' | OutputDType;
}

const prompts = (list: string[]) => list.filter((p) => p.trim() !== '');

export function formToYaml(form: ComposeForm): string {
  const doc: Record<string, unknown> = { base_model: form.base, gate_mode: form.gateMode };
  if (form.dtype) doc.dtype = form.dtype;
  doc.experts_per_token = form.expertsPerToken;
  if (form.architecture) doc.architecture = form.architecture;
  doc.experts = form.experts.map((e) => {
    const out: Record<string, unknown> = { source_model: e.model };
    if (prompts(e.positive).length) out.positive_prompts = prompts(e.positive);
    if (prompts(e.negative).length) out.negative_prompts = prompts(e.negative);
    if (e.noiseScale.trim()) out.noise_scale = Number(e.noiseScale);
    if (e.residualScale.trim()) out.residual_scale = Number(e.residualScale);
    return out;
  });
  return stringify(doc, { lineWidth: 0 });
}

export function configToForm(config: MoeMergeConfig): ComposeForm {
  const arch = config.architecture ?? '';
  return {
    base: formatModelReference(config.baseModel),
    experts: config.experts.map((e) => ({
      model: formatModelReference(e.sourceModel),
      positive: [...(e.positivePrompts ?? [])],
      negative: [...(e.negativePrompts ?? [])],
      noiseScale: e.noiseScale === null ? '' : String(e.noiseScale),
      residualScale: e.residualScale === null ? '' : String(e.residualScale),
    })),
    gateMode: config.gateMode,
    expertsPerToken: config.expertsPerToken,
    architecture: (['Mixtral', 'DeepSeek MoE', 'Qwen MoE', 'Qwen3 MoE'].includes(arch)
      ? arch
      : '') as ComposeForm['architecture'],
    dtype: config.dtype ?? '',
  };
}

export interface LocatedIssue extends ConfigIssue {
  /** 1-based line in the YAML text, when the field (or a parse error) can be located. */
  line?: number;
}

/** Finds the line of each issue's dotted field path (`experts.1.positive_prompts`). */
export function locateIssues(text: string, issues: ConfigIssue[]): LocatedIssue[] {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, version: '1.1', merge: true });
  const parseError = doc.errors[0];
  return issues.map((issue) => {
    if (parseError && issue.field === '') return { ...issue, line: parseError.linePos?.[0].line };
    if (!issue.field) return issue;
    const path = issue.field.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p));
    for (let n = path.length; n > 0; n--) {
      const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node?.range) return { ...issue, line: counter.linePos(node.range[0]).line };
      const parent = doc.getIn(path.slice(0, n - 1), true) as
        | { items?: { key?: { value?: unknown; range?: [number, number, number] } }[] }
        | undefined;
      const keyNode = parent?.items?.find((item) => item.key?.value === path[n - 1])?.key;
      if (keyNode?.range) return { ...issue, line: counter.linePos(keyNode.range[0]).line };
    }
    return issue;
  });
}
