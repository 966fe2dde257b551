import { beforeAll, describe, expect, it } from 'vitest';
import type { FileSet } from '../io/byte-source.ts';
import { dequantize, quantize } from '../quant/convert.ts';
import { bf16ToF32, f32ToBf16 } from '../quant/convert.ts';
import type { RawTensor } from '../tensor.ts';
import { randomHfFolder, mapResolver, mergeInMemory, testingDenseSpec } from './models.testing.ts';
import { buildMergeInMemory } from './build.ts';
import { cpuBackend } from '../runtime/cpu/backend.ts';
import { allclose } from '../runtime/cpu/allclose.testing.ts';
import { openModel } from './sources.ts';

const spec = testingDenseSpec();
const I = spec.intermediate;
const H = spec.hidden;
let folders: Record<string, FileSet>;

beforeAll(async () => {
  folders = {
    'org/base': (await randomHfFolder('org/base', 1, spec, 'bf16')).files,
    'org/a': (await randomHfFolder('org/a', 2, spec, 'bf16')).files,
    'org/b': (await randomHfFolder('org/b', 3, spec, 'bf16')).files,
    'org/tied': (await randomHfFolder('org/tied', 4, testingDenseSpec({ tieEmbeddings: true }), 'f32')).files,
  };
});

const YAML = `base_model: org/base
gate_mode: cheap_embed
experts:
  - source_model: org/a
    positive_prompts: ["Once upon a time"]
  - source_model: org/b
    positive_prompts: ["def add(a, b):"]
    residual_scale: 0.5
`;

async function source(model: string, name: string): Promise<RawTensor> {
  const m = await openModel({ path: model }, async () => folders[model]!);
  return m.tensors.readTensor(name);
}

const bytes = (t: RawTensor | undefined) => Array.from(t!.data);

describe('Mixtral output (conformance rules 21, 22, 24, 30)', () => {
  it('rule 21: legacy names w1/w2/w3 = gate/down/up of expert e, byte for byte', async () => {
    const { output } = await mergeInMemory(YAML, folders);
    for (const [e, model] of [
      [0, 'org/a'],
      [1, 'org/b'],
    ] as const) {
      for (const [w, proj] of [
        ['w1', 'gate_proj'],
        ['w3', 'up_proj'],
      ] as const) {
        const out = output.tensors.get(`model.layers.1.block_sparse_moe.experts.${e}.${w}.weight`);
        expect(out!.shape).toEqual([I, H]);
        expect(bytes(out)).toEqual(bytes(await source(model, `model.layers.1.mlp.${proj}.weight`)));
      }
    }
    expect(output.tensors.get('model.layers.0.block_sparse_moe.gate.weight')!.shape).toEqual([2, H]);
  });

  it('rule 22: the classic (v0.1.4) writer never applies residual_scale to w2; matching main applies it', async () => {
    const { output, plan } = await mergeInMemory(YAML, folders);
    // not applied, and said so (never silently dropped)
    expect(plan.warnings.filter((w) => w.includes('residual_scale'))).toEqual([
      "merge: experts[1].residual_scale 0.5 is not applied: mergekit v0.1.4's Mixtral writer ignores it, and this merge matches v0.1.4; the fused layout or --mergekit-version main applies it",
    ]);
    const src = await source('org/b', 'model.layers.0.mlp.down_proj.weight');
    expect(bytes(output.tensors.get('model.layers.0.block_sparse_moe.experts.1.w2.weight'))).toEqual(bytes(src));
    const main = await mergeInMemory(YAML, folders, { residualScaleBehaviour: 'main' });
    expect(main.plan.warnings.some((w) => w.includes('residual_scale'))).toBe(false);
    const scaled = dequantize(main.output.tensors.get('model.layers.0.block_sparse_moe.experts.1.w2.weight')!);
    const want = dequantize(src).map((x) => bf16ToF32(f32ToBf16(x * 0.5)));
    expect(Array.from(scaled)).toEqual(Array.from(want));
  });

  it('rule 30: every non-MLP tensor is the base tensor, byte for byte, under the same name', async () => {
    const { output } = await mergeInMemory(YAML, folders);
    for (const name of [
      'model.embed_tokens.weight',
      'model.norm.weight',
      'lm_head.weight',
      'model.layers.1.self_attn.k_proj.weight',
      'model.layers.0.input_layernorm.weight',
      'model.layers.1.post_attention_layernorm.weight',
    ]) {
      const src = await source('org/base', name);
      const out = output.tensors.get(name)!;
      if (src.dtype === out.dtype) expect(bytes(out), name).toEqual(bytes(src));
      else
        expect(Array.from(dequantize(out)), name).toEqual(
          Array.from(dequantize(src)).map((x) => bf16ToF32(f32ToBf16(x))),
        ); // f32 norms cast to bf16
    }
    expect([...output.tensors.keys()].some((n) => n.includes('.mlp.'))).toBe(false);
  });

  it('rule 30: lm_head is skipped when the base ties embeddings; tie_word_embeddings carries over', async () => {
    const { output, plan } = await mergeInMemory(YAML.replace('base_model: org/base', 'base_model: org/tied'), folders);
    expect(output.tensors.has('lm_head.weight')).toBe(false);
    expect(plan.outputConfig.tie_word_embeddings).toBe(true);
  });

  it('rule 24: config = base keys carried + Mixtral fields, sliding_window null, torch_dtype', async () => {
    const { plan } = await mergeInMemory(YAML, folders);
    const c = plan.outputConfig;
    expect(c).toMatchObject({
      architectures: ['MixtralForCausalLM'],
      model_type: 'mixtral',
      num_local_experts: 2,
      num_experts_per_tok: 2,
      sliding_window: null,
      torch_dtype: 'bfloat16',
      hidden_size: H,
      intermediate_size: I,
      rope_theta: 10000,
      num_key_value_heads: spec.kvHeads,
      rms_norm_eps: spec.rmsEps,
      max_position_embeddings: spec.contextLength,
    });
  });

  it('rule 24: keys a llama base omits get Llama defaults, not Mixtral ones (rope_theta 1e4, not 1e6)', async () => {
    const noRope = {
      ...folders,
      'org/base': (await randomHfFolder('org/base', 1, spec, 'bf16', { rope_theta: undefined })).files,
    };
    const { plan } = await mergeInMemory(YAML, noRope);
    expect(plan.outputConfig.rope_theta).toBe(10000);
  });
});

