/**
 * The shipped demo zoo (public/zoo) against our own loader, tokenizer and CPU engine:
 * - index.json lists exactly the files of every model folder, with the right size and sha256;
 * - every model loads through loadHfModel, and its config matches its tensors;
 * - the tokenizer reproduces the recorded prompt ids, chat template and decoded text, and is
 *   lossless on the held-out text of every domain;
 * - greedy generation on the CPU reference reproduces samples.json token for token (PyTorch
 *   f32 from the same f16 weights, scripts/zoo/evaluate.py).
 */
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { nodeDirFileSet } from '../../src/cli/node-io.ts';
import { loadHfModel, type LoadedModel } from '../../src/core/model/load.ts';
import { cpuBackend } from '../../src/core/runtime/cpu/backend.ts';
import { generate } from '../../src/core/runtime/generate.ts';

const ZOO_DIR = join(import.meta.dirname, '../../public/zoo');
const MODEL_NAMES = ['base', 'stories', 'code', 'math', 'chat'] as const;
const DOMAINS = ['stories', 'code', 'math', 'chat'] as const;
const ZOO_MAX_BYTES = 40 * 1024 * 1024; // the budget for the whole zoo
/** A recorded greedy step closer than this could flip between two f32 engines. */
const MIN_SAFE_LOGIT_GAP = 1e-3;

interface ZooFileEntry {
  name: string;
  size: number;
  sha256: string;
}
interface ZooModelEntry {
  id: string;
  path: string;
  role: 'base' | 'expert';
  domain?: string;
  title: string;
  description: string;
  files: ZooFileEntry[];
}
interface ZooIndex {
  schemaVersion: number;
  models: ZooModelEntry[];
  mergeConfigs: { name: string; path: string }[];
}
interface ZooSample {
  kind: 'text' | 'chat';
  message: string | null;
  prompt: string;
  addSpecialTokens: boolean;
  maxNewTokens: number;
  promptIds: number[];
  generatedIds: number[];
  generatedText: string;
  stoppedAtEos: boolean;
  minTop2LogitGap: number | null;
}
interface ZooSamples {
  model: string;
  stopIds: number[];
  samples: ZooSample[];
}

async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

async function dirSize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    total += entry.isDirectory() ? await dirSize(full) : (await readFile(full)).byteLength;
  }
  return total;
}

const loaded = new Map<string, Promise<LoadedModel>>();
function loadZooModel(name: string): Promise<LoadedModel> {
  if (!loaded.has(name)) loaded.set(name, loadHfModel(nodeDirFileSet(join(ZOO_DIR, name))));
  return loaded.get(name)!;
}

describe('zoo index', () => {
  it('lists the five models with ids zoo/<path>, roles and domains', async () => {
    const index = await readJson<ZooIndex>(join(ZOO_DIR, 'index.json'));
    expect(index.schemaVersion).toBe(1);
    expect(index.models.map((m) => m.path)).toEqual([...MODEL_NAMES]);
    for (const m of index.models) {
      expect(m.id).toBe(`zoo/${m.path}`);
      expect(m.role).toBe(m.path === 'base' ? 'base' : 'expert');
      expect(m.domain).toBe(m.path === 'base' ? undefined : m.path);
      expect(m.title.length).toBeGreaterThan(0);
      expect(m.description.length).toBeGreaterThan(0);
    }
  });

  it('records the exact size and sha256 of every file in each model folder, and no others', async () => {
    const index = await readJson<ZooIndex>(join(ZOO_DIR, 'index.json'));
    for (const m of index.models) {
      const onDisk = (await readdir(join(ZOO_DIR, m.path))).sort();
      expect(m.files.map((f) => f.name).sort(), m.path).toEqual(onDisk);
      for (const f of m.files) {
        const bytes = await readFile(join(ZOO_DIR, m.path, f.name));
        expect(bytes.byteLength, `${m.path}/${f.name} size`).toBe(f.size);
        expect(createHash('sha256').update(bytes).digest('hex'), `${m.path}/${f.name} sha256`).toBe(f.sha256);
      }
    }
  });

  it('stays within the 40 MB budget', async () => {
    expect(await dirSize(ZOO_DIR)).toBeLessThanOrEqual(ZOO_MAX_BYTES);
  });

  it('ships merge configs naming zoo/base and the four experts with prompts', async () => {
    const index = await readJson<ZooIndex>(join(ZOO_DIR, 'index.json'));
    expect(index.mergeConfigs.map((c) => c.name).sort()).toEqual(['cheap_embed', 'hidden', 'random']);
    for (const c of index.mergeConfigs) {
      const config = parseYaml(await readFile(join(ZOO_DIR, c.path), 'utf8'));
      expect(config.base_model).toBe('zoo/base');
      expect(config.gate_mode).toBe(c.name);
      expect(config.experts_per_token).toBe(2);
      expect(config.experts.map((e: { source_model: string }) => e.source_model)).toEqual(
        DOMAINS.map((d) => `zoo/${d}`),
      );
      for (const e of config.experts) expect(e.positive_prompts.length).toBeGreaterThan(0);
    }
  });
});

