import { beforeAll, describe, expect, it } from 'vitest';
import { CancelledError } from '../errors.ts';
import { openSafetensorsFolder } from '../formats/safetensors-folder.ts';
import { parseMergeYaml } from '../formats/mergekit-yaml.ts';
import { MemorySink, memoryFileSet, type ByteSink, type FileSet } from '../io/byte-source.ts';
import { cpuBackend } from '../runtime/cpu/backend.ts';
import { createMergeRuntime } from './default-runtime.ts';
import { mergedModelWeights } from './memory-model.ts';
import { planMerge } from './plan.ts';
import { runMerge, type MergeProgress } from './run.ts';
import { openMergeInputs, type MergeInputs } from './sources.ts';
import { mapResolver, mergeInMemory, randomHfFolder, testingDenseSpec } from './models.testing.ts';
import { folderWriter } from './writer.ts';

const spec = testingDenseSpec();
let folders: Record<string, FileSet>;

beforeAll(async () => {
  folders = {
    'org/base': (await randomHfFolder('org/base', 21, spec, 'bf16')).files,
    'org/a': (await randomHfFolder('org/a', 22, spec, 'bf16')).files,
    'org/b': (await randomHfFolder('org/b', 23, spec, 'bf16')).files,
  };
});

const YAML = `# hidden gates over two experts
base_model: org/base
experts:
  - source_model: org/a
    positive_prompts: ["Once upon a time"]
  - source_model: org/b
    positive_prompts: ["def add(a, b):"]
`;

async function prepare(yaml: string, allowAllSameModels = false) {
  const parsed = parseMergeYaml(yaml);
  if (!parsed.ok) throw new Error('parse');
  const inputs = await openMergeInputs(parsed.config, mapResolver(folders));
  const planned = planMerge(parsed.config, inputs, { allowAllSameModels });
  if (!planned.ok) throw new Error(planned.issues[0]!.message);
  return { plan: planned.plan, inputs };
}

function folderSinks() {
  const files = new Map<string, MemorySink>();
  const open = async (name: string): Promise<ByteSink> => {
    const s = new MemorySink();
    files.set(name, s);
    return s;
  };
  const fileSet = () => memoryFileSet(Object.fromEntries([...files].map(([n, s]) => [n, s.bytes()])), 'out');
  return { files, open, fileSet };
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);
async function readAll(files: FileSet, name: string): Promise<Uint8Array> {
  const src = await files.open(name);
  return src.read(0, src.size);
}

describe('output files (conformance rules 8, 34)', () => {
  it('rule 34: one shard → model.safetensors; config.json, generation_config.json, tokenizer files and the verbatim YAML', async () => {
    const { plan, inputs } = await prepare(YAML);
    const out = folderSinks();
    const result = await runMerge(plan, inputs, folderWriter(out.open), { runtime: createMergeRuntime() });
    expect(result.files).toEqual([
      'model.safetensors',
      'config.json',
      'generation_config.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'mergekit_moe_config.yml',
    ]);
    expect(text(out.files.get('mergekit_moe_config.yml')!.bytes())).toBe(YAML);
    expect(JSON.parse(text(out.files.get('config.json')!.bytes())).model_type).toBe('mixtral');
  });

  it('rule 34: a small --out-shard-size gives model-0000k-of-0000N shards + an index with total_size in bytes', async () => {
    const { plan, inputs } = await prepare(YAML);
    const out = folderSinks();
    const result = await runMerge(plan, inputs, folderWriter(out.open, { maxShardBytes: 40_000 }), {
      runtime: createMergeRuntime(),
    });
    const shards = result.files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f));
    expect(shards.length).toBeGreaterThan(1);
    const index = JSON.parse(text(out.files.get('model.safetensors.index.json')!.bytes()));
    expect(index.metadata.total_size).toBe(plan.totalBytes);
    const dir = await openSafetensorsFolder(out.fileSet());
    expect(dir.names().sort()).toEqual(plan.tensors.map((t) => t.name).sort());
  });

  it('rule 8: the saved tokenizer is the modified one: padding_side left, pad = BOS (EOS when there is no BOS)', async () => {
    const { output } = await mergeInMemory(YAML, folders);
    const cfg = JSON.parse(text(output.files.get('tokenizer_config.json')!));
    expect(cfg.padding_side).toBe('left');
    expect(cfg.pad_token).toBe('<|endoftext|>');
    const base = folders['org/base']!;
    const copy = Object.fromEntries(
      await Promise.all((await base.list()).map(async (f) => [f, await readAll(base, f)] as const)),
    );
    const noBosConfig = { ...JSON.parse(text(copy['tokenizer_config.json']!)), bos_token: null };
    const noBos = memoryFileSet(
      { ...copy, 'tokenizer_config.json': new TextEncoder().encode(JSON.stringify(noBosConfig)) },
      'nobos',
    );
    const r = await mergeInMemory(
      `${YAML.replace('gate_mode', 'x').replace('base_model: org/base', 'base_model: org/nobos')}gate_mode: random\n`,
      { ...folders, 'org/nobos': noBos },
    );
    expect(JSON.parse(text(r.output.files.get('tokenizer_config.json')!)).pad_token).toBe('<|im_end|>');
  });
});

