/**
 * mergekit-moe YAML (specs/mergekit-moe.md §2): the schema of `MoEMergeConfig` and `Expert`
 * as mergekit v0.1.4 reads it with `yaml.safe_load` + pydantic v2.
 *
 *   base_model: ModelReference            (required)
 *   experts: [Expert]                     (required, non-empty list)
 *   gate_mode: str = "hidden"             hidden | hidden_last | hidden_avg | cheap_embed | random | uniform_random
 *   dtype: str | null                     bfloat16 | float16 | float32 | int64, optional "torch." prefix
 *   experts_per_token: int = 2
 *   shared_experts: [Expert] | null
 *   architecture: str | null              case-insensitive prefix of an output architecture name
 *   Expert: { source_model, positive_prompts: [str]|null, negative_prompts: [str]|null,
 *             noise_scale: float|null, residual_scale: float|null }
 *
 * YAML 1.1 as PyYAML reads it: anchors/aliases and `<<` merge keys are resolved. Unknown keys
 * are ignored (pydantic `extra="ignore"`), and listed in `ignoredKeys` with their line and a
 * "did you mean" (the plan says them as warnings). A bare string where a list of prompts is expected
 * is rejected (pydantic does not coerce str to list).
 *
 * Two extensions over upstream, both reported as issues here rather than as crashes later:
 * an unknown `gate_mode` (upstream: TypeError at gate time) and an unknown `dtype` (upstream:
 * RuntimeError at write time).
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, parse as parseYamlText } from 'yaml';

export type GateMode = 'hidden' | 'hidden_last' | 'hidden_avg' | 'cheap_embed' | 'random' | 'uniform_random';
export const GATE_MODES: readonly GateMode[] = [
  'hidden',
  'hidden_last',
  'hidden_avg',
  'cheap_embed',
  'random',
  'uniform_random',
];

export type OutputDType = 'bfloat16' | 'float16' | 'float32' | 'int64';
export const OUTPUT_DTYPES: readonly OutputDType[] = ['bfloat16', 'float16', 'float32', 'int64'];

/** `org/name`, a local path, `path@revision`, or `model+lora` (parsed, never merged). */
export interface ModelReference {
  path: string;
  revision?: string;
  lora?: string;
}

export interface ExpertConfig {
  sourceModel: ModelReference;
  positivePrompts: string[] | null;
  negativePrompts: string[] | null;
  noiseScale: number | null;
  residualScale: number | null;
}

export interface MoeMergeConfig {
  baseModel: ModelReference;
  experts: ExpertConfig[];
  gateMode: GateMode;
  /** Normalized (no `torch.` prefix); null = the base's torch_dtype. */
  dtype: OutputDType | null;
  expertsPerToken: number;
  sharedExperts: ExpertConfig[] | null;
  architecture: string | null;
  /** The input YAML, verbatim (written to mergekit_moe_config.yml). */
  sourceText: string;
  /**
   * Keys mergekit-moe ignores (pydantic `extra="ignore"`), said as warnings with their line and
   * a "did you mean" for a near miss of a real key: upstream drops `postive_prompts` silently.
   */
  ignoredKeys: string[];
}

/** A problem with a config, as data (STYLE habit 9): the caller decides what to do. */
export interface ConfigIssue {
  /** Dotted path of the field, e.g. `experts.1.positive_prompts`; '' for the whole config. */
  field: string;
  message: string;
  severity: 'error' | 'warning';
}

export type ParseResult = { ok: true; config: MoeMergeConfig } | { ok: false; issues: ConfigIssue[] };

/** Equality as mergekit compares references: parsed path, revision and lora as strings. */
export function modelReferenceKey(ref: ModelReference): string {
  return `${ref.path}@${ref.revision ?? ''}+${ref.lora ?? ''}`;
}

export function formatModelReference(ref: ModelReference): string {
  return ref.path + (ref.revision ? `@${ref.revision}` : '') + (ref.lora ? `+${ref.lora}` : '');
}