describe('fused transformers-v5 layout (conformance rule 23)', () => {
  it('rule 23: gate_up_proj (E,2I,H) = stack(cat(gate, up)), down_proj (E,H,I), router mlp.gate.weight', async () => {
    const { output } = await mergeInMemory(YAML, folders, { layout: 'fused' });
    const gateUp = output.tensors.get('model.layers.1.mlp.experts.gate_up_proj')!;
    const down = output.tensors.get('model.layers.1.mlp.experts.down_proj')!;
    expect(gateUp.shape).toEqual([2, 2 * I, H]);
    expect(down.shape).toEqual([2, H, I]);
    const parts = [
      await source('org/a', 'model.layers.1.mlp.gate_proj.weight'),
      await source('org/a', 'model.layers.1.mlp.up_proj.weight'),
      await source('org/b', 'model.layers.1.mlp.gate_proj.weight'),
      await source('org/b', 'model.layers.1.mlp.up_proj.weight'),
    ];
    expect(bytes(gateUp)).toEqual(parts.flatMap(bytes));
    // main applies residual_scale to down_proj (bug fixed): expert 1 scaled by 0.5
    const downB = dequantize(await source('org/b', 'model.layers.1.mlp.down_proj.weight')).map((x) =>
      bf16ToF32(f32ToBf16(x * 0.5)),
    );
    expect(Array.from(dequantize(down).subarray(H * I))).toEqual(Array.from(downB));
    expect(output.tensors.has('model.layers.1.mlp.gate.weight')).toBe(true);
    expect(output.tensors.has('model.layers.1.block_sparse_moe.gate.weight')).toBe(false);
  });
});

describe('dtype (conformance rules 17, 19)', () => {
  it('rule 19: the config dtype wins; else the base torch_dtype; every tensor and router is cast to it', async () => {
    const f16 = await mergeInMemory(`${YAML}dtype: torch.float16\n`, folders);
    for (const t of f16.output.tensors.values()) expect(t.dtype, t.name).toBe('f16');
    expect(f16.plan.outputConfig.torch_dtype).toBe('float16');
    const embed = await source('org/base', 'model.embed_tokens.weight');
    const asF16 = dequantize(quantize('e', dequantize(embed), embed.shape, 'f16'));
    expect(Array.from(dequantize(f16.output.tensors.get('model.embed_tokens.weight')!))).toEqual(Array.from(asF16));
    const inherited = await mergeInMemory(YAML, folders);
    for (const t of inherited.output.tensors.values()) expect(t.dtype, t.name).toBe('bf16');
  });

  it('rule 19: no dtype anywhere keeps each source dtype; routers are f32 for cheap_embed', async () => {
    const noDtype = {
      ...folders,
      'org/base': (await randomHfFolder('org/base', 1, spec, 'bf16', { torch_dtype: undefined })).files,
    };
    const { output } = await mergeInMemory(YAML, noDtype);
    expect(output.tensors.get('model.embed_tokens.weight')!.dtype).toBe('bf16');
    expect(output.tensors.get('model.layers.0.block_sparse_moe.gate.weight')!.dtype).toBe('f32');
  });

  it.each(['constructor', '__proto__', 'toString'])(
    'rule 19: a base torch_dtype %j (an Object.prototype name) is a plan issue, not a TypeError',
    async (torchDtype) => {
      const odd = {
        ...folders,
        'org/base': (await randomHfFolder('org/base', 1, spec, 'bf16', { torch_dtype: torchDtype })).files,
      };
      await expect(mergeInMemory(YAML, odd)).rejects.toThrow(
        `plan issues: merge: the base model's torch_dtype ${JSON.stringify(torchDtype)} is not one of bfloat16, float16, float32`,
      );
    },
  );

  it('rule 17: the router of layer l is G[l, :E] in (E, H) orientation', async () => {
    const { output, result } = await mergeInMemory(`${YAML}dtype: float32\n`, folders);
    for (let l = 0; l < spec.layers; l++) {
      const router = output.tensors.get(`model.layers.${l}.block_sparse_moe.gate.weight`)!;
      expect(router.shape).toEqual([2, H]);
      expect(Array.from(dequantize(router))).toEqual(Array.from(result.gates[l]!));
    }
  });
});

