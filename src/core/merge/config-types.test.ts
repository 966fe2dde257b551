/**
 * Every config.json the studio writes (merge: Mixtral classic and fused, Qwen2-MoE, Qwen3-MoE,
 * DeepSeek-MoE; export: llama, mistral, qwen2, mixtral, qwen2_moe) holds each field in the type
 * transformers declares for its model_type (HF_CONFIG_FIELD_TYPES), checked on the raw text:
 * JSON.parse would turn `10000.0` into 10000 and hide the bug transformers 5 refuses.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.ts';
import { memoryFileSet, type FileSet } from '../io/byte-source.ts';
import { exportHfToMemory } from '../model/hf.testing.ts';
import { stringifyHfConfig } from '../model/hf-config-json.ts';
import { HF_CONFIG_FIELD_TYPES, type HfFieldType, isHfWrittenModelType } from '../model/hf-config-types.ts';
import { randomModelWeights, tinyDenseSpec, tinyMoeSpec, tinyQwenMoeSpec } from '../model/random.ts';
import { mergeInMemory, qwen3Folder, randomHfFolder, testingDenseSpec } from './models.testing.ts';

/** `"key": token` of every top-level field, the token as written (two-space indent = top level). */
function topLevelTokens(text: string): Map<string, string> {
  const tokens = new Map<string, string>();
  for (const m of text.matchAll(/^ {2}"([^"]+)": (.*?),?$/gm)) tokens.set(m[1]!, m[2]!);
  return tokens;
}

/** The raw text of a list field `[\n 1,\n 2\n ]` collapsed, for int[] checks. */
function listText(text: string, key: string): string {
  const m = new RegExp(`^ {2}"${key}": (\\[[^\\]]*\\])`, 'm').exec(text);
  return m ? m[1]!.replace(/\s+/g, '') : '';
}

const FLOAT = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/;
const isFloatToken = (t: string) => FLOAT.test(t) && /[.eE]/.test(t);
const isIntToken = (t: string) => /^-?\d+$/.test(t);
const isIntList = (t: string) => /^\[(-?\d+(,-?\d+)*)?\]$/.test(t);

function tokenFits(type: HfFieldType, token: string, list: string): boolean {
  if (token === 'null') return type.endsWith('?');
  switch (type) {
    case 'float':
      return isFloatToken(token);
    case 'int':
    case 'int?':
      return isIntToken(token);
    case 'bool':
      return token === 'true' || token === 'false';
    case 'int[]':
      return isIntList(list);
    case 'int|int[]?':
      return isIntToken(token) || isIntList(list);
  }
}

/** Checks every declared field of `text`; returns how many of each type it found, so a test can ask for coverage. */
function checkDeclaredTypes(text: string): Record<string, number> {
  const modelType = JSON.parse(text).model_type as unknown;
  if (!isHfWrittenModelType(modelType)) throw new Error(`not a written model_type: ${String(modelType)}`);
  const declared = HF_CONFIG_FIELD_TYPES[modelType];
  const seen: Record<string, number> = { float: 0, int: 0, bool: 0 };
  for (const [key, token] of topLevelTokens(text)) {
    const type = declared[key];
    if (!type) continue;
    expect(tokenFits(type, token, listText(text, key)), `${modelType}.${key} declared ${type}, written ${token}`).toBe(
      true,
    );
    const kind = type.startsWith('int') ? 'int' : type;
    if (token !== 'null') seen[kind] = (seen[kind] ?? 0) + 1;
  }
  return seen;
}

const spec = testingDenseSpec();
let folders: Record<string, FileSet>;

/** A donor whose config.json text has integral fields written as floats (`4.0`), as some hub configs do. */
async function floatyDonor(name: string, seed: number): Promise<FileSet> {
  const { files } = await randomHfFolder(name, seed, spec, 'f32');
  const copy: Record<string, Uint8Array> = {};
  for (const f of await files.list()) {
    const src = await files.open(f);
    copy[f] = await src.read(0, src.size);
  }
  const config = new TextDecoder()
    .decode(copy['config.json'])
    .replace(/"(num_hidden_layers|intermediate_size|hidden_size)":(\d+)/g, '"$1":$2.0');
  expect(config).toContain(`"num_hidden_layers":${spec.layers}.0`);
  copy['config.json'] = new TextEncoder().encode(config);
  return memoryFileSet(copy, name);
}

beforeAll(async () => {
  folders = {
    'org/base': await floatyDonor('org/base', 11),
    'org/a': (await randomHfFolder('org/a', 12, spec, 'f32')).files,
    'org/b': (await randomHfFolder('org/b', 13, spec, 'f32')).files,
    'q/base': await qwen3Folder('q/base', 31, spec),
    'q/a': await qwen3Folder('q/a', 32, spec),
    'q/b': await qwen3Folder('q/b', 33, spec),
  };
});

