/**
 * Fuzz targets: each builds its valid seed files once (hermetic: random weights, the testing
 * BPE, hand-built llama2.c files), mutates them with the case's PRNG, and runs the same path
 * the app and the CLI run — loadModel on a FileSet up to one CPU forward step, tokenizer
 * construction + encode + decode + chat template, YAML parse + validate, and a mergekit-moe
 * merge (parse → open donors → plan → run) over donors whose config.json is mutated.
 *
 * run() resolves 'parsed' when the input was accepted end to end, 'typed' when it was refused
 * as data (mergekit or plan issues), and throws whatever the code under test throws otherwise; the
 * child (child.ts) classifies the throw.
 */
import { bytesSource, MemorySink, memoryFileSet } from '../../src/core/io/byte-source.ts';
import { readGguf, writeGguf, type GgufMetadataValue } from '../../src/core/formats/gguf.ts';
import { formatModelReference, parseMergeYaml } from '../../src/core/formats/mergekit-yaml.ts';
import { createMergeRuntime } from '../../src/core/merge/default-runtime.ts';
import { planMerge } from '../../src/core/merge/plan.ts';
import { runMerge } from '../../src/core/merge/run.ts';
import { openMergeInputs } from '../../src/core/merge/sources.ts';
import { memoryWriter } from '../../src/core/merge/writer.ts';
import { validateMergeConfig } from '../../src/core/merge/validate.ts';
import { exportGguf } from '../../src/core/model/gguf-model.ts';
import { exportHfToMemory } from '../../src/core/model/hf.testing.ts';
import { loadModel } from '../../src/core/model/load.ts';
import { randomModelWeights, tinyDenseSpec, tinyMoeSpec } from '../../src/core/model/random.ts';
import type { ModelWeights } from '../../src/core/model/weights.ts';
import { cpuBackend } from '../../src/core/runtime/cpu/backend.ts';
import { buildTestingBpeTokenizer, CHATML_TEMPLATE } from '../../src/core/tokenizer/bpe.testing.ts';
import { HfTokenizer, loadHfTokenizer } from '../../src/core/tokenizer/hf.ts';
import type { Tokenizer } from '../../src/core/tokenizer/types.ts';
import { BOUNDARY_NUMBERS, mutateBytes, mutateJson, mutateText, type Rng } from './mutators.ts';

export type RunResult = 'parsed' | 'typed';

