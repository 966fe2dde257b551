import { beforeAll, describe, expect, it } from 'vitest';
import { parseMergeYaml } from '../formats/mergekit-yaml.ts';
import type { FileSet } from '../io/byte-source.ts';
import { dequantize } from '../quant/convert.ts';
import type { RawTensor } from '../tensor.ts';
import { computeGates } from './gates.ts';
import { planMerge } from './plan.ts';
import { openMergeInputs, openModel } from './sources.ts';
import { mapResolver, mergeInMemory, randomHfFolder, testingDenseSpec } from './models.testing.ts';
import { loadHfTokenizer } from '../tokenizer/hf.ts';
import { cpuBackend } from '../runtime/cpu/backend.ts';
import { mergedModelWeights } from './memory-model.ts';

const spec = testingDenseSpec();
const H = spec.hidden;
let folders: Record<string, FileSet>;

beforeAll(async () => {
  folders = {
    'org/base': (await randomHfFolder('org/base', 11, spec, 'f32')).files,
    'org/a': (await randomHfFolder('org/a', 12, spec, 'f32')).files,
    'org/b': (await randomHfFolder('org/b', 13, spec, 'f32')).files,
    'org/c': (await randomHfFolder('org/c', 14, spec, 'f32')).files,
    'org/deep': (await randomHfFolder('org/deep', 15, testingDenseSpec({ layers: 3 }), 'f32')).files,
  };
});

const EXPERTS = `base_model: org/base
gate_mode: cheap_embed
experts:
  - source_model: org/a
    positive_prompts: ["Once upon a time"]
  - source_model: org/b
    positive_prompts: ["def add(a, b):"]
`;
const DEEPSEEK = `${EXPERTS}shared_experts:\n  - source_model: org/base\n    residual_scale: 0.1\n`;
const QWEN = `${EXPERTS}shared_experts:\n  - source_model: org/base\n    positive_prompts: ["Hello! How are you"]\n    residual_scale: 0.1\n`;

async function source(model: string, name: string): Promise<RawTensor> {
  return (await openModel({ path: model }, async () => folders[model]!)).tensors.readTensor(name);
}
const values = (t: RawTensor | undefined) => Array.from(dequantize(t!));

describe('DeepSeek MoE output (conformance rules 25, 26, 32)', () => {
  it('rule 25: config = full base dict + DeepSeek fields and the remote-code auto_map', async () => {
    const { plan } = await mergeInMemory(DEEPSEEK, folders);
    expect(plan.arch).toBe('DeepSeek MoE');
    expect(plan.outputConfig).toMatchObject({
      architectures: ['DeepseekForCausalLM'],
      model_type: 'deepseek',
      n_routed_experts: 2,
      n_shared_experts: 1,
      num_experts_per_tok: 2,
      first_k_dense_replace: 0,
      moe_layer_freq: 1,
      scoring_func: 'softmax',
      norm_topk_prob: true,
      moe_intermediate_size: spec.intermediate,
      hidden_size: H,
    });
    expect((plan.outputConfig.auto_map as Record<string, string>).AutoModelForCausalLM).toBe(
      'deepseek-ai/deepseek-moe-16b-base--modeling_deepseek.DeepseekForCausalLM',
    );
  });

  it('rule 26: mlp.experts.{e}.*, ungated mlp.shared_experts.* (plural, residual_scale applied), router mlp.gate.weight (E, H)', async () => {
    const { output } = await mergeInMemory(DEEPSEEK, folders);
    expect(values(output.tensors.get('model.layers.1.mlp.experts.1.gate_proj.weight'))).toEqual(
      values(await source('org/b', 'model.layers.1.mlp.gate_proj.weight')),
    );
    const down = await source('org/base', 'model.layers.0.mlp.down_proj.weight');
    expect(values(output.tensors.get('model.layers.0.mlp.shared_experts.down_proj.weight'))).toEqual(
      Array.from(dequantize(down)).map((x) => Math.fround(x * 0.1)),
    );
    expect(values(output.tensors.get('model.layers.0.mlp.shared_experts.up_proj.weight'))).toEqual(
      values(await source('org/base', 'model.layers.0.mlp.up_proj.weight')),
    );
    expect(output.tensors.get('model.layers.0.mlp.gate.weight')!.shape).toEqual([2, H]);
    expect([...output.tensors.keys()].some((n) => n.includes('shared_expert_gate'))).toBe(false);
  });

  it('rule 32: a shared expert that is neither the base nor an expert is opened and merged (upstream crashes; we fix)', async () => {
    const { output } = await mergeInMemory(
      DEEPSEEK.replace('  - source_model: org/base\n    residual_scale', '  - source_model: org/c\n    residual_scale'),
      folders,
    );
    expect(values(output.tensors.get('model.layers.1.mlp.shared_experts.gate_proj.weight'))).toEqual(
      values(await source('org/c', 'model.layers.1.mlp.gate_proj.weight')),
    );
  });
});

