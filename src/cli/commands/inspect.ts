/**
 * `moe-studio inspect <model-dir | file.gguf | file.safetensors | llama2c.bin> [--json]`:
 * the spec (when the input has one), metadata, every tensor with dtype, shape and size.
 * Reads headers only (no tensor data), except llama2.c checkpoints, which have no header
 * beyond the dims.
 */
import { extname } from 'node:path';
import { ConfigError, MissingFileError } from '../../core/errors.ts';
import { readGguf, type GgufMetadataValue } from '../../core/formats/gguf.ts';
import { openSafetensors } from '../../core/formats/safetensors.ts';
import { openSafetensorsFolder } from '../../core/formats/safetensors-folder.ts';
import { parseHfConfig } from '../../core/model/hf-config.ts';
import { hfTensorEntries } from '../../core/model/hf-tensors.ts';
import { readHfConfigJson } from '../../core/model/load-hf.ts';
import { detectMixtralLayout, nameTableFor, type MixtralLayout } from '../../core/model/names.ts';
import { loadLlama2cCheckpoint } from '../../core/model/llama2c.ts';
import type { ModelSpec } from '../../core/model/spec.ts';
import { numel } from '../../core/tensor.ts';
import { onePositional, parseFlags, type FlagSpec } from '../args.ts';
import { isDirectory, nodeDirFileSet, nodeFileSource, pathExists } from '../node-io.ts';

export const INSPECT_USAGE = `moe-studio inspect <model-dir | file.gguf | file.safetensors | model.bin> [--json]
  prints the model spec, metadata and every tensor (dtype, shape, bytes)`;

const FLAGS: FlagSpec = { json: { type: 'boolean' }, verbose: { type: 'boolean' } };

export interface InspectTensor {
  name: string;
  dtype: string;
  shape: number[];
  bytes: number;
  file?: string;
}

/** HF folders: the checkpoint against what config.json implies (hf-tensors.ts). */
export interface InspectCheck {
  layout?: MixtralLayout;
  missing: string[];
  extra: string[];
  wrongShape: { name: string; expected: number[]; actual: number[] }[];
}

export interface InspectReport {
  path: string;
  format: 'hf' | 'gguf' | 'safetensors' | 'llama2c';
  spec?: ModelSpec;
  check?: InspectCheck;
  metadata?: Record<string, unknown>;
  tensors: InspectTensor[];
  params: number;
  bytes: number;
}

async function inspectHf(path: string): Promise<Omit<InspectReport, 'params' | 'bytes'>> {
  const files = nodeDirFileSet(path);
  const spec = parseHfConfig(await readHfConfigJson(files), 'config.json');
  const dir = await openSafetensorsFolder(files);
  const tensors = dir.names().map((name) => {
    const info = dir.info(name)!;
    return { name, dtype: info.dtype, shape: info.shape, bytes: info.byteLength, file: info.file };
  });
  return { path, format: 'hf', spec, tensors, check: checkHfTensors(spec, tensors) };
}

function checkHfTensors(spec: ModelSpec, tensors: InspectTensor[]): InspectCheck {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const layout = spec.arch === 'mixtral' ? detectMixtralLayout(byName.keys()) : undefined;
  const entries = hfTensorEntries(spec, nameTableFor(spec, layout));
  const expected = new Set(entries.map((e) => e.name));
  const check: InspectCheck = {
    missing: [],
    extra: tensors.map((t) => t.name).filter((n) => !expected.has(n)),
    wrongShape: [],
  };
  if (layout) check.layout = layout;
  for (const entry of entries) {
    const actual = byName.get(entry.name);
    if (!actual) check.missing.push(entry.name);
    else if (actual.shape.join(',') !== entry.shape.join(','))
      check.wrongShape.push({ name: entry.name, expected: entry.shape, actual: actual.shape });
  }
  return check;
}

/** Long arrays (the vocabulary, merges) are summarised, bigints printed as numbers. */
function summariseGgufValue(value: GgufMetadataValue): unknown {
  if (value.type === 'array') {
    return value.value.length > 16
      ? `[${value.itemType} × ${value.value.length}]`
      : value.value.map((v) => (typeof v === 'bigint' ? Number(v) : v));
  }
  return typeof value.value === 'bigint' ? Number(value.value) : value.value;
}

async function inspectGguf(path: string): Promise<Omit<InspectReport, 'params' | 'bytes'>> {
  const gguf = await readGguf(await nodeFileSource(path));
  // fromEntries: keys from the file ("__proto__") become own properties, never the prototype.
  const metadata: Record<string, unknown> = Object.fromEntries([
    ['gguf.version', gguf.version],
    ...[...gguf.metadata].map(([key, value]) => [key, summariseGgufValue(value)]),
  ]);
  const tensors = gguf.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, bytes: t.byteLength }));
  return { path, format: 'gguf', metadata, tensors };
}

async function inspectSafetensors(path: string): Promise<Omit<InspectReport, 'params' | 'bytes'>> {
  const file = await openSafetensors(await nodeFileSource(path));
  const tensors = file.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, bytes: t.byteLength }));
  return { path, format: 'safetensors', metadata: file.metadata, tensors };
}