export interface FuzzTarget {
  name: string;
  /** What the fuzzed inputs are, for the report. */
  what: string;
  /** File names a typed error's message should name (at least one). */
  files: string[];
  run(rng: Rng): Promise<RunResult>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const TEXTS = [
  'hello world',
  'def f(x):\n  return 2*x',
  '日本語 🙂',
  '',
  ' '.repeat(300),
  '<|im_start|>user\nhi<|im_end|>',
];

// ── seeds (built once per child) ───────────────────────────────────────────────────────

const bpe = buildTestingBpeTokenizer(24);
const bpeVocab = Object.keys(bpe.tokenizerJson.model.vocab).length;

function seedWeights(): ModelWeights[] {
  const dense = tinyDenseSpec({
    vocab: bpeVocab,
    hidden: 16,
    heads: 2,
    kvHeads: 1,
    headDim: 8,
    intermediate: 24,
    layers: 1,
  });
  const moe = tinyMoeSpec({
    vocab: bpeVocab,
    hidden: 16,
    heads: 2,
    kvHeads: 1,
    headDim: 8,
    intermediate: 16,
    layers: 1,
    moe: { experts: 2, expertsPerToken: 1, normTopK: true, expertIntermediate: 16 },
  });
  return [randomModelWeights(dense, 1), randomModelWeights(moe, 2)];
}

let hfSeeds: Promise<Record<string, Uint8Array>[]> | undefined;
/** HF folders (config.json, model.safetensors, tokenizer files) of a dense and a MoE model. */
function hfFolders(): Promise<Record<string, Uint8Array>[]> {
  hfSeeds ??= Promise.all(
    seedWeights().map(async (w) => {
      const { files } = await exportHfToMemory(w);
      files['tokenizer.json'] = enc.encode(JSON.stringify(bpe.tokenizerJson));
      files['tokenizer_config.json'] = enc.encode(JSON.stringify(bpe.tokenizerConfig));
      return files;
    }),
  );
  return hfSeeds;
}

let ggufSeeds: Promise<Uint8Array[]> | undefined;
function ggufFiles(): Promise<Uint8Array[]> {
  ggufSeeds ??= Promise.all(
    seedWeights().map(async (w) => {
      const sink = new MemorySink();
      await exportGguf(sink, w, bpe, 'f32');
      return sink.bytes();
    }),
  );
  return ggufSeeds;
}

/** The first `n` bytes of a safetensors file are its 8-byte length and JSON header. */
function safetensorsHeaderEnd(bytes: Uint8Array): number {
  return 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
}

// ── the path every model takes: loadModel → tokenizer → one forward step ──────────────

async function loadAndStep(files: Record<string, Uint8Array>, name: string): Promise<RunResult> {
  const model = await loadModel(memoryFileSet(files, name));
  if (model.tokenizer) exerciseTokenizer(model.tokenizer, false);
  const session = await cpuBackend.createSession(model.weights, { maxContext: 4 });
  await session.forward([Math.min(1, model.spec.vocab - 1)]);
  return 'parsed';
}

function exerciseTokenizer(tokenizer: Tokenizer, chat: boolean): void {
  for (const text of TEXTS) {
    const ids = tokenizer.encode(text);
    if (ids.length > 0) tokenizer.decode(ids);
  }
  if (chat) tokenizer.applyChatTemplate([{ role: 'user', content: 'hi' }], { addGenerationPrompt: true });
}

// ── targets ───────────────────────────────────────────────────────────────────────────

const CONFIG_KEYS = [
  'num_hidden_layers',
  'hidden_size',
  'intermediate_size',
  'num_attention_heads',
  'num_key_value_heads',
  'head_dim',
  'vocab_size',
  'max_position_embeddings',
  'rms_norm_eps',
  'rope_theta',
  'num_local_experts',
  'num_experts_per_tok',
  'tie_word_embeddings',
  'bos_token_id',
  'eos_token_id',
  'model_type',
  'sliding_window',
  'rope_scaling',
];

/** Names every plain object answers to, and strings near the ones tables are keyed by. */
const LOOKUP_NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'float64', 'torch.int8', ''];

/**
 * Sometimes (15%) sets one string field that a table is looked up by (torch_dtype → dtype,
 * model_type → architecture defaults, hidden_act) to a prototype name or a near miss: the
 * lookups keyed by file-provided strings, where `in` or `obj[key]` finds Object.prototype.
 */
function withLookupName(rng: Rng, config: Record<string, unknown>): Record<string, unknown> {
  if (!rng.chance(0.15)) return config;
  return { ...config, [rng.pick(['torch_dtype', 'model_type', 'hidden_act'])]: rng.pick(LOOKUP_NAMES) };
}

const hfConfig: FuzzTarget = {
  name: 'hf-config',
  what: 'config.json of an HF folder (dense llama / Mixtral) → loadModel → one forward step',
  files: ['config.json', 'model'],
  async run(rng) {
    const folder = { ...rng.pick(await hfFolders()) };
    const seed = JSON.parse(dec.decode(folder['config.json']));
    folder['config.json'] = enc.encode(mutateJson(rng, withLookupName(rng, seed), CONFIG_KEYS));
    delete folder['tokenizer.json']; // the tokenizer has its own targets
    return loadAndStep(folder, 'hf-folder');
  },
};

