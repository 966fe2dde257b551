import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.ts';
import { memoryFileSet } from '../io/byte-source.ts';
import { generationConfigText } from './generation-config.ts';
import { HF_CONFIG_TABLE_TRANSFORMERS_VERSION } from './hf-config-types.ts';
import { exportHfToMemory } from './hf.testing.ts';
import { loadHfModel } from './load.ts';
import { randomModelWeights, tinyDenseSpec } from './random.ts';

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

describe('generationConfigText: generation_config.json as save_pretrained writes it', () => {
  it('takes bos/eos/pad from config.json, sorts the keys, two-space indent and a final newline', () => {
    const text = generationConfigText({ model_type: 'llama', bos_token_id: 1, eos_token_id: 2, pad_token_id: 0 });
    expect(text).toBe(
      `{\n  "_from_model_config": true,\n  "bos_token_id": 1,\n  "eos_token_id": 2,\n  "pad_token_id": 0,\n  "transformers_version": "${HF_CONFIG_TABLE_TRANSFORMERS_VERSION}"\n}\n`,
    );
  });

  it('writes no pad_token_id when the config has none, and an eos list as a list', () => {
    const parsed = JSON.parse(generationConfigText({ bos_token_id: 1, eos_token_id: [2, 7] }));
    expect(parsed).toEqual({
      _from_model_config: true,
      bos_token_id: 1,
      eos_token_id: [2, 7],
      transformers_version: HF_CONFIG_TABLE_TRANSFORMERS_VERSION,
    });
  });

  it("the source's generation_config.json ids take precedence over config.json's; its other keys are not copied", () => {
    const parsed = JSON.parse(
      generationConfigText({ bos_token_id: 1, eos_token_id: 2 }, { eos_token_id: [2, 9], do_sample: false }),
    );
    expect(parsed.eos_token_id).toEqual([2, 9]);
    expect(parsed.bos_token_id).toBe(1);
    expect(parsed.do_sample).toBeUndefined();
  });

  it.each([
    [{ eos_token_id: 'x' }, undefined, /config.json: eos_token_id must be a token id or a list of them, got "x"/],
    [{}, { bos_token_id: -1 }, /generation_config.json: bos_token_id must be a token id, got -1/],
    [{}, { pad_token_id: [0] }, /generation_config.json: pad_token_id must be a token id, got \[0\]/],
  ])('refuses a bad id %j / %j with a ConfigError naming the field', (config, source, message) => {
    expect(() => generationConfigText(config, source)).toThrow(ConfigError);
    expect(() => generationConfigText(config, source)).toThrow(message);
  });
});

describe('exportHfFolder writes generation_config.json', () => {
  const spec = tinyDenseSpec({ bosTokenId: 1, eosTokenIds: [2] });

  it("from the spec's ids when the source has no generation_config.json", async () => {
    const { files } = await exportHfToMemory(randomModelWeights(spec, 3), { baseConfig: { pad_token_id: 0 } });
    expect(JSON.parse(new TextDecoder().decode(files['generation_config.json']!))).toEqual({
      _from_model_config: true,
      bos_token_id: 1,
      eos_token_id: 2,
      pad_token_id: 0,
      transformers_version: HF_CONFIG_TABLE_TRANSFORMERS_VERSION,
    });
  });

  it("with the source's eos list, which the loader reads back into the spec", async () => {
    const sidecar = memoryFileSet({ 'generation_config.json': json({ eos_token_id: [2, 5], max_new_tokens: 9 }) });
    const { files, fileSet } = await exportHfToMemory(randomModelWeights(spec, 3), { sidecarFiles: sidecar });
    const written = JSON.parse(new TextDecoder().decode(files['generation_config.json']!));
    expect(written.eos_token_id).toEqual([2, 5]);
    expect(written.max_new_tokens).toBeUndefined();
    expect((await loadHfModel(fileSet)).spec.eosTokenIds).toEqual([2, 5]);
  });
});