describe('Qwen MoE output (conformance rules 16, 27, 28)', () => {
  it('rule 27: config = Qwen2-MoE fields, sliding off, shared and moe intermediate sizes', async () => {
    const { plan } = await mergeInMemory(QWEN, folders);
    expect(plan.arch).toBe('Qwen MoE');
    expect(plan.outputConfig).toMatchObject({
      architectures: ['Qwen2MoeForCausalLM'],
      model_type: 'qwen2_moe',
      num_experts: 2,
      num_experts_per_tok: 2,
      decoder_sparse_step: 1,
      norm_topk_prob: true,
      sliding_window: null,
      use_sliding_window: false,
      shared_expert_intermediate_size: spec.intermediate,
      moe_intermediate_size: spec.intermediate,
    });
  });

  it('rule 28: experts, singular shared_expert, gate (E,H), shared_expert_gate (1,H); missing q/k/v biases become zeros', async () => {
    const { output } = await mergeInMemory(QWEN, folders);
    expect(values(output.tensors.get('model.layers.1.mlp.experts.0.up_proj.weight'))).toEqual(
      values(await source('org/a', 'model.layers.1.mlp.up_proj.weight')),
    );
    expect(output.tensors.has('model.layers.1.mlp.shared_expert.up_proj.weight')).toBe(true);
    expect(output.tensors.get('model.layers.1.mlp.shared_expert_gate.weight')!.shape).toEqual([1, H]);
    const headDim = H / spec.heads;
    const q = output.tensors.get('model.layers.0.self_attn.q_proj.bias')!;
    const k = output.tensors.get('model.layers.0.self_attn.k_proj.bias')!;
    expect(q.shape).toEqual([spec.heads * headDim]);
    expect(k.shape).toEqual([spec.kvHeads * headDim]);
    expect(values(q).every((x) => x === 0) && values(k).every((x) => x === 0)).toBe(true);
  });

  it('the Qwen MoE output loads into the engine: gated shared expert, zero q/k/v biases, finite logits', async () => {
    const { plan, output } = await mergeInMemory(QWEN, folders);
    const merged = await mergedModelWeights(plan, output);
    expect(merged.weights.spec.moe).toMatchObject({
      experts: 2,
      expertsPerToken: 2,
      normTopK: true,
      sharedExpert: { gated: true },
    });
    expect(merged.weights.layers[0]!.bq!.shape).toEqual([H]);
    const session = await cpuBackend.createSession(merged.weights, { maxContext: 8 });
    const { logits, routing } = await session.forward([4, 5, 6], { trace: true });
    expect(logits.every(Number.isFinite)).toBe(true);
    expect(routing![2]!.layers[0]!.sharedGate).toBeGreaterThan(0);
  });

  it('rule 16: gate rows are the experts in config order, then the shared expert', async () => {
    const { output, plan } = await mergeInMemory(QWEN, folders);
    const tokenizer = await loadHfTokenizer(folders['org/base']!);
    const base = await openModel({ path: 'org/base' }, async () => folders['org/base']!);
    const one = async (i: number) =>
      (
        await computeGates('cheap_embed', [plan.gateOwners[i]!], {
          layers: spec.layers,
          hidden: H,
          tokenizer,
          seed: 0,
          loadEmbedding: () => base.tensors.readTensor('model.embed_tokens.weight'),
        })
      )[0]!;
    const router = values(output.tensors.get('model.layers.0.mlp.gate.weight'));
    expect(router.slice(0, H)).toEqual(Array.from(await one(0)));
    expect(router.slice(H)).toEqual(Array.from(await one(1)));
    expect(values(output.tensors.get('model.layers.0.mlp.shared_expert_gate.weight'))).toEqual(
      Array.from(await one(2)),
    );
  });

  it('rule 16: in random modes the shared expert gets a gate row too (DeepSeek drops it from the router)', async () => {
    const { plan, result, output } = await mergeInMemory(
      `${DEEPSEEK}gate_mode: random\n`.replace('gate_mode: cheap_embed\n', ''),
      folders,
    );
    expect(plan.gateOwners).toHaveLength(3);
    expect(result.gates[0]!.length).toBe(3 * H);
    expect(output.tensors.get('model.layers.0.mlp.gate.weight')!.shape).toEqual([2, H]);
  });
});

describe('compatibility checks (conformance rule 31, an extension)', () => {
  it('rule 31: an expert whose layer count differs is refused before any tensor is read, naming model and field', async () => {
    const parsed = parseMergeYaml(EXPERTS.replace('source_model: org/b\n', 'source_model: org/deep\n'));
    if (!parsed.ok) throw new Error('parse');
    const inputs = await openMergeInputs(parsed.config, mapResolver(folders));
    const planned = planMerge(parsed.config, inputs);
    expect(planned.ok).toBe(false);
    if (!planned.ok) {
      expect(planned.issues.map((i) => i.message)).toEqual([
        "merge: experts.1 'org/deep' has num_hidden_layers = 3, but the base 'org/base' has 2 (compatibility check; an extension over mergekit, which does not check this)",
      ]);
    }
  });

  it('rule 31: hidden size, heads, kv heads, vocab and rope mismatches are named too', async () => {
    const odd = (await randomHfFolder('org/odd', 16, testingDenseSpec({ kvHeads: 3, ropeTheta: 5e5 }), 'f32')).files;
    const parsed = parseMergeYaml(EXPERTS.replace('source_model: org/b\n', 'source_model: org/odd\n'));
    if (!parsed.ok) throw new Error('parse');
    const planned = planMerge(
      parsed.config,
      await openMergeInputs(parsed.config, mapResolver({ ...folders, 'org/odd': odd })),
    );
    const fields = planned.ok ? [] : planned.issues.map((i) => /has (\w+) =/.exec(i.message)?.[1]);
    expect(fields).toEqual(['num_key_value_heads', 'rope_theta']);
  });
});