const safetensors: FuzzTarget = {
  name: 'safetensors',
  what: 'model.safetensors bytes (header-weighted) of an HF folder → loadModel → one forward step',
  files: ['model.safetensors', 'safetensors', 'model'],
  async run(rng) {
    const folder = { ...rng.pick(await hfFolders()) };
    const bytes = folder['model.safetensors']!;
    const hot: [number, number][] = [[0, safetensorsHeaderEnd(bytes)]];
    if (rng.chance(0.3)) {
      // structure-aware: a mutated header JSON, re-framed with a correct length
      const headerEnd = safetensorsHeaderEnd(bytes);
      const header = JSON.parse(dec.decode(bytes.subarray(8, headerEnd)));
      const json = enc.encode(mutateJson(rng, header, ['dtype', 'shape', 'data_offsets', '__metadata__']));
      const framed = new Uint8Array(8 + json.byteLength + bytes.byteLength - headerEnd);
      new DataView(framed.buffer).setBigUint64(0, BigInt(json.byteLength), true);
      framed.set(json, 8);
      framed.set(bytes.subarray(headerEnd), 8 + json.byteLength);
      folder['model.safetensors'] = framed;
    } else folder['model.safetensors'] = mutateBytes(rng, bytes, hot);
    delete folder['tokenizer.json'];
    return loadAndStep(folder, 'hf-folder');
  },
};

/** A typed GGUF metadata value that the writer accepts but the reader above may not expect. */
function ggufReplacement(rng: Rng, old: GgufMetadataValue): GgufMetadataValue {
  const n = rng.pick(BOUNDARY_NUMBERS);
  switch (rng.int(8)) {
    case 0:
      return { type: 'u32', value: Math.abs(Math.trunc(n)) % 2 ** 32 };
    case 1:
      return { type: 'i32', value: Math.trunc(n) | 0 };
    case 2:
      return { type: 'f32', value: rng.pick([Number.NaN, Infinity, -Infinity, -1, 0, 1e30, 1e-30]) };
    case 3:
      return { type: 'u64', value: rng.pick([0n, 1n, 2n ** 32n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n]) };
    case 4:
      return { type: 'string', value: rng.pick(['', 'llama', 'gpt2', 'x'.repeat(100_000), '__proto__']) };
    case 5:
      return { type: 'array', itemType: 'u32', value: Array.from({ length: rng.pick([0, 1, 3, 1000]) }, (_, i) => i) };
    case 6:
      if (old.type === 'array' && old.itemType === 'string') {
        const items = old.value.slice();
        const at = rng.int(Math.max(1, items.length));
        items[at] = rng.pick([
          '',
          ' ',
          'a b c',
          'x'.repeat(rng.pick([100, 5000])),
          '__proto__',
          'constructor',
          '\ud800',
        ]);
        return { type: 'array', itemType: 'string', value: rng.chance(0.2) ? items.slice(0, at) : items };
      }
      return { type: 'bool', value: rng.chance(0.5) };
    default:
      return {
        type: 'array',
        itemType: 'string',
        value: Array.from({ length: rng.pick([0, 2, 500]) }, (_, i) => `t${i}`),
      };
  }
}

async function mutateGgufMetadata(rng: Rng, bytes: Uint8Array): Promise<Uint8Array> {
  const file = await readGguf(bytesSource(bytes, 'seed.gguf'));
  const metadata = new Map(file.metadata);
  const keys = [...metadata.keys()];
  for (let i = 0, n = 1 + rng.int(2); i < n; i++) {
    const key = rng.pick(keys);
    const old = metadata.get(key);
    if (rng.chance(0.1) || old === undefined)
      metadata.delete(key); // undefined: deleted by an earlier edit
    else metadata.set(key, ggufReplacement(rng, old));
  }
  const tensors = await Promise.all(
    file.tensors.map(async (t) => ({ ...t, data: (await file.readTensor(t.name)).data })),
  );
  if (rng.chance(0.2)) {
    // a tensor whose shape disagrees with the metadata (same byte count: rows and columns swapped)
    const t = rng.pick(tensors);
    if (t.shape.length === 2) t.shape = [t.shape[1]!, t.shape[0]!];
  }
  const sink = new MemorySink();
  await writeGguf(sink, { metadata, tensors });
  return sink.bytes();
}

