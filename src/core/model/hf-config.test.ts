import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.ts';
import { parseHfConfig } from './hf-config.ts';
import { hfConfigFromSpec } from './hf-config-write.ts';

/** A minimal valid config of each architecture; tests override single keys. */
const LLAMA = {
  model_type: 'llama',
  hidden_size: 64,
  intermediate_size: 176,
  num_hidden_layers: 3,
  num_attention_heads: 4,
  vocab_size: 97,
};
const MIXTRAL = { ...LLAMA, model_type: 'mixtral', num_local_experts: 4 };
const QWEN2_MOE = {
  ...LLAMA,
  model_type: 'qwen2_moe',
  num_experts: 6,
  moe_intermediate_size: 40,
  shared_expert_intermediate_size: 88,
};

function configError(json: unknown): string {
  try {
    parseHfConfig(json);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('parseHfConfig: Qwen3 and Qwen3-MoE', () => {
  it('reads Qwen3Config: per-head q/k norm, no q/k/v bias, head_dim apart from hidden / heads', () => {
    const spec = parseHfConfig({ ...LLAMA, model_type: 'qwen3', head_dim: 32, attention_bias: false });
    expect(spec).toMatchObject({ arch: 'qwen3', qkNorm: true, qkvBias: false, headDim: 32, hidden: 64, heads: 4 });
    expect(parseHfConfig(LLAMA).qkNorm).toBeUndefined();
    expect(configError({ ...LLAMA, model_type: 'qwen3', attention_bias: true })).toBe(
      'config.json: attention_bias true is not supported (it adds an o_proj bias)',
    );
  });

  it("reads Qwen3MoeConfig's routed experts (top-8 and no renormalization by default, no shared expert)", () => {
    const json = { ...LLAMA, model_type: 'qwen3_moe', num_experts: 16, moe_intermediate_size: 24 };
    expect(parseHfConfig(json).moe).toEqual({
      experts: 16,
      expertsPerToken: 8,
      normTopK: false,
      expertIntermediate: 24,
    });
    expect(parseHfConfig({ ...json, norm_topk_prob: true, num_experts_per_tok: 2 }).moe).toMatchObject({
      expertsPerToken: 2,
      normTopK: true,
    });
    expect(configError({ ...json, decoder_sparse_step: 2 })).toContain('decoder_sparse_step 2 is not supported');
    expect(configError({ ...json, mlp_only_layers: [0] })).toContain('mlp_only_layers [0] is not supported');
    expect(configError({ ...json, num_experts_per_tok: 17 })).toContain('exceeds the number of experts 16');
  });
});

describe('parseHfConfig: values and defaults', () => {
  it('reads the required sizes', () => {
    const spec = parseHfConfig(LLAMA);
    expect([spec.arch, spec.hidden, spec.intermediate, spec.layers, spec.heads, spec.vocab]).toEqual([
      'llama',
      64,
      176,
      3,
      4,
      97,
    ]);
    expect(spec.ropeStyle).toBe('half');
    expect(spec.moe).toBeUndefined();
  });

  it('defaults num_key_value_heads to num_attention_heads (MHA), and reads GQA', () => {
    expect(parseHfConfig(LLAMA).kvHeads).toBe(4);
    expect(parseHfConfig({ ...LLAMA, num_key_value_heads: null }).kvHeads).toBe(4);
    expect(parseHfConfig({ ...LLAMA, num_key_value_heads: 2 }).kvHeads).toBe(2);
  });

  it('defaults head_dim to hidden/heads and honours an explicit head_dim', () => {
    expect(parseHfConfig(LLAMA).headDim).toBe(16);
    expect(parseHfConfig({ ...LLAMA, head_dim: 24 }).headDim).toBe(24);
  });

  it('defaults tie_word_embeddings to false, as transformers does', () => {
    expect(parseHfConfig(LLAMA).tieEmbeddings).toBe(false);
    expect(parseHfConfig({ ...LLAMA, tie_word_embeddings: true }).tieEmbeddings).toBe(true);
  });

  it('uses per-architecture rope_theta / rms_norm_eps defaults and explicit values', () => {
    expect(parseHfConfig(LLAMA).ropeTheta).toBe(10_000);
    expect(parseHfConfig(MIXTRAL).ropeTheta).toBe(1e6);
    expect(parseHfConfig(LLAMA).rmsEps).toBe(1e-6);
    expect(parseHfConfig(MIXTRAL).rmsEps).toBe(1e-5);
    expect(parseHfConfig({ ...LLAMA, rope_theta: 500_000, rms_norm_eps: 1e-5 })).toMatchObject({
      ropeTheta: 500_000,
      rmsEps: 1e-5,
    });
  });

  it('reads rope_theta from transformers-v5 rope_parameters', () => {
    expect(parseHfConfig({ ...LLAMA, rope_parameters: { rope_type: 'default', rope_theta: 123_456 } }).ropeTheta).toBe(
      123_456,
    );
  });

  it('reads max_position_embeddings and the sliding window (mistral / mixtral: attended within; qwen2: from max_window_layers on)', () => {
    expect(parseHfConfig(LLAMA).contextLength).toBe(2048);
    expect(parseHfConfig(LLAMA).slidingWindow).toBeUndefined();
    expect(parseHfConfig({ ...LLAMA, max_position_embeddings: 512 }).contextLength).toBe(512);
    // MistralConfig's default window (the key absent) is 4096
    expect(parseHfConfig({ ...LLAMA, model_type: 'mistral', max_position_embeddings: 32768 })).toMatchObject({
      contextLength: 32768,
      slidingWindow: 4096,
    });
    const noWindow = parseHfConfig({
      ...LLAMA,
      model_type: 'mistral',
      max_position_embeddings: 32768,
      sliding_window: null,
    });
    expect(noWindow.contextLength).toBe(32768);
    expect(noWindow.slidingWindow).toBeUndefined();
    // a window as long as the context never bites: plain causal attention
    expect(
      parseHfConfig({ ...LLAMA, model_type: 'mistral', max_position_embeddings: 4096, sliding_window: 4096 })
        .slidingWindow,
    ).toBeUndefined();
    expect(parseHfConfig({ ...MIXTRAL, max_position_embeddings: 32768, sliding_window: 4096 })).toMatchObject({
      contextLength: 32768,
      slidingWindow: 4096,
    });
    // qwen2: the window only with use_sliding_window, and only from max_window_layers on (never a cap)
    const qwen = {
      ...LLAMA,
      model_type: 'qwen2',
      num_hidden_layers: 4,
      max_position_embeddings: 9000,
      sliding_window: 100,
    };
    expect(parseHfConfig(qwen)).toMatchObject({ contextLength: 9000 });
    expect(parseHfConfig(qwen).slidingWindow).toBeUndefined();
    expect(parseHfConfig({ ...qwen, use_sliding_window: true, max_window_layers: 1 })).toMatchObject({
      contextLength: 9000,
      slidingWindow: 100,
      slidingWindowFirstLayer: 1,
    });
    const everyLayer = parseHfConfig({ ...qwen, use_sliding_window: true, max_window_layers: 0 });
    expect(everyLayer.slidingWindow).toBe(100);
    expect(everyLayer.slidingWindowFirstLayer).toBeUndefined();
    // max_window_layers at or past the last layer (transformers' default 28 here): full attention everywhere
    expect(parseHfConfig({ ...qwen, use_sliding_window: true }).slidingWindow).toBeUndefined();
    // transformers v5 layer_types must agree with them
    expect(
      parseHfConfig({
        ...qwen,
        use_sliding_window: true,
        max_window_layers: 2,
        layer_types: ['full_attention', 'full_attention', 'sliding_attention', 'sliding_attention'],
      }).slidingWindowFirstLayer,
    ).toBe(2);
    expect(() =>
      parseHfConfig({
        ...qwen,
        use_sliding_window: true,
        max_window_layers: 2,
        layer_types: ['sliding_attention', 'full_attention', 'sliding_attention', 'sliding_attention'],
      }),
    ).toThrow(
      "config.json: key 'layer_types' must be 'full_attention' for layers 0..1 and 'sliding_attention' after (what use_sliding_window, sliding_window and max_window_layers say); other patterns are not supported",
    );
    expect(() => parseHfConfig({ ...qwen, use_sliding_window: true, max_window_layers: -1 })).toThrow(
      "config.json: key 'max_window_layers' must be a non-negative integer, got -1",
    );
  });

  it('gives qwen2 and qwen2_moe q/k/v biases, llama/mistral/mixtral none', () => {
    expect(parseHfConfig({ ...LLAMA, model_type: 'qwen2' }).qkvBias).toBe(true);
    expect(parseHfConfig(QWEN2_MOE).qkvBias).toBe(true);
    expect(parseHfConfig(LLAMA).qkvBias).toBe(false);
    expect(parseHfConfig(MIXTRAL).qkvBias).toBe(false);
  });

  it('reads bos and eos ids (single or list)', () => {
    expect(parseHfConfig({ ...LLAMA, bos_token_id: 1, eos_token_id: 2 })).toMatchObject({
      bosTokenId: 1,
      eosTokenIds: [2],
    });
    expect(parseHfConfig({ ...LLAMA, eos_token_id: [7, 9] }).eosTokenIds).toEqual([7, 9]);
    expect(parseHfConfig({ ...LLAMA, bos_token_id: null }).bosTokenId).toBeUndefined();
  });

  it('mixtral: experts, top-k default 2, always renormalized, expert width = intermediate_size', () => {
    expect(parseHfConfig(MIXTRAL).moe).toEqual({
      experts: 4,
      expertsPerToken: 2,
      normTopK: true,
      expertIntermediate: 176,
    });
    expect(parseHfConfig({ ...MIXTRAL, num_experts_per_tok: 3 }).moe?.expertsPerToken).toBe(3);
  });

  it('qwen2_moe: moe width, gated shared expert, norm_topk_prob default false, top-k default 4', () => {
    expect(parseHfConfig(QWEN2_MOE).moe).toEqual({
      experts: 6,
      expertsPerToken: 4,
      normTopK: false,
      expertIntermediate: 40,
      sharedExpert: { intermediate: 88, gated: true },
    });
    expect(parseHfConfig({ ...QWEN2_MOE, norm_topk_prob: true, num_experts_per_tok: 2 }).moe).toMatchObject({
      normTopK: true,
      expertsPerToken: 2,
    });
  });

  it('ignores keys it does not model (architectures, torch_dtype, …)', () => {
    expect(
      parseHfConfig({ ...LLAMA, architectures: ['LlamaForCausalLM'], torch_dtype: 'bfloat16', use_cache: true }),
    ).toEqual(parseHfConfig(LLAMA));
  });
});

describe('parseHfConfig: errors name the file and the key', () => {
  it.each(['model_type', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'vocab_size'])(
    'rejects a config without %s',
    (key) => {
      const json: Record<string, unknown> = { ...LLAMA };
      delete json[key];
      expect(configError(json)).toBe(`config.json: missing required key '${key}'`);
    },
  );

  it('names the file it was given', () => {
    const { hidden_size: _, ...json } = LLAMA;
    expect(() => parseHfConfig(json, 'zoo/base/config.json')).toThrow(
      "zoo/base/config.json: missing required key 'hidden_size'",
    );
  });

  it('rejects a non-object', () => {
    expect(configError([1, 2])).toBe('config.json: expected a JSON object, got an array');
    expect(configError('x')).toBe('config.json: expected a JSON object, got string');
  });

  it('rejects an unsupported model_type', () => {
    expect(configError({ ...LLAMA, model_type: 'gemma' })).toBe(
      'config.json: model_type "gemma" is not supported (supported: llama, mistral, qwen2, qwen3, mixtral, qwen2_moe, qwen3_moe)',
    );
  });

  it.each(['constructor', '__proto__', 'toString'])(
    'rejects a model_type %j (an Object.prototype name: the architecture tables are not looked up by it)',
    (modelType) => {
      expect(configError({ ...LLAMA, model_type: modelType })).toBe(
        `config.json: model_type ${JSON.stringify(modelType)} is not supported (supported: llama, mistral, qwen2, qwen3, mixtral, qwen2_moe, qwen3_moe)`,
      );
    },
  );

  it.each([
    ['hidden_size', -4],
    ['num_hidden_layers', 2.5],
    ['vocab_size', '97'],
    ['num_key_value_heads', 0],
  ])('rejects %s = %j', (key, value) => {
    expect(configError({ ...LLAMA, [key]: value })).toBe(
      `config.json: key '${key}' must be a positive integer, got ${JSON.stringify(value)}`,
    );
  });

  it('rejects heads that kv heads do not divide', () => {
    expect(configError({ ...LLAMA, num_key_value_heads: 3 })).toBe(
      'config.json: num_attention_heads 4 is not a multiple of num_key_value_heads 3',
    );
  });

  it('rejects hidden_size not divisible by heads without head_dim', () => {
    expect(configError({ ...LLAMA, hidden_size: 66 })).toContain(
      'hidden_size 66 is not a multiple of num_attention_heads 4',
    );
  });

  it('rejects a bad rms_norm_eps, rope_theta, tie_word_embeddings and token id', () => {
    expect(configError({ ...LLAMA, rms_norm_eps: 0 })).toBe(
      "config.json: key 'rms_norm_eps' must be a positive number, got 0",
    );
    expect(configError({ ...LLAMA, rope_theta: 'big' })).toBe(
      `config.json: key 'rope_theta' must be a positive number, got "big"`,
    );
    expect(configError({ ...LLAMA, tie_word_embeddings: 'yes' })).toBe(
      `config.json: key 'tie_word_embeddings' must be true or false, got "yes"`,
    );
    expect(configError({ ...LLAMA, eos_token_id: [2, -1] })).toBe(
      "config.json: key 'eos_token_id' must be a token id or a list of token ids, got [2,-1]",
    );
  });

  it("reads Llama 3's rope_scaling (≤4.x) or rope_parameters (v5), every field required and checked", () => {
    const llama3 = {
      rope_type: 'llama3',
      factor: 8.0,
      low_freq_factor: 1.0,
      high_freq_factor: 4.0,
      original_max_position_embeddings: 8192,
    };
    const want = { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 8192 };
    expect(parseHfConfig({ ...LLAMA, rope_scaling: llama3 }).ropeScaling).toEqual(want);
    expect(parseHfConfig({ ...LLAMA, rope_parameters: { ...llama3, rope_theta: 500000 } })).toMatchObject({
      ropeScaling: want,
      ropeTheta: 500000,
    });
    expect(parseHfConfig({ ...LLAMA, rope_scaling: { rope_type: 'default' } }).ropeScaling).toBeUndefined();
    const { low_freq_factor: _, ...noLow } = llama3;
    expect(configError({ ...LLAMA, rope_scaling: noLow })).toBe(
      "config.json: key 'rope_scaling.low_freq_factor' must be a positive number for rope_type 'llama3', got undefined",
    );
    expect(configError({ ...LLAMA, rope_scaling: { ...llama3, original_max_position_embeddings: 81.5 } })).toBe(
      "config.json: key 'rope_scaling.original_max_position_embeddings' must be a positive integer for rope_type 'llama3', got 81.5",
    );
    expect(configError({ ...LLAMA, rope_scaling: { ...llama3, factor: 0.5 } })).toBe(
      'config.json: rope_scaling.factor 0.5 is outside [1, 1024] (SPEC_LIMITS.maxRopeScalingFactor)',
    );
    expect(configError({ ...LLAMA, rope_scaling: { ...llama3, factor: 1e6 } })).toContain('outside [1, 1024]');
    expect(configError({ ...LLAMA, rope_scaling: { ...llama3, high_freq_factor: 1 } })).toBe(
      'config.json: rope_scaling.high_freq_factor 1 must be above low_freq_factor 1 (the blend divides by their difference)',
    );
    // written back as transformers writes it, and read back to the same spec
    const spec = parseHfConfig({ ...LLAMA, rope_scaling: llama3 });
    const written = hfConfigFromSpec(spec);
    expect(written.rope_scaling).toEqual(llama3);
    expect(parseHfConfig(JSON.parse(JSON.stringify(written)))).toEqual(spec);
    // per-pair factors (a GGUF's rope_freqs) have no config.json form
    expect(() => hfConfigFromSpec({ ...spec, ropeScaling: { type: 'factors', factors: [1, 2] } })).toThrow(
      /rope_freqs\.weight .* export it as GGUF instead/,
    );
  });

  it('refuses rope scaling other than llama3, biased o_proj/MLP and non-SiLU activations instead of running them wrong', () => {
    expect(configError({ ...LLAMA, rope_scaling: { type: 'linear', factor: 2 } })).toBe(
      `config.json: rope_scaling type "linear" is not supported (only unscaled RoPE and Llama 3's 'llama3')`,
    );
    expect(configError({ ...LLAMA, rope_parameters: { rope_type: 'yarn', factor: 4 } })).toBe(
      `config.json: rope_parameters type "yarn" is not supported (only unscaled RoPE and Llama 3's 'llama3')`,
    );
    expect(configError({ ...LLAMA, attention_bias: true })).toBe(
      'config.json: attention_bias true is not supported (it adds an o_proj bias)',
    );
    expect(configError({ ...LLAMA, mlp_bias: true })).toBe('config.json: mlp_bias true is not supported');
    expect(configError({ ...LLAMA, hidden_act: 'gelu' })).toBe(
      `config.json: hidden_act "gelu" is not supported (only 'silu')`,
    );
    expect(parseHfConfig({ ...LLAMA, rope_scaling: null, attention_bias: false, hidden_act: 'silu' }).arch).toBe(
      'llama',
    );
  });

  it('rejects mixtral without num_local_experts and top-k above the expert count', () => {
    const { num_local_experts: _, ...noExperts } = MIXTRAL;
    expect(configError(noExperts)).toBe("config.json: missing required key 'num_local_experts'");
    expect(configError({ ...MIXTRAL, num_experts_per_tok: 5 })).toBe(
      'config.json: num_experts_per_tok 5 exceeds the number of experts 4',
    );
  });

  it.each(['num_experts', 'moe_intermediate_size', 'shared_expert_intermediate_size'])(
    'rejects qwen2_moe without %s',
    (key) => {
      const json: Record<string, unknown> = { ...QWEN2_MOE };
      delete json[key];
      expect(configError(json)).toBe(`config.json: missing required key '${key}'`);
    },
  );

  it('rejects qwen2_moe stacks that mix dense and MoE layers', () => {
    expect(configError({ ...QWEN2_MOE, decoder_sparse_step: 2 })).toBe(
      'config.json: decoder_sparse_step 2 is not supported (only 1: every layer MoE)',
    );
    expect(configError({ ...QWEN2_MOE, mlp_only_layers: [0] })).toBe(
      'config.json: mlp_only_layers [0] is not supported (only every layer MoE)',
    );
  });
});

describe('hfConfigFromSpec', () => {
  it.each([
    ['llama', { ...LLAMA, num_key_value_heads: 2, tie_word_embeddings: true, bos_token_id: 1, eos_token_id: 2 }],
    ['mistral', { ...LLAMA, model_type: 'mistral', head_dim: 24, max_position_embeddings: 1000 }],
    ['qwen2', { ...LLAMA, model_type: 'qwen2', eos_token_id: [5, 6] }],
    ['mixtral', { ...MIXTRAL, num_experts_per_tok: 1 }],
    ['qwen2_moe', { ...QWEN2_MOE, norm_topk_prob: true }],
    ['qwen3', { ...LLAMA, model_type: 'qwen3', head_dim: 32, rope_theta: 1e6 }],
    [
      'qwen3_moe',
      { ...LLAMA, model_type: 'qwen3_moe', num_experts: 8, moe_intermediate_size: 24, norm_topk_prob: true },
    ],
  ])('round-trips a %s spec through config.json', (_, json) => {
    const spec = parseHfConfig(json);
    const written = hfConfigFromSpec(spec, { dtype: 'bf16' });
    expect(parseHfConfig(JSON.parse(JSON.stringify(written)))).toEqual(spec);
    expect(written.torch_dtype).toBe('bfloat16');
  });

  it('carries unknown base keys and overwrites the modelled ones', () => {
    const written = hfConfigFromSpec(parseHfConfig(MIXTRAL), {
      base: { ...LLAMA, custom: 7, rope_scaling: null, hidden_size: 1 },
    });
    expect(written).toMatchObject({
      custom: 7,
      hidden_size: 64,
      model_type: 'mixtral',
      architectures: ['MixtralForCausalLM'],
      sliding_window: null,
    });
    expect('rope_scaling' in written).toBe(false);
  });

  it('refuses a mixtral spec that does not renormalize', () => {
    const spec = parseHfConfig(MIXTRAL);
    expect(() => hfConfigFromSpec({ ...spec, moe: { ...spec.moe!, normTopK: false } })).toThrow(ConfigError);
  });
});

describe('hfConfigFromSpec: Mixtral widths', () => {
  it('writes the expert width as intermediate_size (Mixtral has no dense MLP)', () => {
    const spec = parseHfConfig(MIXTRAL);
    const written = hfConfigFromSpec({ ...spec, intermediate: 999, moe: { ...spec.moe!, expertIntermediate: 40 } });
    expect(written.intermediate_size).toBe(40);
    expect(parseHfConfig(written).moe?.expertIntermediate).toBe(40);
  });
});

/**
 * Configs shaped like the published ones (keys and values written from the Hub model cards'
 * config.json, not copied byte for byte): every bookkeeping key must be ignored and the
 * numbers must land right.
 */
describe('parseHfConfig on published-style configs', () => {
  it('Mixtral-8x7B-v0.1', () => {
    const spec = parseHfConfig({
      architectures: ['MixtralForCausalLM'],
      attention_dropout: 0.0,
      bos_token_id: 1,
      eos_token_id: 2,
      hidden_act: 'silu',
      hidden_size: 4096,
      initializer_range: 0.02,
      intermediate_size: 14336,
      max_position_embeddings: 32768,
      model_type: 'mixtral',
      num_attention_heads: 32,
      num_experts_per_tok: 2,
      num_hidden_layers: 32,
      num_key_value_heads: 8,
      num_local_experts: 8,
      output_router_logits: false,
      rms_norm_eps: 1e-5,
      rope_theta: 1e6,
      router_aux_loss_coef: 0.02,
      sliding_window: null,
      tie_word_embeddings: false,
      torch_dtype: 'bfloat16',
      transformers_version: '4.36.0.dev0',
      use_cache: true,
      vocab_size: 32000,
    });
    expect(spec).toMatchObject({
      arch: 'mixtral',
      headDim: 128,
      kvHeads: 8,
      contextLength: 32768,
      ropeTheta: 1e6,
      bosTokenId: 1,
      eosTokenIds: [2],
    });
    expect(spec.moe).toEqual({ experts: 8, expertsPerToken: 2, normTopK: true, expertIntermediate: 14336 });
  });

  it('Qwen1.5-MoE-A2.7B', () => {
    const spec = parseHfConfig({
      architectures: ['Qwen2MoeForCausalLM'],
      attention_dropout: 0.0,
      bos_token_id: 151643,
      eos_token_id: 151643,
      hidden_act: 'silu',
      hidden_size: 2048,
      initializer_range: 0.02,
      intermediate_size: 5632,
      max_position_embeddings: 8192,
      max_window_layers: 21,
      model_type: 'qwen2_moe',
      num_attention_heads: 16,
      num_hidden_layers: 24,
      num_key_value_heads: 16,
      rms_norm_eps: 1e-6,
      rope_theta: 1000000.0,
      sliding_window: 32768,
      tie_word_embeddings: false,
      torch_dtype: 'bfloat16',
      use_cache: true,
      use_sliding_window: false,
      vocab_size: 151936,
      decoder_sparse_step: 1,
      moe_intermediate_size: 1408,
      shared_expert_intermediate_size: 5632,
      num_experts_per_tok: 4,
      num_experts: 60,
      norm_topk_prob: false,
      output_router_logits: false,
      router_aux_loss_coef: 0.001,
    });
    expect(spec).toMatchObject({ arch: 'qwen2_moe', headDim: 128, qkvBias: true, contextLength: 8192 });
    expect(spec.moe).toEqual({
      experts: 60,
      expertsPerToken: 4,
      normTopK: false,
      expertIntermediate: 1408,
      sharedExpert: { intermediate: 5632, gated: true },
    });
  });

  it('Mistral-7B-v0.1 (the full 32768-token context, attending within the 4096-token sliding window)', () => {
    const spec = parseHfConfig({
      architectures: ['MistralForCausalLM'],
      bos_token_id: 1,
      eos_token_id: 2,
      hidden_act: 'silu',
      hidden_size: 4096,
      initializer_range: 0.02,
      intermediate_size: 14336,
      max_position_embeddings: 32768,
      model_type: 'mistral',
      num_attention_heads: 32,
      num_hidden_layers: 32,
      num_key_value_heads: 8,
      rms_norm_eps: 1e-5,
      rope_theta: 10000.0,
      sliding_window: 4096,
      tie_word_embeddings: false,
      torch_dtype: 'bfloat16',
      use_cache: true,
      vocab_size: 32000,
    });
    expect(spec).toMatchObject({
      arch: 'mistral',
      contextLength: 32768,
      slidingWindow: 4096,
      kvHeads: 8,
      qkvBias: false,
      rmsEps: 1e-5,
    });
  });

  it('Qwen2-0.5B (tied embeddings, GQA 14/2, q/k/v bias)', () => {
    const spec = parseHfConfig({
      architectures: ['Qwen2ForCausalLM'],
      attention_dropout: 0.0,
      bos_token_id: 151643,
      eos_token_id: 151643,
      hidden_act: 'silu',
      hidden_size: 896,
      initializer_range: 0.02,
      intermediate_size: 4864,
      max_position_embeddings: 131072,
      max_window_layers: 24,
      model_type: 'qwen2',
      num_attention_heads: 14,
      num_hidden_layers: 24,
      num_key_value_heads: 2,
      rms_norm_eps: 1e-6,
      rope_theta: 1000000.0,
      sliding_window: 131072,
      tie_word_embeddings: true,
      torch_dtype: 'bfloat16',
      use_cache: true,
      use_sliding_window: false,
      vocab_size: 151936,
    });
    expect(spec).toMatchObject({
      arch: 'qwen2',
      headDim: 64,
      kvHeads: 2,
      tieEmbeddings: true,
      qkvBias: true,
      contextLength: 131072,
    });
  });
});

describe('parseHfConfig: every numeric field has a named limit (SPEC_LIMITS), checked before anything is sized', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['num_hidden_layers 1e9', { num_hidden_layers: 1e9 }, /num_hidden_layers 1000000000 is outside \[1, 1024\]/],
    ['num_hidden_layers 2^53', { num_hidden_layers: 2 ** 53 }, /num_hidden_layers 9007199254740992 is outside/],
    ['hidden_size 2^31', { hidden_size: 2 ** 31, head_dim: 16 }, /hidden_size 2147483648 is outside \[1, 65536\]/],
    ['intermediate_size 1e12', { intermediate_size: 1e12 }, /intermediate_size 1000000000000 is outside/],
    ['num_attention_heads 2^20', { num_attention_heads: 2 ** 20, head_dim: 16 }, /num_attention_heads 1048576/],
    ['head_dim 1e6', { head_dim: 1e6 }, /head_dim 1000000 is outside \[1, 1024\]/],
    ['head_dim odd', { head_dim: 15 }, /head_dim 15 is odd/],
    ['vocab_size 2^40', { vocab_size: 2 ** 40 }, /vocab_size 1099511627776 is outside/],
    ['max_position_embeddings 2^31', { max_position_embeddings: 2 ** 31 }, /max_position_embeddings 2147483648/],
    ['rms_norm_eps 1e9', { rms_norm_eps: 1e9 }, /rms_norm_eps 1000000000 is outside \(0, 1\)/],
    ['rope_theta 1e300', { rope_theta: 1e300 }, /rope_theta 1e\+300 is outside \[1, 1000000000000\]/],
    ['rope_theta 1e-300', { rope_theta: 1e-300 }, /rope_theta 1e-300 is outside/],
    [
      'bos_token_id past the vocabulary',
      { bos_token_id: 97 },
      /bos_token_id 97 is not a token id below the vocabulary size 97/,
    ],
  ];
  it.each(cases)('rejects %s with a ConfigError naming config.json and the key', (_, override, pattern) => {
    const message = configError({ ...LLAMA, ...override });
    expect(message).toMatch(/^config\.json: /);
    expect(message).toMatch(pattern);
  });

  it('rejects more experts than maxExperts, and layers × experts beyond maxExpertMatrices', () => {
    expect(configError({ ...MIXTRAL, num_local_experts: 4096 })).toMatch(
      /num_local_experts 4096 is outside \[1, 1024\]/,
    );
    expect(configError({ ...MIXTRAL, num_hidden_layers: 1000, num_local_experts: 1000 })).toMatch(
      /num_hidden_layers 1000 × num_local_experts 1000 experts exceeds 65536/,
    );
    expect(configError({ ...QWEN2_MOE, moe_intermediate_size: 2 ** 40 })).toMatch(/moe_intermediate_size/);
  });

  it('answers 2^53 layers at once (the limit is checked before the expected-tensor list is built)', () => {
    const started = performance.now();
    configError({ ...MIXTRAL, num_hidden_layers: 2 ** 53 });
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
