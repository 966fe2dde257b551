import { describe, expect, it } from 'vitest';
import { ConfigError, FormatError } from '../errors.ts';
import { openSafetensors, writeSafetensors } from '../formats/safetensors.ts';
import { MemorySink, bytesSource, memoryFileSet } from '../io/byte-source.ts';
import { dequantize, quantize } from '../quant/convert.ts';
import type { RawTensor } from '../tensor.ts';
import { buildTestingBpeTokenizer } from '../tokenizer/bpe.testing.ts';
import { lazyHfFolder } from './export-hf.ts';
import { exportHfToMemory } from './hf.testing.ts';
import type { ModelLoadProgress as LoadProgress } from '../io/progress.ts';
import { loadHfModel } from './load.ts';
import { randomModelWeights, tinyDenseSpec, tinyMoeSpec, tinyQwenMoeSpec } from './random.ts';
import type { ModelSpec } from './spec.ts';
import type { ModelWeights } from './weights.ts';

/** Every tensor of a ModelWeights with a role path, for byte comparison. */
function tensorsByRole(weights: ModelWeights): Map<string, RawTensor> {
  const out = new Map<string, RawTensor>([
    ['embed', weights.embed],
    ['finalNorm', weights.finalNorm],
  ]);
  if (weights.lmHead) out.set('lmHead', weights.lmHead);
  weights.layers.forEach((layer, i) => {
    for (const [key, value] of Object.entries(layer)) {
      if (key === 'mlp' || key === 'moe') continue;
      out.set(`${i}.${key}`, value as RawTensor);
    }
    if (layer.mlp) for (const [k, t] of Object.entries(layer.mlp)) out.set(`${i}.mlp.${k}`, t);
    if (layer.moe) {
      out.set(`${i}.router`, layer.moe.router);
      if (layer.moe.sharedGate) out.set(`${i}.sharedGate`, layer.moe.sharedGate);
      layer.moe.experts.forEach((e, j) => {
        for (const [k, t] of Object.entries(e)) out.set(`${i}.expert${j}.${k}`, t);
      });
      if (layer.moe.shared) for (const [k, t] of Object.entries(layer.moe.shared)) out.set(`${i}.shared.${k}`, t);
    }
  });
  return out;
}

function expectSameWeights(actual: ModelWeights, expected: ModelWeights): void {
  const a = tensorsByRole(actual);
  const e = tensorsByRole(expected);
  expect([...a.keys()].sort()).toEqual([...e.keys()].sort());
  for (const [role, tensor] of e) {
    const got = a.get(role)!;
    expect({ role, dtype: got.dtype, shape: got.shape }).toEqual({ role, dtype: tensor.dtype, shape: tensor.shape });
    expect(Buffer.from(got.data).equals(Buffer.from(tensor.data)), `bytes of ${role}`).toBe(true);
  }
}

const SPECS: [string, ModelSpec][] = [
  ['dense llama', tinyDenseSpec()],
  ['qwen2 with tied embeddings', tinyDenseSpec({ arch: 'qwen2', qkvBias: true, tieEmbeddings: true })],
  ['mixtral', tinyMoeSpec({ intermediate: 40 })],
  ['qwen2_moe', tinyQwenMoeSpec()],
];