/** Parses `path`, `path@revision` and `path+lora` (mergekit/common.py ModelPath / ModelReference). */
export function parseModelReferenceString(text: string): ModelReference | string {
  const [modelPart, lora, ...more] = text.split('+');
  if (more.length > 0) return `Invalid model path - multiple +: ${text}`;
  const at = modelPart.split('@');
  if (at.length > 2) return `Invalid model path - multiple @: ${text}`;
  const ref: ModelReference = { path: at[0] };
  if (at.length === 2) ref.revision = at[1];
  if (lora !== undefined) ref.lora = lora;
  if (!ref.path) return `Invalid model path - empty: ${show(text)}`;
  return ref;
}

/**
 * Cap on alias expansions while resolving anchors: real configs reuse a prompt list a handful
 * of times; the cap stops a "billion laughs" document from exhausting memory.
 */
export const YAML_MAX_ALIAS_COUNT = 10_000;

class IssueList {
  readonly issues: ConfigIssue[] = [];
  error(field: string, message: string): void {
    this.issues.push({ field, message, severity: 'error' });
  }
}

/** mergekit configs nest about four levels (experts → list → expert → prompts). */
export const YAML_MAX_DEPTH = 64;

/**
 * Aliases can make a document refer to itself (`base_model: &a [*a]`), which every later
 * step (JSON.stringify in messages, the plan) would loop on; and deep nesting would overflow
 * the stack of every recursive reader. Both are refused here, where the values enter.
 */
function documentShapeProblem(doc: unknown): string | undefined {
  const ancestors = new Set<object>();
  const done = new Set<object>(); // shared (aliased) subtrees are walked once
  const visit = (v: unknown, path: string, depth: number): string | undefined => {
    if (typeof v !== 'object' || v === null || done.has(v)) return undefined;
    if (ancestors.has(v)) return `${path || 'the document'} contains itself (a YAML alias refers to its own anchor)`;
    if (depth > YAML_MAX_DEPTH) return `${path} nests deeper than ${YAML_MAX_DEPTH} levels (YAML_MAX_DEPTH)`;
    ancestors.add(v);
    const entries = v instanceof Map ? [...v.entries()] : Object.entries(v);
    for (const [key, child] of entries) {
      const problem = visit(child, path ? `${path}.${String(key)}` : String(key), depth + 1);
      if (problem) return problem;
    }
    ancestors.delete(v);
    done.add(v);
    return undefined;
  };
  return visit(doc, '', 0);
}

/** A value for a message: JSON, cut at 200 characters (a document may hold megabytes). */
function show(v: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(v) ?? String(v);
  } catch {
    text = String(v); // a BigInt
  }
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseModelReference(v: unknown, field: string, issues: IssueList): ModelReference | undefined {
  if (typeof v === 'string') {
    const ref = parseModelReferenceString(v);
    if (typeof ref === 'string') {
      issues.error(field, ref);
      return undefined;
    }
    return ref;
  }
  if (isRecord(v)) {
    // Dict form: { model: "path@rev" | {path, revision}, lora?: ..., override_architecture?: ... }
    const model = v.model;
    let ref: ModelReference | undefined;
    if (typeof model === 'string') ref = parseModelReference(model, `${field}.model`, issues);
    else if (isRecord(model) && typeof model.path === 'string') {
      ref = { path: model.path };
      if (typeof model.revision === 'string') ref.revision = model.revision;
    } else issues.error(`${field}.model`, 'Field required: a model path string or {path, revision}');
    if (ref && v.lora != null) {
      const lora = typeof v.lora === 'string' ? v.lora : isRecord(v.lora) ? v.lora.path : undefined;
      if (typeof lora === 'string') ref.lora = lora;
      else issues.error(`${field}.lora`, 'Input should be a model path');
    }
    return ref;
  }
  issues.error(field, v === undefined ? 'Field required' : `Input should be a model reference string, got ${show(v)}`);
  return undefined;
}

