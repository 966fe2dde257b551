import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bytesSource, MemorySink } from '../io/byte-source.ts';
import { FormatError } from '../errors.ts';
import { dequantize, quantize } from '../quant/convert.ts';
import type { RawTensor } from '../tensor.ts';
import { readGguf, writeGguf, type GgufMetadataValue } from '../formats/gguf.ts';
import { ggufValue } from '../formats/gguf-meta.ts';
import { cpuBackend } from '../runtime/cpu/backend.ts';
import { allclose } from '../runtime/cpu/allclose.testing.ts';
import { randomModelWeights, tinyDenseSpec, tinyMoeSpec, tinyQwenMoeSpec } from './random.ts';
import type { ModelWeights } from './weights.ts';
import { exportGguf, loadGgufModel } from './gguf-model.ts';
import { interleaveRowPermutation, invertPermutation, permuteRows, type GgufExportQuant } from './gguf-names.ts';
import { buildTestingBpeTokenizer } from '../tokenizer/bpe.testing.ts';

const bpe = buildTestingBpeTokenizer(64);
const bpeVocab = Object.keys(bpe.tokenizerJson.model.vocab).length;

async function exportToBytes(weights: ModelWeights, quant: GgufExportQuant, tokenizer = bpe): Promise<Uint8Array> {
  const sink = new MemorySink();
  await exportGguf(sink, weights, tokenizer, quant);
  return sink.bytes();
}

function allTensors(w: ModelWeights): RawTensor[] {
  const out = [w.embed, w.finalNorm, ...(w.lmHead ? [w.lmHead] : [])];
  for (const l of w.layers) {
    out.push(
      l.attnNorm,
      l.wq,
      l.wk,
      l.wv,
      l.wo,
      l.ffnNorm,
      ...[l.bq, l.bk, l.bv, l.qNorm, l.kNorm].filter((t): t is RawTensor => !!t),
    );
    if (l.mlp) out.push(l.mlp.gate, l.mlp.up, l.mlp.down);
    if (l.moe) {
      out.push(l.moe.router, ...l.moe.experts.flatMap((e) => [e.gate, e.up, e.down]));
      if (l.moe.shared) out.push(l.moe.shared.gate, l.moe.shared.up, l.moe.shared.down);
      if (l.moe.sharedGate) out.push(l.moe.sharedGate);
    }
  }
  return out;
}

async function lastLogits(weights: ModelWeights, ids: number[]): Promise<Float32Array> {
  const session = await cpuBackend.createSession(weights, { maxContext: 16 });
  return (await session.forward(ids)).logits;
}

describe('q/k row permutation (convert_hf_to_gguf.py permute)', () => {
  it('matches numpy reshape(n_head, 2, d/2).swapaxes(1, 2) on a known answer', () => {
    // heads 2, headDim 6: per head, rows (0,3) (1,4) (2,5) become adjacent pairs.
    expect(interleaveRowPermutation(2, 6)).toEqual([0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11]);
    expect(invertPermutation([2, 0, 1])).toEqual([1, 2, 0]);
    const rows = Uint8Array.of(10, 11, 20, 21, 30, 31); // 3 rows of 2 bytes
    expect(Array.from(permuteRows(rows, [2, 0, 1]))).toEqual([30, 31, 10, 11, 20, 21]);
  });
});