describe('lazyHfFolder', () => {
  it.each([
    [
      'dense llama2.c-style (interleaved RoPE, permuted on the way)',
      tinyDenseSpec({ ropeStyle: 'interleaved', hidden: 96, intermediate: 160, heads: 6, kvHeads: 2, headDim: 16 }),
    ],
    [
      'mixtral',
      tinyMoeSpec({
        hidden: 96,
        heads: 6,
        kvHeads: 2,
        headDim: 16,
        moe: { experts: 4, expertsPerToken: 2, normTopK: true, expertIntermediate: 64 },
      }),
    ],
    [
      'qwen2_moe',
      tinyQwenMoeSpec({
        hidden: 64,
        heads: 4,
        kvHeads: 2,
        headDim: 16,
        moe: {
          experts: 5,
          expertsPerToken: 2,
          normTopK: false,
          expertIntermediate: 32,
          sharedExpert: { intermediate: 96, gated: true },
        },
      }),
    ],
  ] as const)('serves exactly the files exportHfFolder writes from q4_0 weights as f32: %s', async (_, spec) => {
    const weights = randomModelWeights(spec, 5, 'q4_0');
    const sidecars = memoryFileSet({ 'tokenizer.json': new TextEncoder().encode('{"model":{}}') }, 'src');
    const written = await exportHfToMemory(weights, {
      dtype: 'f32',
      baseConfig: { extra_key: 1 },
      sidecarFiles: sidecars,
    });
    const lazy = await lazyHfFolder(weights, 'lazy', {
      dtype: 'f32',
      baseConfig: { extra_key: 1 },
      sidecarFiles: sidecars,
    });
    expect(await lazy.list()).toEqual([...written.written].sort());
    for (const file of written.written) {
      const [a, b] = [await written.fileSet.open(file), await lazy.open(file)];
      expect(Buffer.from(await b.read(0, b.size)).equals(Buffer.from(await a.read(0, a.size))), file).toBe(true);
    }
    await expect(lazy.open('nope.bin')).rejects.toThrow(/lazy: no file 'nope.bin'/);
  });
});

