import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.ts';
import { hfTensorEntries } from './hf-tensors.ts';
import { detectMixtralLayout, nameTableFor, tensorName } from './names.ts';
import { tinyDenseSpec, tinyMoeSpec, tinyQwenMoeSpec } from './random.ts';

describe('tensor-name tables', () => {
  it('expands {layer} and {expert}, and refuses a missing index', () => {
    expect(tensorName('model.layers.{layer}.block_sparse_moe.experts.{expert}.w1.weight', 3, 7)).toBe(
      'model.layers.3.block_sparse_moe.experts.7.w1.weight',
    );
    expect(() => tensorName('model.layers.{layer}.x', undefined)).toThrow(ConfigError);
  });

  it('detects the fused Mixtral layout from gate_up_proj, else classic', () => {
    expect(detectMixtralLayout(['model.layers.0.mlp.experts.gate_up_proj', 'model.norm.weight'])).toBe('fused');
    expect(detectMixtralLayout(['model.layers.0.block_sparse_moe.experts.0.w1.weight'])).toBe('classic');
  });

  it('names a dense llama: embed, 9 per layer, norm, lm_head (none when tied)', () => {
    const spec = tinyDenseSpec();
    const names = hfTensorEntries(spec, nameTableFor(spec)).map((e) => e.name);
    expect(names.slice(0, 10)).toEqual([
      'model.embed_tokens.weight',
      'model.layers.0.input_layernorm.weight',
      'model.layers.0.self_attn.q_proj.weight',
      'model.layers.0.self_attn.k_proj.weight',
      'model.layers.0.self_attn.v_proj.weight',
      'model.layers.0.self_attn.o_proj.weight',
      'model.layers.0.post_attention_layernorm.weight',
      'model.layers.0.mlp.gate_proj.weight',
      'model.layers.0.mlp.up_proj.weight',
      'model.layers.0.mlp.down_proj.weight',
    ]);
    expect(names).toHaveLength(1 + 2 * 9 + 2);
    expect(names.at(-1)).toBe('lm_head.weight');
    const tied = tinyDenseSpec({ tieEmbeddings: true });
    expect(hfTensorEntries(tied, nameTableFor(tied)).map((e) => e.name)).not.toContain('lm_head.weight');
  });

  it('names qwen2 q/k/v biases with their shapes', () => {
    const spec = tinyDenseSpec({ arch: 'qwen2', qkvBias: true });
    const entries = hfTensorEntries(spec, nameTableFor(spec));
    expect(entries.find((e) => e.name === 'model.layers.1.self_attn.k_proj.bias')?.shape).toEqual([16]);
    expect(entries.some((e) => e.name.endsWith('o_proj.bias'))).toBe(false);
  });

  it('names classic Mixtral experts w1=gate [I,H], w2=down [H,I], w3=up [I,H] and the router', () => {
    const spec = tinyMoeSpec();
    const byName = new Map(hfTensorEntries(spec, nameTableFor(spec, 'classic')).map((e) => [e.name, e]));
    const p = 'model.layers.1.block_sparse_moe';
    expect(byName.get(`${p}.experts.2.w1.weight`)).toMatchObject({
      shape: [40, 48],
      role: { kind: 'expert', key: 'gate', expert: 2 },
    });
    expect(byName.get(`${p}.experts.2.w2.weight`)).toMatchObject({
      shape: [48, 40],
      role: { kind: 'expert', key: 'down' },
    });
    expect(byName.get(`${p}.experts.2.w3.weight`)).toMatchObject({
      shape: [40, 48],
      role: { kind: 'expert', key: 'up' },
    });
    expect(byName.get(`${p}.gate.weight`)).toMatchObject({ shape: [4, 48], role: { kind: 'router' } });
  });

  it('names fused Mixtral tensors without a .weight suffix, [E,2I,H] and [E,H,I]', () => {
    const spec = tinyMoeSpec();
    const entries = hfTensorEntries(spec, nameTableFor(spec, 'fused')).filter((e) => e.name.includes('layers.0.mlp'));
    expect(entries.map((e) => [e.name, e.shape])).toEqual([
      ['model.layers.0.mlp.experts.gate_up_proj', [4, 80, 48]],
      ['model.layers.0.mlp.experts.down_proj', [4, 48, 40]],
      ['model.layers.0.mlp.gate.weight', [4, 48]],
    ]);
  });

  it('names qwen2_moe experts, the singular shared_expert and its [1,H] gate', () => {
    const spec = tinyQwenMoeSpec();
    const byName = new Map(hfTensorEntries(spec, nameTableFor(spec)).map((e) => [e.name, e]));
    expect(byName.get('model.layers.0.mlp.experts.4.down_proj.weight')?.shape).toEqual([48, 24]);
    expect(byName.get('model.layers.0.mlp.shared_expert.up_proj.weight')?.shape).toEqual([56, 48]);
    expect(byName.get('model.layers.0.mlp.shared_expert_gate.weight')?.shape).toEqual([1, 48]);
    expect(byName.get('model.layers.0.mlp.gate.weight')?.shape).toEqual([5, 48]);
  });
});