describe('noise (conformance rule 20)', () => {
  it('rule 20: W + N(0,1)·noise_scale on each expert MLP weight in the source dtype; 0.0 is a no-op', async () => {
    const noisy = YAML.replace('residual_scale: 0.5', 'noise_scale: 0.25').replace(
      '    positive_prompts: ["Once upon a time"]',
      '    positive_prompts: ["Once upon a time"]\n    noise_scale: 0.0',
    );
    const { output } = await mergeInMemory(`${noisy}dtype: float32\n`, folders);
    const src = dequantize(await source('org/b', 'model.layers.0.mlp.up_proj.weight'));
    const out = dequantize(output.tensors.get('model.layers.0.block_sparse_moe.experts.1.w3.weight')!);
    const diff = Array.from(out).map((x, i) => x - src[i]!);
    const mean = diff.reduce((s, d) => s + d, 0) / diff.length;
    const std = Math.sqrt(diff.reduce((s, d) => s + (d - mean) ** 2, 0) / diff.length);
    expect(Math.abs(std - 0.25)).toBeLessThan(0.03); // 3840 samples, bf16 rounding included
    expect(Math.abs(mean)).toBeLessThan(0.02);
    const quiet = await source('org/a', 'model.layers.0.mlp.up_proj.weight');
    expect(Array.from(dequantize(output.tensors.get('model.layers.0.block_sparse_moe.experts.0.w3.weight')!))).toEqual(
      Array.from(dequantize(quiet)),
    );
  });
});

describe('Llama 3.x donors (rope_scaling rope_type llama3)', () => {
  const LLAMA3_ROPE = {
    rope_type: 'llama3',
    factor: 8.0,
    low_freq_factor: 1.0,
    high_freq_factor: 4.0,
    original_max_position_embeddings: 16,
  };
  const llama3Folders = async () => ({
    'org/base': (await randomHfFolder('org/base', 1, spec, 'f32', { rope_scaling: LLAMA3_ROPE })).files,
    'org/a': (await randomHfFolder('org/a', 2, spec, 'f32', { rope_scaling: LLAMA3_ROPE })).files,
    'org/b': (await randomHfFolder('org/b', 3, spec, 'f32', { rope_scaling: LLAMA3_ROPE })).files,
  });

  it('carry rope_scaling into the Mixtral config, and the merged model runs with the scaling', async () => {
    const folders3 = await llama3Folders();
    const { plan } = await mergeInMemory(YAML, folders3);
    expect(plan.outputConfig.rope_scaling).toEqual(LLAMA3_ROPE);
    const built = await buildMergeInMemory(YAML, mapResolver(folders3));
    const weights = built.model!.weights;
    expect(weights.spec.ropeScaling).toEqual({
      type: 'llama3',
      factor: 8,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalContext: 16,
    });
    // the scaling is in effect: the same merged weights with plain RoPE give other logits
    const ids = [1, 5, 9, 13, 17, 21, 25, 29];
    const logits = async (w: typeof weights) =>
      (await (await cpuBackend.createSession(w, { maxContext: 16 })).forward(ids)).logits;
    const plain = await logits({ ...weights, spec: { ...weights.spec, ropeScaling: undefined } });
    expect(allclose(await logits(weights), plain, { atol: 1e-3, rtol: 1e-3 }, 'logits').ok).toBe(false);
  });

  it('refuse an expert whose rope_scaling differs from the base, naming both', async () => {
    const folders3 = {
      ...(await llama3Folders()),
      'org/b': (await randomHfFolder('org/b', 3, spec, 'f32')).files, // Llama 2 style: no rope_scaling
    };
    await expect(mergeInMemory(YAML, folders3)).rejects.toThrow(
      /experts\.1 'org\/b' has rope_scaling = null, but the base 'org\/base' has \{"rope_type":"llama3"/,
    );
  });
});