describe('exportGguf → loadGgufModel', () => {
  const specs = {
    dense: tinyDenseSpec({ vocab: bpeVocab, hidden: 64, headDim: 8, heads: 8, kvHeads: 2, intermediate: 96 }),
    mixtral: tinyMoeSpec({
      vocab: bpeVocab,
      hidden: 64,
      headDim: 8,
      heads: 8,
      kvHeads: 2,
      moe: { experts: 4, expertsPerToken: 2, normTopK: true, expertIntermediate: 64 },
    }),
    qwen2moe: tinyQwenMoeSpec({ vocab: bpeVocab, hidden: 64, headDim: 8, heads: 8, kvHeads: 2 }),
    qwen3: tinyDenseSpec({
      vocab: bpeVocab,
      hidden: 64,
      headDim: 32,
      heads: 4,
      kvHeads: 2,
      arch: 'qwen3',
      qkNorm: true,
    }),
    qwen3_moe: tinyDenseSpec({
      vocab: bpeVocab,
      hidden: 64,
      headDim: 16,
      heads: 8,
      kvHeads: 2,
      arch: 'qwen3_moe',
      qkNorm: true,
      moe: { experts: 4, expertsPerToken: 2, normTopK: true, expertIntermediate: 64 },
    }),
    'mixtral with a sliding window': tinyMoeSpec({
      vocab: bpeVocab,
      hidden: 64,
      headDim: 8,
      heads: 8,
      kvHeads: 2,
      slidingWindow: 16,
      moe: { experts: 4, expertsPerToken: 2, normTopK: true, expertIntermediate: 64 },
    }),
  };
  it.each(Object.entries(specs))('f32 %s: every tensor and the spec come back byte-identical', async (_, spec) => {
    const weights = randomModelWeights(spec, 5);
    const loaded = await loadGgufModel(bytesSource(await exportToBytes(weights, 'f32'), 'model.gguf'));
    const { bosTokenId: _b, eosTokenIds: _e, ...expectedSpec } = spec;
    // llama-arch MoE: feed_forward_length is the expert width (the unused dense width is not stored).
    if (spec.arch === 'mixtral') expectedSpec.intermediate = spec.moe!.expertIntermediate;
    expect(loaded.weights.spec).toMatchObject({ ...expectedSpec, rmsEps: Math.fround(spec.rmsEps) }); // GGUF stores f32
    const [ours, theirs] = [allTensors(weights), allTensors(loaded.weights)];
    expect(theirs.length).toBe(ours.length);
    ours.forEach((t, i) => {
      expect(theirs[i]!.shape).toEqual(t.shape);
      expect(Buffer.from(theirs[i]!.data).equals(Buffer.from(t.data)), `tensor ${t.name}`).toBe(true);
    });
  });

  it('q8_0/q4_0 quantize matrices only, bit-exactly, and keep norms and routers f32', async () => {
    const weights = randomModelWeights(specs.mixtral, 6);
    for (const quant of ['q8_0', 'q4_0'] as const) {
      const file = await readGguf(bytesSource(await exportToBytes(weights, quant)));
      const dtypes = Object.fromEntries(file.tensors.map((t) => [t.name, t.dtype]));
      expect(dtypes['blk.0.ffn_up_exps.weight']).toBe(quant);
      expect(dtypes['blk.1.attn_q.weight']).toBe(quant);
      expect(dtypes['token_embd.weight']).toBe(quant);
      expect(dtypes['blk.0.ffn_gate_inp.weight']).toBe('f32');
      expect(dtypes['blk.0.attn_norm.weight']).toBe('f32');
      const loaded = (await loadGgufModel(bytesSource(await exportToBytes(weights, quant)))).weights;
      const expert = weights.layers[1]!.moe!.experts[3]!.down;
      const requantized = quantize('x', dequantize(expert), expert.shape, quant).data;
      expect(Buffer.from(loaded.layers[1]!.moe!.experts[3]!.down.data).equals(Buffer.from(requantized))).toBe(true);
    }
  });

  it('converts bf16 source weights (dequantize, then the target dtype)', async () => {
    const weights = randomModelWeights(specs.dense, 4, 'bf16');
    const loaded = (await loadGgufModel(bytesSource(await exportToBytes(weights, 'f16')))).weights;
    const source = weights.layers[0]!.mlp!.up;
    expect(loaded.layers[0]!.mlp!.up.dtype).toBe('f16');
    const expected = quantize('up', dequantize(source), source.shape, 'f16').data;
    expect(Buffer.from(loaded.layers[0]!.mlp!.up.data).equals(Buffer.from(expected))).toBe(true);
  });

  it('falls back to f16 for matrices whose rows are not whole 32-blocks', async () => {
    const spec = tinyDenseSpec({ vocab: bpeVocab, hidden: 64, headDim: 8, heads: 8, kvHeads: 2, intermediate: 80 });
    const file = await readGguf(bytesSource(await exportToBytes(randomModelWeights(spec, 1), 'q4_0')));
    const dtypes = Object.fromEntries(file.tensors.map((t) => [t.name, t.dtype]));
    expect(dtypes['blk.0.ffn_down.weight']).toBe('f16'); // rows of 80
    expect(dtypes['blk.0.ffn_up.weight']).toBe('q4_0'); // rows of 64
  });

  it('writes the llama.cpp MoE layout: stacked [E, …] experts and the keys it needs', async () => {
    const file = await readGguf(bytesSource(await exportToBytes(randomModelWeights(specs.mixtral, 2), 'f32')));
    const shapes = Object.fromEntries(file.tensors.map((t) => [t.name, t.shape]));
    expect(shapes['blk.0.ffn_gate_exps.weight']).toEqual([4, 64, 64]);
    expect(shapes['blk.0.ffn_down_exps.weight']).toEqual([4, 64, 64]);
    expect(shapes['blk.0.ffn_gate_inp.weight']).toEqual([4, 64]);
    const m = file.metadata;
    expect(m.get('general.architecture')?.value).toBe('llama');
    expect(m.get('llama.expert_count')?.value).toBe(4);
    expect(m.get('llama.expert_used_count')?.value).toBe(2);
    expect(m.get('llama.feed_forward_length')?.value).toBe(64);
    expect(m.get('tokenizer.ggml.model')?.value).toBe('gpt2');
    expect(m.get('tokenizer.chat_template')?.value).toBe(bpe.tokenizerConfig.chat_template);
  });

  it("Llama 3's scaled RoPE travels as rope_freqs.weight (llama.cpp's divisors) and computes the same logits", async () => {
    const spec = tinyDenseSpec({
      ...specs.dense,
      ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 8 },
    });
    const weights = randomModelWeights(spec, 12);
    const bytes = await exportToBytes(weights, 'f32');
    const file = await readGguf(bytesSource(bytes));
    const freqs = file.tensors.find((t) => t.name === 'rope_freqs.weight')!;
    expect(freqs).toMatchObject({ dtype: 'f32', shape: [4] });
    // headDim 8, theta 1e4, original context 8: pair 0 (wavelength 6.3) blended, the rest ÷ 8
    const factors = Array.from(new Float32Array((await file.readTensorSlice(freqs.name, 0, 16)).slice().buffer));
    expect(factors[0]).toBeCloseTo(1 / ((1 - (8 / (2 * Math.PI) - 1) / 3) / 8 + (8 / (2 * Math.PI) - 1) / 3), 5);
    expect(factors.slice(1)).toEqual([8, 8, 8]);
    const loaded = (await loadGgufModel(bytesSource(bytes))).weights;
    expect(loaded.spec.ropeScaling).toEqual({ type: 'factors', factors });
    const ids = [3, 17, 200, 5, 42, 7, 9, 11, 13];
    const report = allclose(
      await lastLogits(loaded, ids),
      await lastLogits(weights, ids),
      { atol: 1e-4, rtol: 1e-4 },
      'logits',
    );
    expect(report.ok, report.message).toBe(true);
    // and the scaling is what makes them agree: the same file read with plain RoPE does not
    const plain = { ...loaded, spec: { ...loaded.spec, ropeScaling: undefined } };
    expect(
      allclose(await lastLogits(plain, ids), await lastLogits(weights, ids), { atol: 1e-3, rtol: 1e-3 }, 'l').ok,
    ).toBe(false);
    // a model without scaling writes no rope_freqs
    const unscaled = await readGguf(bytesSource(await exportToBytes(randomModelWeights(specs.dense, 12), 'f32')));
    expect(unscaled.tensors.some((t) => t.name === 'rope_freqs.weight')).toBe(false);
  });

  it('permuted wq/wk with interleaved RoPE compute the same logits as the HF rotate_half model', async () => {
    const spec = specs.dense;
    const weights = randomModelWeights(spec, 9);
    const qPerm = interleaveRowPermutation(spec.heads, spec.headDim);
    const kPerm = interleaveRowPermutation(spec.kvHeads, spec.headDim);
    const permuted: ModelWeights = {
      ...weights,
      spec: { ...spec, ropeStyle: 'interleaved' },
      layers: weights.layers.map((l) => ({
        ...l,
        wq: { ...l.wq, data: permuteRows(l.wq.data, qPerm) },
        wk: { ...l.wk, data: permuteRows(l.wk.data, kPerm) },
      })),
    };
    const ids = [3, 17, 200, 5, 42];
    const ROPE_EQUIVALENCE = { atol: 1e-4, rtol: 1e-4 }; // same math, different f32 summation order
    const report = allclose(
      await lastLogits(permuted, ids),
      await lastLogits(weights, ids),
      ROPE_EQUIVALENCE,
      'logits',
    );
    expect(report.ok, report.message).toBe(true);
    // Exporting the interleaved model must give the same file as exporting the HF one.
    expect(
      Buffer.from(await exportToBytes(permuted, 'f32')).equals(Buffer.from(await exportToBytes(weights, 'f32'))),
    ).toBe(true);
  });
});