const gguf: FuzzTarget = {
  name: 'gguf',
  what: 'a .gguf (metadata values/types, tensor shapes, or header-weighted bytes) → loadModel with its tokenizer → encode/decode → one forward step',
  files: ['m.gguf'],
  async run(rng) {
    const seed = rng.pick(await ggufFiles());
    const bytes = rng.chance(0.5) ? await mutateGgufMetadata(rng, seed) : mutateBytes(rng, seed, [[0, 4096]]);
    return loadAndStep({ 'm.gguf': bytes }, 'm.gguf');
  },
};

const REGEXES = [
  '(a+)+$',
  '(\\s*)*x',
  '(a|a)*b',
  '\\p{L}+',
  '[',
  '(?<=a)b',
  '.*.*.*=.*',
  '\\s*\\s*\\s*x',
  '(?:\\s*){6}x',
  ' ?\\p{L}+|\\s+(?!\\S)',
];

const tokenizer: FuzzTarget = {
  name: 'tokenizer',
  what: 'tokenizer.json (+ tokenizer_config.json) → loadHfTokenizer → encode/decode → chat template',
  files: ['tokenizer.json', 'tokenizer_config.json'],
  async run(rng) {
    const json = structuredClone(bpe.tokenizerJson);
    if (rng.chance(0.25)) {
      const section = rng.pick(['pre_tokenizer', 'normalizer', 'decoder']);
      json[section] = rng.pick([
        { type: 'Split', pattern: { Regex: rng.pick(REGEXES) }, behavior: 'Isolated', invert: false },
        { type: 'Replace', pattern: { Regex: rng.pick(REGEXES) }, content: '' },
        { type: 'FixedLength', length: rng.pick(BOUNDARY_NUMBERS) },
        {
          type: 'Sequence',
          [`${section.replace('_', '')}s`]: [{ type: 'Replace', pattern: { Regex: rng.pick(REGEXES) }, content: 'x' }],
        },
        { type: rng.pick(['Metaspace', 'Whitespace', 'BertPreTokenizer', 'Nope', 'Strip', 'ByteFallback']) },
      ]);
    }
    const config = rng.chance(0.3) ? mutateJson(rng, bpe.tokenizerConfig) : JSON.stringify(bpe.tokenizerConfig);
    const files = {
      'tokenizer.json': enc.encode(
        mutateJson(rng, json, ['vocab', 'merges', 'added_tokens', 'id', 'type', 'max_input_chars_per_word']),
      ),
      'tokenizer_config.json': enc.encode(config),
    };
    const tok = await loadHfTokenizer(memoryFileSet(files, 'tok-folder'));
    exerciseTokenizer(tok, true);
    return 'parsed';
  },
};

const TEMPLATE_SNIPPETS = [
  '{% for i in range(100000000) %}x{% endfor %}',
  '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}',
  "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
  "{{ 'a' | indent(300000000) }}",
  '{{ raise_exception("bad") }}',
  '{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}',
  '{{ messages[99999] }}',
  '{{ 1 / 0 }}',
  '{{ x.y.z }}',
  '{%',
  '{{',
  '{% endfor %}',
  '{{ messages | tojson }}',
  '{% for m in messages %}{{ m["content"] * 100000000 }}{% endfor %}',
  '{{ "%s" | format(1) }}',
  '{% if %}',
  '{{ range(5) | join(",") }}',
  '{{ strftime_now("%d %b %Y") }}',
];

const chatTemplate: FuzzTarget = {
  name: 'chat-template',
  what: 'chat_template text (splices of loops, recursion, huge ranges, syntax errors) → applyChatTemplate → encode',
  files: ['tokenizer_config.json'],
  async run(rng) {
    const template = mutateText(rng, CHATML_TEMPLATE, TEMPLATE_SNIPPETS);
    const tok = new HfTokenizer(bpe.tokenizerJson, { ...bpe.tokenizerConfig, chat_template: template });
    const rendered = tok.applyChatTemplate(
      [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: rng.pick(TEXTS) },
      ],
      { addGenerationPrompt: rng.chance(0.5) },
    );
    tok.encode(rendered.slice(0, 4096));
    return 'parsed';
  },
};