async function inspectLlama2c(path: string): Promise<Omit<InspectReport, 'params' | 'bytes'>> {
  const weights = await loadLlama2cCheckpoint(await nodeFileSource(path));
  const tensors: InspectTensor[] = [];
  const add = (t: { name: string; dtype: string; shape: number[]; data: Uint8Array }) =>
    tensors.push({ name: t.name, dtype: t.dtype, shape: t.shape, bytes: t.data.byteLength });
  add(weights.embed);
  for (const layer of weights.layers) {
    for (const value of Object.values(layer)) if (value && 'data' in value) add(value);
    if (layer.mlp) Object.values(layer.mlp).forEach(add);
  }
  add(weights.finalNorm);
  if (weights.lmHead) add(weights.lmHead);
  return { path, format: 'llama2c', spec: weights.spec, tensors };
}

export async function inspectPath(path: string): Promise<InspectReport> {
  let partial: Omit<InspectReport, 'params' | 'bytes'>;
  const ext = extname(path).toLowerCase();
  if (await isDirectory(path)) partial = await inspectHf(path);
  else if (!(await pathExists(path))) throw new MissingFileError(path);
  else if (ext === '.gguf') partial = await inspectGguf(path);
  else if (ext === '.safetensors') partial = await inspectSafetensors(path);
  else if (ext === '.bin') partial = await inspectLlama2c(path);
  else throw new ConfigError(`${path}: cannot inspect (expected a folder, .gguf, .safetensors or llama2.c .bin)`);
  const params = partial.tensors.reduce((sum, t) => sum + numel(t.shape), 0);
  const bytes = partial.tensors.reduce((sum, t) => sum + t.bytes, 0);
  return { ...partial, params, bytes };
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export function formatSpec(spec: ModelSpec): string[] {
  const lines = [
    `arch ${spec.arch}  hidden ${spec.hidden}  layers ${spec.layers}  heads ${spec.heads} (kv ${spec.kvHeads}, dim ${spec.headDim})  ffn ${spec.intermediate}  vocab ${spec.vocab}`,
    `context ${spec.contextLength}  rope θ ${spec.ropeTheta} (${spec.ropeStyle})  rms eps ${spec.rmsEps}  tied embeddings ${spec.tieEmbeddings ? 'yes' : 'no'}  qkv bias ${spec.qkvBias ? 'yes' : 'no'}`,
  ];
  const moe = spec.moe;
  if (moe) {
    const shared = moe.sharedExpert
      ? `, shared expert ${moe.sharedExpert.intermediate}${moe.sharedExpert.gated ? ' (sigmoid-gated)' : ''}`
      : '';
    lines.push(
      `moe: ${moe.experts} experts, top-${moe.expertsPerToken}${moe.normTopK ? ', renormalized' : ''}, expert ffn ${moe.expertIntermediate}${shared}`,
    );
  }
  return lines;
}

function formatCheck(check: InspectCheck): string[] {
  const lines = [];
  if (check.layout) lines.push(`mixtral layout: ${check.layout}`);
  const ok = check.missing.length === 0 && check.wrongShape.length === 0;
  lines.push(
    ok
      ? 'check: every tensor config.json implies is present with its shape'
      : 'check: PROBLEMS (the model will not load)',
  );
  for (const name of check.missing) lines.push(`  missing ${name}`);
  for (const w of check.wrongShape)
    lines.push(`  ${w.name}: shape [${w.actual.join(', ')}], config.json implies [${w.expected.join(', ')}]`);
  if (check.extra.length)
    lines.push(
      `  ${check.extra.length} extra tensor(s) not used: ${check.extra.slice(0, 5).join(', ')}${check.extra.length > 5 ? ', …' : ''}`,
    );
  return lines;
}

function formatReport(report: InspectReport): string {
  const lines = [`${report.path} (${report.format})`];
  if (report.spec) lines.push(...formatSpec(report.spec));
  if (report.check) lines.push(...formatCheck(report.check));
  for (const [key, value] of Object.entries(report.metadata ?? {})) lines.push(`  ${key} = ${JSON.stringify(value)}`);
  const byDtype = new Map<string, { count: number; bytes: number }>();
  for (const t of report.tensors) {
    const row = byDtype.get(t.dtype) ?? { count: 0, bytes: 0 };
    byDtype.set(t.dtype, { count: row.count + 1, bytes: row.bytes + t.bytes });
  }
  lines.push(
    `params ${report.params.toLocaleString('en-US')}  size ${formatBytes(report.bytes)}  dtypes ${[...byDtype].map(([d, r]) => `${d} ×${r.count} (${formatBytes(r.bytes)})`).join(', ')}`,
  );
  lines.push(`tensors (${report.tensors.length}):`);
  const width = Math.max(...report.tensors.map((t) => t.name.length), 4);
  for (const t of report.tensors) {
    lines.push(
      `  ${t.name.padEnd(width)}  ${t.dtype.padEnd(5)} [${t.shape.join(', ')}]  ${formatBytes(t.bytes)}${t.file ? `  ${t.file}` : ''}`,
    );
  }
  return lines.join('\n');
}

export async function runInspectCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags('inspect', argv, FLAGS);
  const report = await inspectPath(onePositional('inspect', positionals, 'path'));
  process.stdout.write(`${values.json ? JSON.stringify(report) : formatReport(report)}\n`);
  return 0;
}