describe('GGUF exports llama.cpp would route differently are refused, with the reason and the way out', () => {
  const qwen = tinyQwenMoeSpec({ vocab: bpeVocab, hidden: 64, headDim: 8, heads: 8, kvHeads: 2 });
  const mixtral = tinyMoeSpec({ vocab: bpeVocab, hidden: 64, headDim: 8, heads: 8, kvHeads: 2 });
  it.each([
    [
      'a Qwen2-MoE that renormalizes top-k (norm_topk_prob true, what mergekit writes)',
      { ...qwen, moe: { ...qwen.moe!, normTopK: true } },
      /qwen2moe never renormalizes.*norm_topk_prob: true.*HF folder.*Mixtral/,
    ],
    [
      'a Mixtral that does not renormalize',
      { ...mixtral, moe: { ...mixtral.moe!, normTopK: false } },
      /renormalizes top-k weights for llama-arch MoE.*normTopK false.*HF folder/,
    ],
    [
      "a Qwen3-MoE that does not renormalize (Qwen3MoeConfig's default norm_topk_prob false)",
      tinyDenseSpec({
        vocab: bpeVocab,
        hidden: 64,
        headDim: 8,
        heads: 8,
        kvHeads: 2,
        arch: 'qwen3_moe',
        qkNorm: true,
        moe: { experts: 4, expertsPerToken: 2, normTopK: false, expertIntermediate: 64 },
      }),
      /renormalizes top-k weights for qwen3moe-arch MoE.*norm_topk_prob: false.*HF folder/,
    ],
    [
      'a Qwen2 whose sliding window covers only the layers from max_window_layers on',
      tinyDenseSpec({ vocab: bpeVocab, arch: 'qwen2', qkvBias: true, slidingWindow: 16, slidingWindowFirstLayer: 1 }),
      /16-token window only from layer 1 on \(config.json max_window_layers\).*qwen2.attention.sliding_window is one window for every layer.*HF folder/,
    ],
  ])('refuses %s', async (_, spec, message) => {
    const sink = new MemorySink();
    const refusal = exportGguf(sink, randomModelWeights(spec, 3), bpe, 'q8_0');
    await expect(refusal).rejects.toMatchObject({ name: 'ConfigError', message: expect.stringMatching(message) });
    expect(sink.size, 'nothing is written before the refusal').toBe(0);
  });
  it('reads a qwen2moe GGUF as llama.cpp runs it: qwen2moe.expert_weights_norm true does not make it renormalize', async () => {
    const file = await readGguf(bytesSource(await exportToBytes(randomModelWeights(qwen, 3), 'f32')));
    const metadata = new Map(file.metadata).set('qwen2moe.expert_weights_norm', ggufValue.bool(true));
    const sink = new MemorySink();
    await writeGguf(sink, {
      metadata,
      tensors: file.tensors.map((t) => ({ ...t, getData: async () => (await file.readTensor(t.name)).data })),
    });
    const loaded = await loadGgufModel(bytesSource(sink.bytes(), 'norm.gguf'));
    expect(loaded.weights.spec.moe?.normTopK).toBe(false);
  });
  it('exports the same Qwen2-MoE when it does not renormalize (the refusal is about that field alone)', async () => {
    const bytes = await exportToBytes(randomModelWeights(qwen, 3), 'q8_0');
    expect(bytes.byteLength).toBeGreaterThan(0);
  });
});