function parsePromptList(v: unknown, field: string, issues: IssueList): string[] | null {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v)) {
    issues.error(
      field,
      `Input should be a valid list of strings, got ${typeof v === 'string' ? 'a bare string' : show(v)}`,
    );
    return null;
  }
  v.forEach((p, i) => {
    if (typeof p !== 'string') issues.error(`${field}.${i}`, `Input should be a valid string, got ${show(p)}`);
  });
  return v.filter((p): p is string => typeof p === 'string');
}

/** pydantic lax float: numbers and numeric strings. */
function parseOptionalFloat(v: unknown, field: string, issues: IssueList): number | null {
  if (v === undefined || v === null) return null;
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n)) {
    issues.error(field, `Input should be a valid number, got ${show(v)}`);
    return null;
  }
  return n;
}

/** pydantic lax int: integers, integral floats and integer strings. */
function laxInt(v: unknown, field: string, fallback: number, issues: IssueList): number {
  if (v === undefined) return fallback;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n)) {
    issues.error(field, `Input should be a valid integer, got ${show(v)}`);
    return fallback;
  }
  return n;
}

function parseExpert(v: unknown, field: string, issues: IssueList): ExpertConfig | undefined {
  if (!isRecord(v)) {
    issues.error(field, `Input should be a mapping with source_model, got ${show(v)}`);
    return undefined;
  }
  const sourceModel = parseModelReference(v.source_model, `${field}.source_model`, issues);
  const expert: ExpertConfig = {
    sourceModel: sourceModel ?? { path: '' },
    positivePrompts: parsePromptList(v.positive_prompts, `${field}.positive_prompts`, issues),
    negativePrompts: parsePromptList(v.negative_prompts, `${field}.negative_prompts`, issues),
    noiseScale: parseOptionalFloat(v.noise_scale, `${field}.noise_scale`, issues),
    residualScale: parseOptionalFloat(v.residual_scale, `${field}.residual_scale`, issues),
  };
  return sourceModel ? expert : undefined;
}

function parseExpertList(v: unknown, field: string, issues: IssueList, required: boolean): ExpertConfig[] | null {
  if (v === undefined || v === null) {
    if (required) issues.error(field, 'Field required');
    return null;
  }
  if (!Array.isArray(v)) {
    issues.error(field, 'Input should be a valid list of experts');
    return null;
  }
  const out: ExpertConfig[] = [];
  v.forEach((e, i) => {
    const x = parseExpert(e, `${field}.${i}`, issues);
    if (x) out.push(x);
  });
  return out;
}

/** `bfloat16` / `torch.bfloat16` → `bfloat16`; anything else is an issue (extension: upstream fails at write time). */
export function parseOutputDType(v: unknown, issues?: IssueList): OutputDType | null {
  if (v === undefined || v === null) return null;
  const name = typeof v === 'string' ? v.replace(/^torch\./, '') : '';
  if ((OUTPUT_DTYPES as readonly string[]).includes(name)) return name as OutputDType;
  issues?.error(
    'dtype',
    `Unimplemented dtype ${show(v)} (allowed: ${OUTPUT_DTYPES.join(', ')}, optionally prefixed "torch.")`,
  );
  return null;
}

function parseGateMode(v: unknown, issues: IssueList): GateMode {
  if (v === undefined || v === null) return 'hidden';
  if (typeof v === 'string' && (GATE_MODES as readonly string[]).includes(v)) return v as GateMode;
  issues.error('gate_mode', `Unknown gate_mode ${show(v)} (allowed: ${GATE_MODES.join(', ')})`);
  return 'hidden';
}

function parseOptionalString(v: unknown, field: string, issues: IssueList): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') {
    issues.error(field, `Input should be a valid string, got ${show(v)}`);
    return null;
  }
  return v;
}

const TOP_LEVEL_KEYS = [
  'base_model',
  'experts',
  'gate_mode',
  'dtype',
  'experts_per_token',
  'shared_experts',
  'architecture',
] as const;
const EXPERT_KEYS = ['source_model', 'positive_prompts', 'negative_prompts', 'noise_scale', 'residual_scale'] as const;
/** Only this many ignored keys are listed (a pasted non-mergekit file would list every one). */
const MAX_IGNORED_KEYS = 20;