const EXPERTS = `gate_mode: uniform_random
experts:
  - source_model: org/a
    positive_prompts: ["Once upon a time"]
  - source_model: org/b
    positive_prompts: ["def add(a, b):"]
`;
const MERGES = {
  'Mixtral classic': [`base_model: org/base\n${EXPERTS}`, { layout: 'classic' }],
  'Mixtral fused': [`base_model: org/base\n${EXPERTS}`, { layout: 'fused' }],
  'DeepSeek MoE': [`base_model: org/base\n${EXPERTS}shared_experts:\n  - source_model: org/base\n`, {}],
  'Qwen MoE': [
    `base_model: org/base\n${EXPERTS}shared_experts:\n  - source_model: org/base\n    positive_prompts: ["Hi"]\n`,
    {},
  ],
  'Qwen3 MoE': [`base_model: q/base\n${EXPERTS.replaceAll('org/', 'q/')}`, {}],
} as const;

describe('merge writes each config.json field in its transformers type', () => {
  it.each(Object.entries(MERGES))('%s', async (arch, [yaml, options]) => {
    const { plan, output } = await mergeInMemory(yaml, folders, options);
    expect(plan.arch).toBe(arch.replace(/ (classic|fused)$/, ''));
    const text = new TextDecoder().decode(output.files.get('config.json')!);
    const generation = JSON.parse(new TextDecoder().decode(output.files.get('generation_config.json')!));
    expect(generation).toMatchObject({ _from_model_config: true, eos_token_id: JSON.parse(text).eos_token_id });
    const seen = checkDeclaredTypes(text);
    expect(seen.float, 'rms_norm_eps, rope_theta, initializer_range at least').toBeGreaterThanOrEqual(3);
    expect(seen.int).toBeGreaterThanOrEqual(6);
    expect(seen.bool).toBeGreaterThanOrEqual(1);
    if (!arch.startsWith('Qwen3')) {
      // The donor wrote these as 4.0 / 512.0; transformers declares them int.
      expect(text).toContain(`"num_hidden_layers": ${spec.layers},`);
      expect(text).toContain(`"intermediate_size": ${spec.intermediate},`);
    }
  });

  it('refuses a donor field transformers would reject, naming it, before writing anything', async () => {
    const { files } = await randomHfFolder('org/bad', 14, spec, 'f32', { use_cache: 1 });
    const run = mergeInMemory(`base_model: org/bad\n${EXPERTS}`, { ...folders, 'org/bad': files });
    await expect(run).rejects.toThrow(ConfigError);
    await expect(run).rejects.toThrow(/field 'use_cache' is declared bool by transformers' mixtral config, got 1/);
  });
});

describe('export writes each config.json field in its transformers type', () => {
  it.each([
    ['llama', tinyDenseSpec()],
    ['mistral', tinyDenseSpec({ arch: 'mistral' })],
    ['qwen2', tinyDenseSpec({ arch: 'qwen2', qkvBias: true, tieEmbeddings: true })],
    ['mixtral', tinyMoeSpec()],
    ['qwen2_moe', tinyQwenMoeSpec()],
  ] as const)('%s', async (modelType, modelSpec) => {
    const { files } = await exportHfToMemory(randomModelWeights(modelSpec, 7), {
      // A donor config read from JSON: 10000 for rope_theta, 0 for attention_dropout (JSON.parse of 10000.0 / 0.0).
      baseConfig: { attention_dropout: 0, initializer_range: 0.02, use_cache: true },
    });
    const text = new TextDecoder().decode(files['config.json']!);
    expect(JSON.parse(text).model_type).toBe(modelType);
    const seen = checkDeclaredTypes(text);
    expect(seen.float).toBeGreaterThanOrEqual(4);
    expect(seen.int).toBeGreaterThanOrEqual(6);
    expect(text).toContain('"attention_dropout": 0.0');
  });
});

describe('stringifyHfConfig refuses values that cannot have the declared type', () => {
  it.each([
    ['num_hidden_layers', 4.5, /'num_hidden_layers' is declared int by transformers' llama config, got 4.5/],
    ['intermediate_size', '512', /'intermediate_size' is declared int .* got "512"/],
    ['tie_word_embeddings', 0, /'tie_word_embeddings' is declared bool .* got 0/],
    ['rms_norm_eps', '1e-6', /'rms_norm_eps' is declared float .* got "1e-6"/],
    ['eos_token_id', [1, 2.5], /'eos_token_id' is declared int\|int\[\]\? .* got \[1,2.5\]/],
  ])('%s = %j', (field, value, message) => {
    expect(() => stringifyHfConfig({ model_type: 'llama', [field]: value })).toThrow(ConfigError);
    expect(() => stringifyHfConfig({ model_type: 'llama', [field]: value })).toThrow(message);
  });

  it('keeps null, writes integral floats with a point and integral ints without one', () => {
    const text = stringifyHfConfig({
      model_type: 'mixtral',
      sliding_window: null,
      head_dim: null,
      router_jitter_noise: 0,
      rope_theta: 1e6,
      num_local_experts: 4,
      eos_token_id: [1, 2],
    });
    expect(text).toContain('"sliding_window": null');
    expect(text).toContain('"head_dim": null');
    expect(text).toContain('"router_jitter_noise": 0.0');
    expect(text).toContain('"rope_theta": 1000000.0');
    expect(text).toContain('"num_local_experts": 4,');
  });
});