describe('importing the other GGUF expert layouts', () => {
  type Tensor = { name: string; dtype: RawTensor['dtype']; shape: number[]; data: Uint8Array };
  /** Rewrites the stacked ffn_*_exps tensors of a standard export with `relayout`. */
  async function relayoutFile(bytes: Uint8Array, relayout: (tensors: Tensor[]) => Tensor[]): Promise<Uint8Array> {
    const file = await readGguf(bytesSource(bytes));
    const tensors = await Promise.all(
      file.tensors.map(async (t) => ({ ...t, data: (await file.readTensor(t.name)).data })),
    );
    const sink = new MemorySink();
    await writeGguf(sink, { metadata: file.metadata, tensors: relayout(tensors) });
    return sink.bytes();
  }
  const perExpert = (t: Tensor): Tensor[] => {
    const [experts, rows, cols] = t.shape as [number, number, number];
    const bytes = t.data.byteLength / experts;
    return Array.from({ length: experts }, (_, e) => ({
      ...t,
      name: t.name.replace(/_exps\.weight$/, `.${e}.weight`),
      shape: [rows, cols],
      data: t.data.subarray(e * bytes, (e + 1) * bytes),
    }));
  };
  const fuseGateUp = (gate: Tensor, up: Tensor): Tensor => {
    const [experts, rows, cols] = gate.shape as [number, number, number];
    const bytes = gate.data.byteLength / experts;
    const data = new Uint8Array(2 * gate.data.byteLength);
    for (let e = 0; e < experts; e++) {
      data.set(gate.data.subarray(e * bytes, (e + 1) * bytes), 2 * e * bytes);
      data.set(up.data.subarray(e * bytes, (e + 1) * bytes), (2 * e + 1) * bytes);
    }
    return {
      ...gate,
      name: gate.name.replace('ffn_gate_exps', 'ffn_gate_up_exps'),
      shape: [experts, 2 * rows, cols],
      data,
    };
  };
  const spec = tinyMoeSpec({
    vocab: bpeVocab,
    hidden: 64,
    headDim: 8,
    heads: 8,
    kvHeads: 2,
    moe: { experts: 3, expertsPerToken: 2, normTopK: true, expertIntermediate: 64 },
  });
  const layouts = {
    'per-expert tensors (pre-#6387 Mixtral files)': (ts: Tensor[]) =>
      ts.flatMap((t) => (t.name.includes('_exps.') ? perExpert(t) : [t])),
    'fused ffn_gate_up_exps (llama.cpp PR #18740)': (ts: Tensor[]) =>
      ts.flatMap((t) => {
        if (t.name.includes('ffn_up_exps')) return [];
        if (!t.name.includes('ffn_gate_exps')) return [t];
        return [fuseGateUp(t, ts.find((u) => u.name === t.name.replace('gate_exps', 'up_exps'))!)];
      }),
  };
  it.each(Object.entries(layouts))('%s load to the same weights', async (_, relayout) => {
    const standard = await exportToBytes(randomModelWeights(spec, 8), 'q4_0');
    const expected = allTensors((await loadGgufModel(bytesSource(standard))).weights);
    const loaded = await loadGgufModel(bytesSource(await relayoutFile(standard, relayout)));
    expect(loaded.weights.spec.moe).toEqual(spec.moe);
    const actual = allTensors(loaded.weights);
    expect(actual.length).toBe(expected.length);
    expected.forEach((t, i) => expect(Buffer.from(actual[i]!.data).equals(Buffer.from(t.data)), t.name).toBe(true));
  });
});