/** Levenshtein distance, for "did you mean" (keys are short). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = row;
  }
  return previous[b.length]!;
}

/** The closest known key within a third of its length in edits, if any. */
function nearestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

/**
 * The keys of the top-level mapping and of each `experts` / `shared_experts` entry that
 * mergekit-moe ignores, as warnings naming the line (from the document's own nodes, so
 * aliases and `<<` merges are not followed: they repeat keys written elsewhere).
 */
function ignoredKeyWarnings(text: string): string[] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { version: '1.1', merge: true, lineCounter, keepSourceTokens: false });
  const out: string[] = [];
  const check = (map: unknown, known: readonly string[], where: string) => {
    if (!isMap(map)) return;
    for (const item of map.items) {
      // a `<<` merge key parses as a Symbol: its keys are written (and checked) where the anchor is
      if (!isPair(item) || !isScalar(item.key) || typeof item.key.value === 'symbol') continue;
      const key = String(item.key.value);
      if (key === '<<' || known.includes(key)) continue;
      if (out.length >= MAX_IGNORED_KEYS) return;
      const line = item.key.range ? lineCounter.linePos(item.key.range[0]).line : undefined;
      const guess = nearestKey(key, known);
      out.push(
        `mergekit-yaml: '${key}'${where}${line ? ` (line ${line})` : ''} is not a mergekit-moe key and is ignored, as mergekit ignores it${guess ? `; did you mean '${guess}'?` : ''}`,
      );
    }
  };
  check(doc.contents, TOP_LEVEL_KEYS, '');
  if (isMap(doc.contents))
    for (const list of ['experts', 'shared_experts']) {
      const seq = doc.contents.get(list, true);
      if (isSeq(seq)) seq.items.forEach((entry, i) => check(entry, EXPERT_KEYS, ` in ${list}[${i}]`));
    }
  return out;
}

/** Parses a mergekit-moe YAML document into a config, or the list of schema issues. */
export function parseMergeYaml(text: string): ParseResult {
  const issues = new IssueList();
  let doc: unknown;
  try {
    // YAML 1.1 = PyYAML's dialect (merge keys, yes/no booleans). Aliases are resolved by parse().
    doc = parseYamlText(text, { version: '1.1', merge: true, maxAliasCount: YAML_MAX_ALIAS_COUNT });
  } catch (e) {
    issues.error('', `mergekit-yaml: not valid YAML: ${(e as Error).message}`);
    return { ok: false, issues: issues.issues };
  }
  const shapeProblem = documentShapeProblem(doc);
  if (shapeProblem) {
    issues.error('', `mergekit-yaml: ${shapeProblem}`);
    return { ok: false, issues: issues.issues };
  }
  if (!isRecord(doc)) {
    issues.error('', 'mergekit-yaml: the document must be a mapping with base_model and experts');
    return { ok: false, issues: issues.issues };
  }
  const baseModel = parseModelReference(doc.base_model, 'base_model', issues);
  const experts = parseExpertList(doc.experts, 'experts', issues, true);
  const config: MoeMergeConfig = {
    baseModel: baseModel ?? { path: '' },
    experts: experts ?? [],
    gateMode: parseGateMode(doc.gate_mode, issues),
    dtype: parseOutputDType(doc.dtype, issues),
    expertsPerToken: laxInt(doc.experts_per_token, 'experts_per_token', 2, issues),
    sharedExperts: parseExpertList(doc.shared_experts, 'shared_experts', issues, false),
    architecture: parseOptionalString(doc.architecture, 'architecture', issues),
    sourceText: text,
    ignoredKeys: [],
  };
  if (issues.issues.length > 0) return { ok: false, issues: issues.issues };
  config.ignoredKeys = ignoredKeyWarnings(text);
  return { ok: true, config };
}
