import { describe, expect, it } from 'vitest';
import { exportHfToMemory } from './hf.testing.ts';
import { HF_FLOAT_FIELDS, stringifyHfConfig } from './hf-config-json.ts';
import { randomModelWeights, tinyDenseSpec, tinyMoeSpec, tinyQwenMoeSpec } from './random.ts';
import type { ModelSpec } from './spec.ts';

/** Every `"key": <number>` of a JSON text, as written (the raw token, before JSON.parse loses 0.0 vs 0). */
function numberTokens(text: string): [string, string][] {
  return [...text.matchAll(/"([A-Za-z_0-9]+)": (-?[0-9][0-9.eE+-]*)/g)].map((m) => [m[1]!, m[2]!]);
}

const isFloatToken = (token: string) => /[.eE]/.test(token);

describe('stringifyHfConfig: float fields keep a decimal point, integers stay integers', () => {
  it('writes integral floats as 0.0 / 10000.0, nested rope_scaling too, and parses back to the same object', () => {
    const config = {
      num_hidden_layers: 4,
      rms_norm_eps: 1e-6,
      rope_theta: 10000,
      router_jitter_noise: 0,
      rope_scaling: { rope_type: 'llama3', factor: 8, original_max_position_embeddings: 8192 },
      sliding_window: null,
      eos_token_id: [2, 3],
    };
    const text = stringifyHfConfig(config);
    expect(text).toContain('"rope_theta": 10000.0');
    expect(text).toContain('"router_jitter_noise": 0.0');
    expect(text).toContain('"factor": 8.0');
    expect(text).toContain('"num_hidden_layers": 4,');
    expect(text).toContain('"original_max_position_embeddings": 8192');
    expect(text.endsWith('}\n')).toBe(true);
    expect(JSON.parse(text)).toEqual(config);
  });

  it.each([
    ['llama', tinyDenseSpec()],
    ['mistral', tinyDenseSpec({ arch: 'mistral' })],
    ['qwen2', tinyDenseSpec({ arch: 'qwen2', qkvBias: true, tieEmbeddings: true })],
    ['mixtral', tinyMoeSpec()],
    ['qwen2_moe', tinyQwenMoeSpec()],
  ] as [string, ModelSpec][])(
    'every float field of an exported %s config.json is written as a float',
    async (_, spec) => {
      const { files } = await exportHfToMemory(randomModelWeights(spec, 7));
      const tokens = numberTokens(new TextDecoder().decode(files['config.json']!));
      const floats = tokens.filter(([key]) => HF_FLOAT_FIELDS.has(key));
      expect(floats.length).toBeGreaterThanOrEqual(2); // rms_norm_eps and rope_theta at least
      for (const [key, token] of floats) expect(isFloatToken(token), `${key}: ${token}`).toBe(true);
      for (const [key, token] of tokens.filter(([key]) => /^num_|_size$|^vocab_size$/.test(key)))
        expect(isFloatToken(token), `${key}: ${token}`).toBe(false);
    },
  );
});