const YAML_SEED = `base_model: org/base
gate_mode: hidden
dtype: bfloat16
experts_per_token: 2
common: &rp ["roleplay", "story"]
experts:
  - source_model: org/a
    positive_prompts: *rp
    negative_prompts: ["python code"]
  - source_model: org/b
    positive_prompts: ["math", "proofs"]
    noise_scale: 0.5
shared_experts:
  - source_model: org/c
    positive_prompts: ["chat"]
`;

const YAML_SNIPPETS = [
  '&a [*a]',
  '*rp',
  '&x {k: *x}',
  '<<: *rp',
  '!!python/object:os.system',
  '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[',
  '\n  - ',
  ': ',
  '"\\u0000"',
  '1e400',
  '-1',
  '9007199254740993',
  '0x7fffffff',
  '.nan',
  '~',
  'yes',
  '\t',
  '? ',
  '---\n',
  '%YAML 1.2\n',
];

const mergekitYaml: FuzzTarget = {
  name: 'mergekit-yaml',
  what: 'a mergekit-moe YAML config (splices of aliases, cycles, deep nesting, odd scalars) → parseMergeYaml → validateMergeConfig',
  files: [],
  async run(rng) {
    let text = mutateText(rng, YAML_SEED, YAML_SNIPPETS);
    if (rng.chance(0.05)) text = `base_model: ${'['.repeat(rng.pick([100, 5000]))}x\nexperts: []`;
    const parsed = parseMergeYaml(text);
    if (!parsed.ok) {
      for (const issue of parsed.issues)
        if (typeof issue.message !== 'string') throw new Error('issue without a message');
      return 'typed';
    }
    const issues = validateMergeConfig(parsed.config);
    return issues.some((i) => i.severity === 'error') ? 'typed' : 'parsed';
  },
};

// llama2.c: header + f32 body (legacy format), and a tok.bin with byte pieces and a few merges.
const L2C = { dim: 16, hidden_dim: 24, n_layers: 1, n_heads: 2, n_kv_heads: 1, seq_len: 8 };
const L2C_PIECES = ['<unk>', '\n<s>\n', '\n</s>\n'];
for (let b = 0; b < 256; b++) L2C_PIECES.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
L2C_PIECES.push(' ', 'a', 'b', 'ab', ' a', 'he', 'll', 'hell', 'o');

function llama2cCheckpoint(): Uint8Array {
  const h = { ...L2C, vocab_size: L2C_PIECES.length };
  const kv = (h.dim * h.n_kv_heads) / h.n_heads;
  const hs = h.dim / h.n_heads;
  const L = h.n_layers;
  const floats =
    h.vocab_size * h.dim +
    L * h.dim * 2 +
    2 * L * h.dim * h.dim +
    2 * L * kv * h.dim +
    3 * L * h.hidden_dim * h.dim +
    h.dim +
    h.seq_len * hs;
  const bytes = new Uint8Array(28 + floats * 4);
  const view = new DataView(bytes.buffer);
  [h.dim, h.hidden_dim, h.n_layers, h.n_heads, h.n_kv_heads, h.vocab_size, h.seq_len].forEach((v, i) =>
    view.setInt32(i * 4, v, true),
  );
  for (let i = 0; i < floats; i++) view.setFloat32(28 + i * 4, Math.sin(i) * 0.1, true);
  return bytes;
}

function llama2cTokenizer(): Uint8Array {
  const parts = L2C_PIECES.map((p) => enc.encode(p));
  const bytes = new Uint8Array(4 + parts.reduce((a, p) => a + 8 + p.length, 0));
  const view = new DataView(bytes.buffer);
  view.setInt32(0, 8, true);
  let at = 4;
  parts.forEach((p, i) => {
    view.setFloat32(at, i > 258 ? -(i - 258) : 0, true);
    view.setInt32(at + 4, p.length, true);
    bytes.set(p, at + 8);
    at += 8 + p.length;
  });
  return bytes;
}

const l2cSeed = { model: llama2cCheckpoint(), tokenizer: llama2cTokenizer() };

