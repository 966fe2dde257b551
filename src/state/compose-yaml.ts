/**
 * Compose form ⇄ mergekit-moe YAML. The form writes YAML in mergekit's key order (so the
 * file loads in mergekit-moe unchanged); YAML is parsed by parseMergeYaml and issues
 * are mapped back to the line of the field they name. An edit in the form rewrites only the
 * keys it changed in the YAML it came from (formToYaml's `previous`): keys the form has no
 * field for (`shared_experts`, keys mergekit ignores), comments and spellings the form
 * normalises (`architecture: qwen`, `dtype: torch.bfloat16`) stay as written.
 */
import { type Document, isMap, isSeq, LineCounter, parseDocument, stringify } from 'yaml';
import type { ConfigIssue, GateMode, MoeMergeConfig, OutputDType } from '../core/formats/mergekit-yaml.ts';
import { formatModelReference, parseMergeYaml } from '../core/formats/mergekit-yaml.ts';

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
  /**
   * '' = automatic; the Compose select offers mergekit's four names, and any other text the YAML
   * holds (mergekit matches a case-insensitive prefix: `qwen`) is kept as written.
   */
  architecture: string;
  dtype: '' | OutputDType;
}

const prompts = (list: string[]) => list.filter((p) => p.trim() !== '');

/** The mergekit keys of one expert, as the form writes them. */
function expertYaml(e: ExpertForm): Record<string, unknown> {
  const out: Record<string, unknown> = { source_model: e.model };
  if (prompts(e.positive).length) out.positive_prompts = prompts(e.positive);
  if (prompts(e.negative).length) out.negative_prompts = prompts(e.negative);
  if (e.noiseScale.trim()) out.noise_scale = Number(e.noiseScale);
  if (e.residualScale.trim()) out.residual_scale = Number(e.residualScale);
  return out;
}

/** The form's top-level keys, in mergekit's order; `undefined` = the key is absent. */
function topYaml(form: ComposeForm): Record<string, unknown> {
  return {
    base_model: form.base,
    gate_mode: form.gateMode,
    dtype: form.dtype || undefined,
    experts_per_token: form.expertsPerToken,
    architecture: form.architecture || undefined,
  };
}

const EXPERT_KEYS = ['source_model', 'positive_prompts', 'negative_prompts', 'noise_scale', 'residual_scale'] as const;
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The YAML of a form. With `previous` (the YAML the form was parsed from, when it parses),
 * only the keys whose form value changed are rewritten there; everything else is kept as
 * written, so an unchanged form gives back `previous` byte for byte.
 */
export function formToYaml(form: ComposeForm, previous?: string): string {
  const edited = previous === undefined ? undefined : editInPlace(form, previous);
  if (edited !== undefined) return edited;
  const top = Object.fromEntries(Object.entries(topYaml(form)).filter(([, v]) => v !== undefined));
  return stringify({ ...top, experts: form.experts.map(expertYaml) }, { lineWidth: 0 });
}

function editInPlace(form: ComposeForm, previous: string): string | undefined {
  const parsed = parseMergeYaml(previous);
  if (!parsed.ok) return undefined;
  const doc = parseDocument(previous, { version: '1.1', merge: true });
  if (doc.errors.length || !isMap(doc.contents)) return undefined;
  const before = configToForm(parsed.config);
  const [was, now] = [topYaml(before), topYaml(form)];
  for (const key of Object.keys(now))
    if (!same(was[key], now[key])) now[key] === undefined ? doc.delete(key) : doc.set(key, now[key]);
  editExperts(doc, before.experts, form.experts);
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false, doubleQuotedAsJSON: true });
}

/** Experts edited in place: one removed is deleted where it was; otherwise each index keeps its node. */
function editExperts(doc: Document, was: ExpertForm[], now: ExpertForm[]): void {
  const seq = doc.get('experts', true);
  if (!isSeq(seq) || seq.flow || seq.items.length !== was.length || seq.items.length === 0) {
    if (!same(was, now)) doc.set('experts', doc.createNode(now.map(expertYaml)));
    return;
  }
  const removed = was.findIndex((_, i) => same([...was.slice(0, i), ...was.slice(i + 1)], now));
  if (now.length === was.length - 1 && removed >= 0) return void seq.delete(removed);
  for (let i = was.length - 1; i >= now.length; i--) seq.delete(i);
  now.forEach((e, i) => {
    const node = seq.items[i];
    if (!isMap(node)) {
      // a new expert at the end (or an alias, which is replaced by what it now says)
      if (i < seq.items.length) seq.set(i, doc.createNode(expertYaml(e)));
      else seq.add(doc.createNode(expertYaml(e)));
      return;
    }
    const [a, b] = [expertYaml(was[i]!), expertYaml(e)];
    for (const key of EXPERT_KEYS) {
      if (same(a[key], b[key])) continue;
      if (b[key] === undefined) {
        node.delete(key);
        continue;
      }
      const [written, value] = [node.get(key, true), doc.createNode(b[key])];
      if (isSeq(written) && isSeq(value)) value.flow = written.flow; // a [flow] list stays one
      node.set(key, value);
    }
  });
}

export function configToForm(config: MoeMergeConfig): ComposeForm {
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
    architecture: config.architecture ?? '',
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
