import { beforeAll, describe, expect, it } from 'vitest';
import { openSafetensorsFolder } from '../formats/safetensors-folder.ts';
import type { FileSet } from '../io/byte-source.ts';
import { mapResolver, mergeInMemory, qwen3Folder, testingDenseSpec } from './models.testing.ts';
import { buildMergeInMemory } from './build.ts';
import { cpuBackend } from '../runtime/cpu/backend.ts';
import { allclose } from '../runtime/cpu/allclose.testing.ts';

const spec = testingDenseSpec();
let folders: Record<string, FileSet>;

beforeAll(async () => {
  folders = {
    'q/base': await qwen3Folder('q/base', 31, spec),
    'q/a': await qwen3Folder('q/a', 32, spec),
    'q/b': await qwen3Folder('q/b', 33, spec),
  };
});

const YAML = `base_model: q/base
gate_mode: uniform_random
experts:
  - source_model: q/a
    positive_prompts: ["x"]
  - source_model: q/b
    positive_prompts: ["y"]
`;

describe('Qwen3 MoE output (conformance rule 29)', () => {
  it('rule 29: qwen3 inputs without shared experts → Qwen3 MoE: per-expert names, q_norm/k_norm from the base, config', async () => {
    const { plan, output } = await mergeInMemory(YAML, folders);
    expect(plan.arch).toBe('Qwen3 MoE');
    // random gates are merged as asked, with a warning that they route by chance
    expect(plan.warnings.filter((w) => w.includes('gate_mode'))).toEqual([
      `merge: gate_mode uniform_random gives routers of random numbers, unrelated to the prompts: tokens reach experts by chance until the router is calibrated (Compose's "Calibrate router", --calibrate) or trained`,
    ]);
    expect(plan.outputConfig).toMatchObject({
      architectures: ['Qwen3MoeForCausalLM'],
      model_type: 'qwen3_moe',
      num_experts: 2,
      num_experts_per_tok: 2,
      decoder_sparse_step: 1,
      norm_topk_prob: true,
      moe_intermediate_size: spec.intermediate,
    });
    const base = await openSafetensorsFolder(folders['q/base']!);
    const b = await openSafetensorsFolder(folders['q/b']!);
    expect(Array.from(output.tensors.get('model.layers.1.self_attn.k_norm.weight')!.data)).toEqual(
      Array.from((await base.readTensor('model.layers.1.self_attn.k_norm.weight')).data),
    );
    expect(Array.from(output.tensors.get('model.layers.0.mlp.experts.1.down_proj.weight')!.data)).toEqual(
      Array.from((await b.readTensor('model.layers.0.mlp.down_proj.weight')).data),
    );
    expect(output.tensors.get('model.layers.0.mlp.gate.weight')!.shape).toEqual([2, spec.hidden]);
  });

  it('rule 29: the fused (main) layout stacks gate/up and down like Mixtral v5', async () => {
    const { output } = await mergeInMemory(YAML, folders, { layout: 'fused' });
    expect(output.tensors.get('model.layers.0.mlp.experts.gate_up_proj')!.shape).toEqual([
      2,
      2 * spec.intermediate,
      spec.hidden,
    ]);
    expect(output.tensors.has('model.layers.0.mlp.experts.0.gate_proj.weight')).toBe(false);
  });

  it('rule 29: Qwen3 MoE refuses shared experts (upstream message)', async () => {
    await expect(
      mergeInMemory(`${YAML}shared_experts:\n  - source_model: q/base\n    positive_prompts: ["z"]\n`, folders),
    ).rejects.toThrow(/No output architecture found that is compatible/);
  });
});

describe('a Qwen3 MoE output runs here', () => {
  it('loads as qwen3_moe with its q/k norms (from the base) and runs; the norms are in effect', async () => {
    const built = await buildMergeInMemory(YAML, mapResolver(folders));
    const weights = built.model!.weights;
    expect(weights.spec).toMatchObject({ arch: 'qwen3_moe', qkNorm: true, moe: { experts: 2, normTopK: true } });
    expect(weights.layers[0]!.qNorm!.shape).toEqual([spec.hidden / spec.heads]);
    const ids = [1, 5, 9, 13];
    const logits = async (w: typeof weights) =>
      (await (await cpuBackend.createSession(w, { maxContext: 8 })).forward(ids)).logits;
    const ours = await logits(weights);
    expect(ours.every(Number.isFinite)).toBe(true);
    const withoutNorms = { ...weights, layers: weights.layers.map(({ qNorm: _q, kNorm: _k, ...l }) => l) };
    expect(allclose(ours, await logits(withoutNorms), { atol: 1e-3, rtol: 1e-3 }, 'logits').ok).toBe(false);
  });
  it('the fused layout (mergekit main) loads too, with the same weights and logits as the classic one', async () => {
    const classic = (await buildMergeInMemory(YAML, mapResolver(folders))).model!.weights;
    const fused = (await buildMergeInMemory(YAML, mapResolver(folders), { layout: 'fused' })).model!.weights;
    expect(fused.spec).toEqual(classic.spec);
    const ids = [1, 5, 9, 13];
    const logits = async (w: typeof classic) =>
      (await (await cpuBackend.createSession(w, { maxContext: 8 })).forward(ids)).logits;
    expect(Array.from(await logits(fused))).toEqual(Array.from(await logits(classic)));
  });
});