const llama2c: FuzzTarget = {
  name: 'llama2c',
  what: 'a llama2.c checkpoint and tokenizer.bin (header fields, bytes) → loadModel → encode/decode → one forward step',
  files: ['model.bin', 'tokenizer.bin'],
  async run(rng) {
    const files: Record<string, Uint8Array> = { 'model.bin': l2cSeed.model, 'tokenizer.bin': l2cSeed.tokenizer };
    const which = rng.chance(0.6) ? 'model.bin' : 'tokenizer.bin';
    const src = files[which]!;
    if (which === 'model.bin' && rng.chance(0.5)) {
      const bytes = src.slice();
      new DataView(bytes.buffer).setInt32(4 * rng.int(7), Math.trunc(rng.pick(BOUNDARY_NUMBERS)) | 0, true);
      files[which] = bytes;
    } else files[which] = mutateBytes(rng, src, [[0, which === 'model.bin' ? 28 : 400]]);
    return loadAndStep(files, 'l2c-folder');
  },
};

// mergekit-moe over donor folders: the layer above the YAML, reading each donor's config.json.
const MERGE_YAML = (gate: string, dtype: string) => `base_model: org/base
gate_mode: ${gate}
${dtype}experts_per_token: 1
experts:
  - source_model: org/e0
    positive_prompts: ["hello world"]
  - source_model: org/e1
    positive_prompts: ["def f(x):"]
`;

let mergeSeeds: Promise<Record<string, Record<string, Uint8Array>>> | undefined;
function mergeDonors(): Promise<Record<string, Record<string, Uint8Array>>> {
  mergeSeeds ??= (async () => {
    const spec = tinyDenseSpec({
      vocab: bpeVocab,
      hidden: 16,
      heads: 2,
      kvHeads: 1,
      headDim: 8,
      intermediate: 24,
      layers: 1,
    });
    const out: Record<string, Record<string, Uint8Array>> = {};
    for (const [i, name] of ['org/base', 'org/e0', 'org/e1'].entries()) {
      const { files } = await exportHfToMemory(randomModelWeights(spec, 10 + i));
      files['tokenizer.json'] = enc.encode(JSON.stringify(bpe.tokenizerJson));
      files['tokenizer_config.json'] = enc.encode(JSON.stringify(bpe.tokenizerConfig));
      out[name] = files;
    }
    return out;
  })();
  return mergeSeeds;
}

const merge: FuzzTarget = {
  name: 'merge',
  what: "a donor's config.json (base or expert; sizes, torch_dtype, model_type, prototype names) → parseMergeYaml → openMergeInputs → planMerge → runMerge into memory",
  files: ['config.json', 'org/'],
  async run(rng) {
    const donors = { ...(await mergeDonors()) };
    const name = rng.pick(Object.keys(donors));
    const folder = { ...donors[name]! };
    const seed = JSON.parse(dec.decode(folder['config.json']));
    folder['config.json'] = enc.encode(
      mutateJson(rng, withLookupName(rng, seed), [...CONFIG_KEYS, 'torch_dtype', 'architectures']),
    );
    donors[name] = folder;
    const gate = rng.pick(['random', 'hidden', 'cheap_embed']);
    const dtype = rng.chance(0.3) ? `dtype: ${rng.pick(['float32', 'bfloat16', 'float16'])}\n` : '';
    const parsed = parseMergeYaml(MERGE_YAML(gate, dtype));
    if (!parsed.ok) throw new Error(`fuzz harness: the merge seed YAML does not parse: ${parsed.issues[0]?.message}`);
    const inputs = await openMergeInputs(parsed.config, async (ref) =>
      memoryFileSet(donors[formatModelReference(ref)]!, formatModelReference(ref)),
    );
    const planned = planMerge(parsed.config, inputs, {});
    if (!planned.ok) {
      for (const issue of planned.issues)
        if (typeof issue.message !== 'string') throw new Error('plan issue without a message');
      return 'typed';
    }
    await runMerge(planned.plan, inputs, memoryWriter(), { runtime: createMergeRuntime() });
    return 'parsed';
  },
};

export const FUZZ_TARGETS: readonly FuzzTarget[] = [
  hfConfig,
  safetensors,
  gguf,
  tokenizer,
  chatTemplate,
  mergekitYaml,
  merge,
  llama2c,
];