describe('exportHfFolder → loadHfModel', () => {
  it.each(SPECS)('round-trips a %s byte for byte', async (_, spec) => {
    const weights = randomModelWeights(spec, 11);
    const { fileSet, written } = await exportHfToMemory(weights);
    expect(written).toEqual(['config.json', 'generation_config.json', 'model.safetensors']);
    const loaded = await loadHfModel(fileSet);
    expect(loaded.spec).toEqual(spec);
    expect(loaded.extraTensors).toEqual([]);
    expectSameWeights(loaded.weights, weights);
  });

  it('writes and reads the fused transformers-v5 Mixtral layout, gate rows before up rows', async () => {
    const spec = tinyMoeSpec({ intermediate: 40 });
    const weights = randomModelWeights(spec, 5);
    const { files, fileSet } = await exportHfToMemory(weights, { mixtralLayout: 'fused' });
    const st = await openSafetensors(bytesSource(files['model.safetensors']!));
    const names = st.tensors.map((t) => t.name);
    expect(names).toContain('model.layers.1.mlp.experts.gate_up_proj');
    expect(names.some((n) => n.includes('block_sparse_moe'))).toBe(false);
    const gateUp = await st.readTensor('model.layers.1.mlp.experts.gate_up_proj');
    expect(gateUp.shape).toEqual([4, 80, 48]);
    const rowBytes = 48 * 4;
    const expert2 = weights.layers[1]!.moe!.experts[2]!;
    const start = 2 * 80 * rowBytes;
    expect(Buffer.from(gateUp.data.subarray(start, start + 40 * rowBytes)).equals(Buffer.from(expert2.gate.data))).toBe(
      true,
    );
    expect(
      Buffer.from(gateUp.data.subarray(start + 40 * rowBytes, start + 80 * rowBytes)).equals(
        Buffer.from(expert2.up.data),
      ),
    ).toBe(true);
    const loaded = await loadHfModel(fileSet);
    expect(loaded.mixtralLayout).toBe('fused');
    expectSameWeights(loaded.weights, weights);
  });

  it.each(['classic', 'fused'] as const)(
    'writes and reads a Qwen3-MoE in the %s layout (per-expert names, or gate_up_proj / down_proj as mergekit main)',
    async (layout) => {
      const spec = tinyMoeSpec({ arch: 'qwen3_moe', qkNorm: true, intermediate: 40 });
      const weights = randomModelWeights(spec, 7);
      const { files, fileSet } = await exportHfToMemory(weights, { mixtralLayout: layout });
      const names = (await openSafetensors(bytesSource(files['model.safetensors']!))).tensors.map((t) => t.name);
      expect(names.includes('model.layers.1.mlp.experts.gate_up_proj')).toBe(layout === 'fused');
      expect(names.includes('model.layers.1.mlp.experts.2.up_proj.weight')).toBe(layout === 'classic');
      expect(names).toContain('model.layers.1.mlp.gate.weight');
      const loaded = await loadHfModel(fileSet);
      expect(loaded.spec).toEqual(spec);
      expect(loaded.mixtralLayout).toBe(layout);
      expect(loaded.extraTensors).toEqual([]);
      expectSameWeights(loaded.weights, weights);
    },
  );

  it("writes and reads back a Qwen2's sliding window from max_window_layers on", async () => {
    const spec = tinyDenseSpec({
      arch: 'qwen2',
      qkvBias: true,
      layers: 3,
      slidingWindow: 16,
      slidingWindowFirstLayer: 2,
    });
    const { files, fileSet } = await exportHfToMemory(randomModelWeights(spec, 4));
    expect(JSON.parse(new TextDecoder().decode(files['config.json']!))).toMatchObject({
      use_sliding_window: true,
      sliding_window: 16,
      max_window_layers: 2,
    });
    expect((await loadHfModel(fileSet)).spec).toEqual(spec);
  });

  it('detects the classic Mixtral layout with w1/w2/w3 names', async () => {
    const { files, fileSet } = await exportHfToMemory(randomModelWeights(tinyMoeSpec({ intermediate: 40 }), 5));
    const st = await openSafetensors(bytesSource(files['model.safetensors']!));
    const w2 = st.tensors.find((t) => t.name === 'model.layers.0.block_sparse_moe.experts.3.w2.weight');
    expect(w2?.shape).toEqual([48, 40]);
    expect((await loadHfModel(fileSet)).mixtralLayout).toBe('classic');
  });

  it('shards by bytes with an index and loads the shards back', async () => {
    const weights = randomModelWeights(tinyMoeSpec({ intermediate: 40 }), 3);
    const { fileSet, written, files } = await exportHfToMemory(weights, { maxShardBytes: 40_000 });
    expect(written).toContain('model.safetensors.index.json');
    expect(written.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f)).length).toBeGreaterThan(2);
    const index = JSON.parse(new TextDecoder().decode(files['model.safetensors.index.json']));
    expect(index.weight_map['lm_head.weight']).toMatch(/^model-/);
    expectSameWeights((await loadHfModel(fileSet)).weights, weights);
  });

  it('converts to f16 on request (config torch_dtype float16) and dequantizes q8_0 to f32 by default', async () => {
    const weights = randomModelWeights(tinyDenseSpec(), 9);
    const { fileSet, files } = await exportHfToMemory(weights, { dtype: 'f16' });
    expect(JSON.parse(new TextDecoder().decode(files['config.json'])).torch_dtype).toBe('float16');
    const loaded = await loadHfModel(fileSet);
    expect(loaded.weights.layers[0]!.wq.dtype).toBe('f16');
    const expected = quantize('wq', dequantize(weights.layers[0]!.wq), [48, 48], 'f16');
    expect(Buffer.from(loaded.weights.layers[0]!.wq.data).equals(Buffer.from(expected.data))).toBe(true);

    const q8 = randomModelWeights(tinyDenseSpec({ hidden: 64, heads: 8, intermediate: 96 }), 9, 'q8_0');
    const reloaded = await loadHfModel((await exportHfToMemory(q8)).fileSet);
    expect(reloaded.weights.layers[1]!.mlp!.down.dtype).toBe('f32');
    expect(dequantize(reloaded.weights.layers[1]!.mlp!.down)).toEqual(dequantize(q8.layers[1]!.mlp!.down));
  });

  it('permutes llama2.c interleaved RoPE rows into HF rotate_half order', async () => {
    const spec = tinyDenseSpec({ ropeStyle: 'interleaved' });
    const weights = randomModelWeights(spec, 4);
    const loaded = await loadHfModel((await exportHfToMemory(weights)).fileSet);
    expect(loaded.spec.ropeStyle).toBe('half');
    const headDim = spec.headDim;
    const src = dequantize(weights.layers[0]!.wk);
    const got = dequantize(loaded.weights.layers[0]!.wk);
    for (let h = 0; h < spec.kvHeads; h++) {
      for (let i = 0; i < headDim / 2; i++) {
        for (const j of [0, 1]) {
          const from = (h * headDim + 2 * i + j) * spec.hidden;
          const to = (h * headDim + j * (headDim / 2) + i) * spec.hidden;
          expect(got.subarray(to, to + spec.hidden)).toEqual(src.subarray(from, from + spec.hidden));
        }
      }
    }
    expectSameWeights({ ...loaded.weights, layers: [] }, { ...weights, spec: loaded.spec, layers: [] });
  });

  it('reports typed progress ending at bytesTotal', async () => {
    const { fileSet } = await exportHfToMemory(randomModelWeights(tinyDenseSpec(), 2));
    const events: LoadProgress[] = [];
    await loadHfModel(fileSet, { onProgress: (p) => events.push(p) });
    const tensorEvents = events.filter((e) => e.phase === 'tensors');
    const last = tensorEvents[tensorEvents.length - 1]!;
    expect(last.bytesTotal).toBeGreaterThan(0);
    expect(last.bytesDone).toBe(last.bytesTotal);
    for (let i = 1; i < tensorEvents.length; i++)
      expect(tensorEvents[i]!.bytesDone).toBeGreaterThanOrEqual(tensorEvents[i - 1]!.bytesDone);
    expect(events[0]!.phase).toBe('config');
    expect(events[events.length - 1]!.phase).toBe('done');
  });

  it('passes tokenizer files through and loads the tokenizer', async () => {
    const { tokenizerJson, tokenizerConfig } = buildTestingBpeTokenizer();
    const sidecar = memoryFileSet({
      'tokenizer.json': new TextEncoder().encode(JSON.stringify(tokenizerJson)),
      'tokenizer_config.json': new TextEncoder().encode(JSON.stringify(tokenizerConfig)),
      'unrelated.txt': new Uint8Array([1]),
    });
    const vocab = Object.keys(tokenizerJson.model.vocab).length;
    const { fileSet, written } = await exportHfToMemory(randomModelWeights(tinyDenseSpec({ vocab }), 1), {
      sidecarFiles: sidecar,
    });
    expect(written).toEqual([
      'config.json',
      'generation_config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    const loaded = await loadHfModel(fileSet);
    expect(loaded.tokenizer?.decode(loaded.tokenizer.encode('hello world'))).toBe('hello world');
  });
});