describe('GGUF tokenizer metadata', () => {
  const mistralDir = new URL('../../../tests/fixtures/tokenizers/mistral-32k/', import.meta.url);
  const mistral = {
    tokenizerJson: JSON.parse(readFileSync(new URL('tokenizer.json', mistralDir), 'utf8')),
    tokenizerConfig: JSON.parse(readFileSync(new URL('tokenizer_config.json', mistralDir), 'utf8')),
  };
  const texts = [
    'Hello world! Once upon a time, there was a dog.',
    '  def f(x):\n\treturn x ** 2  # ünïcödé ✓ 日本語 🦙',
    '<s>[INST] 12+34=? [/INST]',
  ];

  it('SentencePiece vocabulary (Mistral 32k): tokens, types, scores; rebuilt tokenizer encodes identically', async () => {
    const spec = tinyDenseSpec({
      vocab: 32000,
      hidden: 32,
      headDim: 8,
      heads: 4,
      kvHeads: 2,
      intermediate: 32,
      layers: 1,
    });
    const loaded = await loadGgufModel(bytesSource(await exportToBytes(randomModelWeights(spec, 1), 'f32', mistral)));
    const file = await readGguf(bytesSource(await exportToBytes(randomModelWeights(spec, 1), 'f32', mistral)));
    expect(file.metadata.get('tokenizer.ggml.model')?.value).toBe('llama');
    const types = file.metadata.get('tokenizer.ggml.token_type')!.value as number[];
    expect([types[0], types[1], types[2], types[3], types[13], types[300]]).toEqual([2, 3, 3, 6, 6, 1]);
    const { HfTokenizer } = await import('../tokenizer/hf.ts');
    const original = new HfTokenizer(mistral.tokenizerJson, mistral.tokenizerConfig);
    const rebuilt = new HfTokenizer(loaded.tokenizerJson!, { bos_token: '<s>', eos_token: '</s>' });
    for (const text of texts) {
      expect(rebuilt.encode(text)).toEqual(original.encode(text));
      expect(rebuilt.decode(original.encode(text), { skipSpecialTokens: true })).toBe(
        original.decode(original.encode(text), { skipSpecialTokens: true }),
      );
    }
  });

  it('byte-level BPE: merges and chat template survive; rebuilt tokenizer encodes identically', async () => {
    const loaded = await loadGgufModel(
      bytesSource(await exportToBytes(randomModelWeights(tinyDenseSpec({ vocab: bpeVocab }), 1), 'f32')),
    );
    expect(loaded.chatTemplate).toBe(bpe.tokenizerConfig.chat_template);
    const { HfTokenizer } = await import('../tokenizer/hf.ts');
    const original = new HfTokenizer(bpe.tokenizerJson, bpe.tokenizerConfig);
    const rebuilt = new HfTokenizer(loaded.tokenizerJson!, bpe.tokenizerConfig);
    for (const text of [...texts, '<|im_start|>user\nhi<|im_end|>'])
      expect(rebuilt.encode(text)).toEqual(original.encode(text));
  });

  it("pads a vocabulary smaller than the embedding with unused [PADn] tokens, as llama.cpp's converter does", async () => {
    const file = await readGguf(
      bytesSource(await exportToBytes(randomModelWeights(tinyDenseSpec({ vocab: bpeVocab + 3 }), 1), 'f32')),
    );
    expect((file.metadata.get('tokenizer.ggml.tokens')!.value as string[]).slice(-3)).toEqual([
      `[PAD${bpeVocab}]`,
      `[PAD${bpeVocab + 1}]`,
      `[PAD${bpeVocab + 2}]`,
    ]);
    expect((file.metadata.get('tokenizer.ggml.token_type')!.value as number[]).slice(-4)).toEqual([3, 5, 5, 5]);
  });

  it('refuses a vocabulary larger than the embedding', async () => {
    await expect(exportToBytes(randomModelWeights(tinyDenseSpec({ vocab: 101 }), 1), 'f32')).rejects.toThrow(
      /has id \d+, but the model's embedding has only 101 rows/,
    );
  });
});