describe('the merged model runs in the engine without exporting', () => {
  it('a MoE whose experts are all the base gives the base logits (renormalized top-k of identical experts)', async () => {
    const same = `base_model: org/base\ngate_mode: random\ndtype: float32\nexperts_per_token: 2\nexperts:\n  - source_model: org/base\n  - source_model: org/base\n  - source_model: org/base\n`;
    const { plan, output, result } = await mergeInMemory(same, folders, { allowAllSameModels: true });
    expect(result.warnings).toContain(
      'Your model has 3 experts, which is not a power of two. The model will not be usable in llama.cpp.',
    );
    const merged = await mergedModelWeights(plan, output);
    expect(merged.weights.spec.moe).toMatchObject({ experts: 3, expertsPerToken: 2 });
    expect(merged.tokenizer!.bosToken).toBe('<|endoftext|>');
    const moe = await cpuBackend.createSession(merged.weights, { maxContext: 16 });
    const { loadHfWeights } = await import('../model/load-hf.ts');
    const { parseHfConfig } = await import('../model/hf-config.ts');
    const baseDir = await openSafetensorsFolder(folders['org/base']!);
    const baseCfg = JSON.parse(text(await readAll(folders['org/base']!, 'config.json')));
    const dense = await cpuBackend.createSession((await loadHfWeights(parseHfConfig(baseCfg), baseDir)).weights, {
      maxContext: 16,
    });
    const ids = [5, 17, 42, 99, 3];
    const a = (await moe.forward(ids)).logits;
    const b = (await dense.forward(ids)).logits;
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    expect(worst).toBeLessThan(1e-4); // f32 reassociation only: Σ w_e·y with Σ w_e = 1
  });
});

describe('progress, cancellation, bounded memory', () => {
  it('reports typed progress: gates, every tensor with bytes, files, done', async () => {
    const events: MergeProgress[] = [];
    const { plan } = await mergeInMemory(YAML, folders, {}, { onProgress: (p) => events.push(p) });
    expect(events[0]!.phase).toBe('gates');
    const tensors = events.filter((e) => e.phase === 'tensors');
    expect(tensors.map((e) => e.tensor)).toEqual(plan.tensors.map((t) => t.name));
    expect(tensors[tensors.length - 1]!.bytesDone).toBe(plan.totalBytes);
    expect(tensors.find((e) => e.tensor === 'model.layers.1.self_attn.q_proj.weight')!.layer).toBe(1);
    expect(events[events.length - 1]!.phase).toBe('done');
  });

  it('an AbortSignal mid-merge rejects with CancelledError and never reports done or writes config.json', async () => {
    const { plan, inputs } = await prepare(YAML);
    const controller = new AbortController();
    const phases: string[] = [];
    const out = folderSinks();
    const run = runMerge(plan, inputs, folderWriter(out.open), {
      runtime: createMergeRuntime(),
      signal: controller.signal,
      onProgress: (p) => {
        phases.push(p.phase);
        if (p.tensor === 'model.layers.0.self_attn.o_proj.weight') controller.abort();
      },
    });
    await expect(run).rejects.toBeInstanceOf(CancelledError);
    expect(phases).not.toContain('done');
    expect(out.files.has('config.json')).toBe(false);
  });

  it('streams: each source tensor is read just before its output tensor is written, never all up front', async () => {
    const { plan, inputs } = await prepare(YAML);
    const log: string[] = [];
    const spied: MergeInputs = {
      models: new Map(
        [...inputs.models].map(([k, m]) => [
          k,
          {
            ...m,
            tensors: {
              ...m.tensors,
              readTensor: (n: string) => {
                log.push(`read ${m.label} ${n}`);
                return m.tensors.readTensor(n);
              },
            },
          },
        ]),
      ),
    };
    const writer = {
      async writeTensors(entries: { name: string }[], getData: (n: string) => Promise<unknown>) {
        for (const e of entries) {
          await getData(e.name);
          log.push(`write ${e.name}`);
        }
      },
      async writeFile() {},
      async finish() {
        return [];
      },
    };
    await runMerge(plan, spied, writer, { runtime: createMergeRuntime() });
    const firstWrite = log.findIndex((l) => l.startsWith('write'));
    const readsBefore = log.slice(0, firstWrite).filter((l) => l.startsWith('read'));
    // Only the base is loaded for the hidden gates (every base tensor once), then dropped.
    expect(readsBefore.every((l) => l.startsWith('read org/base '))).toBe(true);
    const gateReads = readsBefore.slice(0, -1); // the last one is the first output tensor's source
    expect(new Set(gateReads).size).toBe(gateReads.length);
    expect(gateReads.length).toBe(
      await (await import('../formats/safetensors-folder.ts'))
        .openSafetensorsFolder(folders['org/base']!)
        .then((d) => d.names().length),
    );
    // Then every source read is immediately followed by its output tensor's write (routers read nothing).
    const afterGates = log.slice(firstWrite - 1);
    afterGates.forEach((l, i) => {
      if (l.startsWith('read')) expect(afterGates[i + 1]).toMatch(/^write /);
    });
    expect(afterGates.filter((l) => l.startsWith('write'))).toHaveLength(plan.tensors.length);
  });
});
