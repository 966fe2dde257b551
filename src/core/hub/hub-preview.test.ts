/**
 * hubPreviewModel reads config.json alone from a real local HTTP server in the hub's URL
 * layout and says what the download will be: the spec, its parameters (counted as the
 * importer's own check counts them), the checkpoint dtype, and whereItFits for the bytes the
 * library would keep; what the importer refuses it refuses with the same message, and a
 * config past HUB_CONFIG_MAX_BYTES is refused before it is fetched.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, HubError } from '../errors.ts';
import { checkModelFiles } from '../model/check.ts';
import { memoryFileSet } from '../io/byte-source.ts';
import { WASM32_MAX_BYTES } from '../runtime/wasm/arena.ts';
import { whereItFits } from '../runtime/where-it-fits.ts';
import { HUB_CONFIG_MAX_BYTES, hubPreviewModel } from './hub-preview.ts';
import type { HubFileInfo, HubRepoRef } from './hub.ts';

const FIXTURE = new URL('./testdata/hub/org/tiny/resolve/main/', import.meta.url);
const tinyConfig = JSON.parse(readFileSync(new URL('config.json', FIXTURE), 'utf8'));
/** 4×TinyLlama-1.1B dims in a Mixtral config: 3.4B parameters, bf16 (no file of it exists). */
const TINYLLAMA_MOE = {
  architectures: ['MixtralForCausalLM'],
  model_type: 'mixtral',
  hidden_size: 2048,
  intermediate_size: 5632,
  num_hidden_layers: 22,
  num_attention_heads: 32,
  num_key_value_heads: 4,
  vocab_size: 32000,
  max_position_embeddings: 2048,
  rope_theta: 10000,
  rms_norm_eps: 1e-5,
  num_local_experts: 4,
  num_experts_per_tok: 2,
  torch_dtype: 'bfloat16',
};

const configs = new Map<string, string>();
let server: Server;
let baseUrl = '';
let requests: string[] = [];
beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const m = /^\/(org\/[^/]+)\/resolve\/main\/config\.json$/.exec(req.url ?? '');
    const body = m && configs.get(m[1]);
    if (!body) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => server.close());

function repo(name: string, config: unknown, weightBytes = 0): { ref: HubRepoRef; files: HubFileInfo[] } {
  const text = typeof config === 'string' ? config : JSON.stringify(config);
  configs.set(`org/${name}`, text);
  requests = [];
  return {
    ref: { baseUrl, repo: `org/${name}`, rev: 'main' },
    files: [
      { name: 'config.json', size: new TextEncoder().encode(text).byteLength },
      { name: 'model.safetensors', size: weightBytes },
    ],
  };
}

describe('hubPreviewModel', () => {
  it('gives the spec, the parameters the importer counts and the checkpoint dtype, from config.json alone', async () => {
    const { ref, files } = repo('tiny', tinyConfig, readFileSync(new URL('model.safetensors', FIXTURE)).byteLength);
    const preview = await hubPreviewModel(fetch, ref, files);
    const imported = await checkModelFiles(
      memoryFileSet({
        'config.json': readFileSync(new URL('config.json', FIXTURE)),
        'model.safetensors': readFileSync(new URL('model.safetensors', FIXTURE)),
      }),
    );
    expect(preview.params).toBe(imported.params);
    expect(preview.spec.hidden).toBe(48);
    expect(preview.dtype).toBe('f32');
    expect(requests).toEqual(['/org/tiny/resolve/main/config.json']);
  });

  it('says a 4×TinyLlama-dims bf16 MoE is past wasm32 as it is and fits as q4_0', async () => {
    const { ref, files } = repo('moe', TINYLLAMA_MOE);
    const preview = await hubPreviewModel(fetch, ref, files);
    expect(preview.spec.moe?.experts).toBe(4);
    expect(preview.dtype).toBe('bf16');
    // counted by hand: embed + lm_head, 22 × (q, k, v, o, 2 norms, router, 4 experts × 3), final norm
    const [h, kv, inter, vocab] = [2048, 4 * 64, 5632, 32000];
    const layer = 2 * h * h + 2 * kv * h + 2 * h + 4 * h + 4 * 3 * inter * h;
    expect(preview.params).toBe(2 * vocab * h + 22 * layer + h);
    const kept = whereItFits(preview.params, preview.dtype, { multiMemory: false });
    expect(kept.wasmFits, 'bf16 widens to f32 in WASM').toBe(false);
    expect(kept.wasmBytes).toBeGreaterThan(WASM32_MAX_BYTES);
    expect(kept.wasmMemories, '13.6 GB of f32: four 4 GiB memories').toBe(4);
    expect(kept.gpuBytes).toBe(2 * preview.params);
    expect(whereItFits(preview.params, preview.dtype, { multiMemory: true }).wasmFits, 'with multi-memory').toBe(true);
    const q8 = {
      multi: whereItFits(preview.params, 'q8_0', { multiMemory: true }),
      not: whereItFits(preview.params, 'q8_0', { multiMemory: false }),
    };
    expect(q8.multi.wasmMemories).toBe(1);
    expect(q8.not.wasmFits).toBe(true);
    const q4 = whereItFits(preview.params, 'q4_0', { multiMemory: false });
    expect(q4.wasmFits).toBe(true);
    expect(q4.gpuBytes).toBe((preview.params * 18) / 32);
  });

  it('tells a 16-bit checkpoint without a dtype key from its bytes per parameter', async () => {
    const { torch_dtype: _, ...noDtype } = tinyConfig;
    const params = (await hubPreviewModel(fetch, repo('f32', noDtype).ref, repo('f32', noDtype).files)).params;
    const { ref, files } = repo('half', noDtype, 2 * params);
    expect((await hubPreviewModel(fetch, ref, files)).dtype).toBe('bf16');
    const wide = repo('wide', noDtype, 4 * params);
    expect((await hubPreviewModel(fetch, wide.ref, wide.files)).dtype).toBe('f32');
  });

  it("refuses what the importer refuses, with the importer's message naming the key", async () => {
    const { ref, files } = repo('gemma', { ...tinyConfig, model_type: 'gemma' });
    const error = await hubPreviewModel(fetch, ref, files).catch((e: Error) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/model_type/);
  });

  it('refuses a config.json past HUB_CONFIG_MAX_BYTES without fetching it, and one that is not JSON', async () => {
    const big = repo('big', tinyConfig);
    big.files[0].size = HUB_CONFIG_MAX_BYTES + 1;
    await expect(hubPreviewModel(fetch, big.ref, big.files)).rejects.toThrow(
      `hub: config.json of org/big is ${HUB_CONFIG_MAX_BYTES + 1} bytes, past HUB_CONFIG_MAX_BYTES ${HUB_CONFIG_MAX_BYTES}`,
    );
    expect(requests).toEqual([]);
    const broken = repo('broken', '{"model_type": "llama",');
    await expect(hubPreviewModel(fetch, broken.ref, broken.files)).rejects.toThrow(HubError);
  });
});