describe.each(MODEL_NAMES)('zoo/%s', (name) => {
  it('loads through loadHfModel with a config that matches its tensors', async () => {
    const model = await loadZooModel(name);
    const config = await readJson<Record<string, unknown>>(join(ZOO_DIR, name, 'config.json'));
    const { spec, weights } = model;
    expect(config.model_type).toBe('llama');
    expect(config.tie_word_embeddings).toBe(true);
    expect(spec).toMatchObject({
      arch: 'llama',
      hidden: config.hidden_size,
      intermediate: config.intermediate_size,
      layers: config.num_hidden_layers,
      heads: config.num_attention_heads,
      kvHeads: config.num_key_value_heads,
      vocab: config.vocab_size,
      tieEmbeddings: true,
      ropeStyle: 'half',
    });
    expect(weights.lmHead).toBeUndefined();
    expect(weights.embed.shape).toEqual([spec.vocab, spec.hidden]);
    expect(weights.layers).toHaveLength(spec.layers);
    for (const layer of weights.layers) {
      expect(layer.wq.shape).toEqual([spec.heads * spec.headDim, spec.hidden]);
      expect(layer.wk.shape).toEqual([spec.kvHeads * spec.headDim, spec.hidden]);
      expect(layer.wo.shape).toEqual([spec.hidden, spec.heads * spec.headDim]);
      expect(layer.mlp!.gate.shape).toEqual([spec.intermediate, spec.hidden]);
      expect(layer.mlp!.down.shape).toEqual([spec.hidden, spec.intermediate]);
    }
    expect(model.extraTensors ?? []).toEqual([]);
    expect(model.tokenizer?.vocabSize).toBe(spec.vocab);
  });

  it('tokenizes the recorded prompts to the recorded ids (chat template included)', async () => {
    const { tokenizer } = await loadZooModel(name);
    const recorded = await readJson<ZooSamples>(join(ZOO_DIR, name, 'samples.json'));
    expect(recorded.samples).toHaveLength(3);
    expect(recorded.stopIds).toEqual(tokenizer!.eosTokenIds);
    for (const s of recorded.samples) {
      expect(tokenizer!.encode(s.prompt, { addSpecialTokens: s.addSpecialTokens }), s.prompt).toEqual(s.promptIds);
      expect(tokenizer!.decode(s.generatedIds)).toBe(s.generatedText);
      if (s.kind === 'chat') {
        expect(
          tokenizer!.applyChatTemplate([{ role: 'user', content: s.message! }], { addGenerationPrompt: true }),
        ).toBe(s.prompt);
      }
    }
  });

  it('reproduces every recorded greedy sample on the CPU reference', async () => {
    const { weights, tokenizer } = await loadZooModel(name);
    const recorded = await readJson<ZooSamples>(join(ZOO_DIR, name, 'samples.json'));
    for (const s of recorded.samples) {
      if (s.maxNewTokens > 0)
        expect(s.minTop2LogitGap, 'recorded sample has a near-tie').toBeGreaterThan(MIN_SAFE_LOGIT_GAP);
      const session = await cpuBackend.createSession(weights, { maxContext: 256 });
      const ids: number[] = [];
      for await (const token of generate(session, tokenizer, s.promptIds, {
        temperature: 0,
        maxTokens: s.maxNewTokens,
        stopIds: recorded.stopIds,
      }))
        ids.push(token.id);
      session.dispose();
      expect(ids, s.prompt).toEqual(s.generatedIds);
      expect(ids.length < s.maxNewTokens).toBe(s.stoppedAtEos);
    }
  });
});

describe('zoo tokenizer on held-out text', () => {
  it.each(DOMAINS)('round-trips heldout/%s.txt losslessly', async (domain) => {
    const { tokenizer } = await loadZooModel('base');
    const text = await readFile(join(ZOO_DIR, 'heldout', `${domain}.txt`), 'utf8');
    expect(text.length).toBeGreaterThan(1000);
    const ids = tokenizer!.encode(text, { addSpecialTokens: false });
    expect(tokenizer!.decode(ids)).toBe(text);
  });

  it('ends a chat answer with <|end|>, the EOS token', async () => {
    const { tokenizer } = await loadZooModel('chat');
    const recorded = await readJson<ZooSamples>(join(ZOO_DIR, 'chat', 'samples.json'));
    expect(tokenizer!.eosToken).toBe('<|end|>');
    expect(recorded.samples.some((s) => s.stoppedAtEos)).toBe(true);
  });
});