describe('llama.cpp required keys (files that would abort llama.cpp are refused)', () => {
  const required = [
    'general.architecture',
    'llama.context_length',
    'llama.embedding_length',
    'llama.block_count',
    'llama.feed_forward_length',
    'llama.attention.head_count',
    'llama.attention.layer_norm_rms_epsilon',
    'tokenizer.ggml.model',
    'tokenizer.ggml.tokens',
    'llama.expert_count',
    'llama.expert_used_count',
  ];
  it.each(required)('rejects a MoE file without %s', async (key) => {
    const spec = tinyMoeSpec({
      vocab: bpeVocab,
      hidden: 32,
      headDim: 8,
      heads: 4,
      kvHeads: 2,
      layers: 1,
      moe: { experts: 2, expertsPerToken: 1, normTopK: true, expertIntermediate: 32 },
    });
    const file = await readGguf(bytesSource(await exportToBytes(randomModelWeights(spec, 3), 'f32')));
    const metadata = new Map(file.metadata);
    metadata.delete(key);
    const sink = new MemorySink();
    await writeGguf(sink, {
      metadata,
      tensors: await Promise.all(file.tensors.map(async (t) => ({ ...t, data: (await file.readTensor(t.name)).data }))),
    });
    const failure = await loadGgufModel(bytesSource(sink.bytes(), 'broken.gguf')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(FormatError);
    expect((failure as Error).message).toMatch(new RegExp(`^gguf: broken\\.gguf: .*'${key.replace(/\./g, '\\.')}'`));
  });
});

/** `bytes` re-written with `edit` applied to its metadata (tensors unchanged). */
async function rewriteGguf(bytes: Uint8Array, edit: (metadata: Map<string, GgufMetadataValue>) => void) {
  const file = await readGguf(bytesSource(bytes));
  const metadata = new Map(file.metadata);
  edit(metadata);
  const sink = new MemorySink();
  await writeGguf(sink, {
    metadata,
    tensors: await Promise.all(file.tensors.map(async (t) => ({ ...t, data: (await file.readTensor(t.name)).data }))),
  });
  return sink.bytes();
}

async function loadFailure(bytes: Uint8Array): Promise<Error> {
  const failure = await loadGgufModel(bytesSource(bytes, 'bad.gguf'))
    .then((m) => cpuBackend.createSession(m.weights, { maxContext: 4 }).then((s) => s.forward([1])))
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(failure).toBeInstanceOf(FormatError);
  expect((failure as Error).message).toMatch(/^gguf: bad\.gguf: /);
  return failure as Error;
}

describe('GGUF metadata is checked against SPEC_LIMITS and the tensors at load, naming the file and the key', () => {
  const spec = tinyDenseSpec({
    vocab: bpeVocab,
    hidden: 32,
    headDim: 8,
    heads: 4,
    kvHeads: 2,
    intermediate: 48,
    layers: 1,
  });
  const base = exportToBytes(randomModelWeights(spec, 5), 'f32');

  const cases: [string, string, GgufMetadataValue, RegExp][] = [
    [
      'a huge head_count',
      'llama.attention.head_count',
      ggufValue.u32(2 ** 31),
      /head_count 2147483648 is outside \[1, 1024\]/,
    ],
    [
      'a huge head_count_kv',
      'llama.attention.head_count_kv',
      ggufValue.u32(4e9),
      /head_count_kv 4000000000 is outside/,
    ],
    ['an infinite key_length', 'llama.attention.key_length', ggufValue.f32(Infinity), /key_length Infinity is outside/],
    [
      'a 2^60 block_count',
      'llama.block_count',
      { type: 'u64', value: 2n ** 60n },
      /block_count 1152921504606847000 is outside/,
    ],
    [
      'a negative rms epsilon',
      'llama.attention.layer_norm_rms_epsilon',
      ggufValue.f32(-1),
      /epsilon -1 is outside \(0, 1\)/,
    ],
    ['a NaN rms epsilon', 'llama.attention.layer_norm_rms_epsilon', ggufValue.f32(Number.NaN), /epsilon NaN/],
    ['an absurd rms epsilon', 'llama.attention.layer_norm_rms_epsilon', ggufValue.f32(1e30), /epsilon 1\.0\d*e\+30/],
    ['a NaN rope base', 'llama.rope.freq_base', ggufValue.f32(Number.NaN), /freq_base NaN/],
    ['a head_count kv does not divide', 'llama.attention.head_count', ggufValue.u32(3), /not a multiple of/],
    [
      'a head_count the tensors disagree with',
      'llama.attention.head_count',
      ggufValue.u32(2),
      /tensor 'blk\.0\.attn_q\.weight' has shape \[32, 32\], the metadata implies \[16, 32\]/,
    ],
    [
      'a feed_forward_length the tensors disagree with',
      'llama.feed_forward_length',
      ggufValue.u32(64),
      /tensor 'blk\.0\.ffn_gate\.weight' has shape \[48, 32\], the metadata implies \[64, 32\]/,
    ],
    [
      'merges stored as numbers',
      'tokenizer.ggml.merges',
      ggufValue.numbers('u32', [1, 2, 3]),
      /'tokenizer\.ggml\.merges' is an array of u32, expected an array of strings/,
    ],
    [
      'tokens stored as numbers',
      'tokenizer.ggml.tokens',
      ggufValue.numbers(
        'f32',
        Array.from({ length: bpeVocab }, (_, i) => i),
      ),
      /'tokenizer\.ggml\.tokens' is an array of f32/,
    ],
    [
      'a merge without a space',
      'tokenizer.ggml.merges',
      ggufValue.strings(['ab']),
      /tokenizer\.ggml\.merges\[0\] "ab" is not "left right"/,
    ],
  ];
  it.each(cases)('rejects %s at load, before the first forward pass', async (_, key, value, pattern) => {
    const failure = await loadFailure(await rewriteGguf(await base, (m) => m.set(key, value)));
    expect(failure.message).toMatch(pattern);
  });

  it.each([
    ['a zero', [1, 0, 1, 1], /rope_freqs\.weight factor 1 is 0, outside \[1\/1024, 1024\]/],
    ['a NaN', [1, 1, Number.NaN, 1], /NaN/],
    ['the wrong length', [1, 2, 3], /tensor 'rope_freqs\.weight' has shape \[3\], the metadata implies \[4\]/],
  ] as const)('rejects a rope_freqs.weight with %s at load', async (_, values, pattern) => {
    const file = await readGguf(bytesSource(await base));
    const sink = new MemorySink();
    const data = new Uint8Array(Float32Array.from(values).buffer);
    await writeGguf(sink, {
      metadata: file.metadata,
      tensors: [
        ...(await Promise.all(file.tensors.map(async (t) => ({ ...t, data: (await file.readTensor(t.name)).data })))),
        { name: 'rope_freqs.weight', dtype: 'f32', shape: [values.length], data },
      ],
    });
    expect((await loadFailure(sink.bytes())).message).toMatch(pattern);
  });

  it.each(['constructor', '__proto__', 'toString'])(
    'rejects general.architecture %j (an Object.prototype name: ARCH_OF_GGUF is not looked up by it)',
    async (arch) => {
      const failure = await loadFailure(
        await rewriteGguf(await base, (m) => m.set('general.architecture', ggufValue.string(arch))),
      );
      expect(failure.message).toBe(
        `gguf: bad.gguf: general.architecture '${arch}' is not supported (llama, qwen2, qwen2moe, qwen3, qwen3moe)`,
      );
    },
  );

  it('rejects a SentencePiece piece too long to rebuild merges for (GGUF_TOKENIZER_LIMITS.maxPieceChars)', async () => {
    const bytes = await rewriteGguf(await base, (m) => {
      const tokens = (m.get('tokenizer.ggml.tokens') as { value: string[] }).value.slice();
      tokens[5] = 'a'.repeat(5000);
      m.set('tokenizer.ggml.tokens', ggufValue.strings(tokens));
      m.set('tokenizer.ggml.model', ggufValue.string('llama'));
    });
    expect((await loadFailure(bytes)).message).toMatch(/tokenizer\.ggml\.tokens\[5\] has 5000 characters/);
  });

  it('keeps pieces named "__proto__" and "constructor" as ordinary tokens (no Object.prototype lookups)', async () => {
    const bytes = await rewriteGguf(await base, (m) => {
      const tokens = (m.get('tokenizer.ggml.tokens') as { value: string[] }).value.slice();
      tokens[7] = '__proto__';
      tokens[8] = 'constructor';
      m.set('tokenizer.ggml.tokens', ggufValue.strings(tokens));
    });
    const loaded = await loadGgufModel(bytesSource(bytes, 'ok.gguf'));
    expect(Object.getOwnPropertyDescriptor(loaded.tokenizerJson!.model.vocab, '__proto__')?.value).toBe(7);
    expect(Object.hasOwn(loaded.tokenizerJson!.model.vocab, 'constructor')).toBe(true);
  });
});

describe('weights are checked where they enter (checkTensorValues)', () => {
  const spec = tinyDenseSpec({
    vocab: bpeVocab,
    hidden: 32,
    headDim: 8,
    heads: 4,
    kvHeads: 2,
    intermediate: 48,
    layers: 1,
  });
  it.each([
    ['NaN', Number.NaN, /holds NaN at element 3/],
    ['Infinity', Infinity, /holds Infinity at element 3/],
    ['1e30', 1e30, /holds 1\.0\d*e\+30 \(beyond ±65504, WEIGHT_LIMITS\.maxMagnitude\) at element 3/],
  ])('refuses a norm weight of %s at load, naming the file and the tensor', async (_, value, pattern) => {
    const weights = randomModelWeights(spec, 9);
    const norm = weights.layers[0]!.attnNorm;
    new DataView(norm.data.buffer, norm.data.byteOffset).setFloat32(12, value, true);
    const failure = await loadFailure(await exportToBytes(weights, 'f32'));
    expect(failure.message).toMatch(/tensor 'blk\.0\.attn_norm\.weight'/);
    expect(failure.message).toMatch(pattern);
  });
});