/** Rewrites model.safetensors of a folder with `edit` applied to its tensor list. */
async function editTensors(
  files: Record<string, Uint8Array>,
  edit: (tensors: RawTensor[]) => RawTensor[],
): Promise<Record<string, Uint8Array>> {
  const st = await openSafetensors(bytesSource(files['model.safetensors']!));
  const tensors = edit(await Promise.all(st.tensors.map((t) => st.readTensor(t.name))));
  const sink = new MemorySink();
  const byName = new Map(tensors.map((t) => [t.name, t]));
  await writeSafetensors(
    sink,
    tensors.map(({ name, dtype, shape }) => ({ name, dtype, shape })),
    async (n) => byName.get(n)!.data,
  );
  return { ...files, 'model.safetensors': sink.bytes() };
}

describe('loadHfModel: checks', () => {
  it('rejects a missing tensor, naming it and its expected shape', async () => {
    const { files } = await exportHfToMemory(randomModelWeights(tinyDenseSpec(), 1));
    const edited = await editTensors(files, (ts) => ts.filter((t) => t.name !== 'model.layers.1.mlp.up_proj.weight'));
    const error = await loadHfModel(memoryFileSet(edited)).catch((e) => e);
    expect(error).toBeInstanceOf(FormatError);
    expect(error.message).toBe("model: missing tensor 'model.layers.1.mlp.up_proj.weight' [80, 48]");
  });

  it('rejects a tensor whose shape disagrees with config.json, naming both shapes', async () => {
    const { files } = await exportHfToMemory(randomModelWeights(tinyDenseSpec(), 1));
    const edited = await editTensors(files, (ts) =>
      ts.map((t) => (t.name === 'model.norm.weight' ? { ...t, shape: [47], data: t.data.subarray(0, 47 * 4) } : t)),
    );
    const error = await loadHfModel(memoryFileSet(edited)).catch((e) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe("model: tensor 'model.norm.weight' has shape [47], config.json implies [48]");
  });

  it('lists the first five missing tensors and counts the rest', async () => {
    const { files } = await exportHfToMemory(randomModelWeights(tinyDenseSpec(), 1));
    const edited = await editTensors(files, (ts) => ts.filter((t) => !t.name.startsWith('model.layers.1.')));
    const error = await loadHfModel(memoryFileSet(edited)).catch((e) => e);
    expect(error).toBeInstanceOf(FormatError);
    expect(error.message).toMatch(
      /^model: missing tensors 'model\.layers\.1\.input_layernorm\.weight' \[48\], .* and 4 more$/,
    );
  });

  it('rejects an integer tensor where a weight belongs', async () => {
    const { files } = await exportHfToMemory(randomModelWeights(tinyDenseSpec(), 1));
    const edited = await editTensors(files, (ts) =>
      ts.map((t) => (t.name === 'model.norm.weight' ? { ...t, dtype: 'i32' } : t)),
    );
    await expect(loadHfModel(memoryFileSet(edited))).rejects.toThrow(
      "model: tensor 'model.norm.weight' has dtype i32, expected a float dtype",
    );
  });

  it('lists unknown extra tensors without failing', async () => {
    const { files } = await exportHfToMemory(randomModelWeights(tinyDenseSpec({ tieEmbeddings: true }), 1));
    const extra: RawTensor = {
      name: 'model.layers.0.self_attn.rotary_emb.inv_freq',
      dtype: 'f32',
      shape: [4],
      data: new Uint8Array(16),
    };
    const loaded = await loadHfModel(memoryFileSet(await editTensors(files, (ts) => [...ts, extra])));
    expect(loaded.extraTensors).toEqual([extra.name]);
  });

  it('rejects a folder without config.json and invalid JSON', async () => {
    await expect(loadHfModel(memoryFileSet({}, 'empty'))).rejects.toThrow(
      'empty: no config.json (not an HF model folder)',
    );
    await expect(loadHfModel(memoryFileSet({ 'config.json': new TextEncoder().encode('{oops') }))).rejects.toThrow(
      /^config\.json: invalid JSON/,
    );
  });
});

describe('loadHfModel: sidecar files', () => {
  it('adds generation_config.json eos ids to the spec', async () => {
    const { files } = await exportHfToMemory(randomModelWeights(tinyDenseSpec(), 1));
    const loaded = await loadHfModel(
      memoryFileSet({
        ...files,
        'generation_config.json': new TextEncoder().encode(JSON.stringify({ eos_token_id: [7, 2] })),
      }),
    );
    expect(loaded.spec.eosTokenIds).toEqual([2, 7]);
  });

  it('rejects a tokenizer with more tokens than the embedding has rows', async () => {
    const { tokenizerJson, tokenizerConfig } = buildTestingBpeTokenizer();
    const sidecar = memoryFileSet({
      'tokenizer.json': new TextEncoder().encode(JSON.stringify(tokenizerJson)),
      'tokenizer_config.json': new TextEncoder().encode(JSON.stringify(tokenizerConfig)),
    });
    const { fileSet } = await exportHfToMemory(randomModelWeights(tinyDenseSpec({ vocab: 101 }), 1), {
      sidecarFiles: sidecar,
    });
    await expect(loadHfModel(fileSet)).rejects.toThrow(
      /^tokenizer\.json: \d+ tokens, but config\.json vocab_size is 101$/,
    );
  });
});
