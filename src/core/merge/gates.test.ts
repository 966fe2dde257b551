import { beforeAll, describe, expect, it } from 'vitest';
import { dequantize } from '../quant/convert.ts';
import { bf16ToF32, f32ToBf16 } from '../quant/convert.ts';
import { cpuBackend } from '../runtime/cpu/backend.ts';
import { loadHfTokenizer } from '../tokenizer/hf.ts';
import type { Tokenizer } from '../tokenizer/types.ts';
import { computeGates, tokenizePrompts, type BaseForward, type GateContext, type GateOwner } from './gates.ts';
import { openBaseForwardOn } from './default-runtime.ts';
import { openModel, type OpenedModel } from './sources.ts';
import { randomHfFolder, testingDenseSpec } from './models.testing.ts';
import { conditionNumber, degenerateGateWarnings, describeLayers } from './warnings.ts';

const spec = testingDenseSpec({ layers: 3 });
const H = spec.hidden;
let base: OpenedModel;
let tokenizer: Tokenizer;
let forward: BaseForward & { dispose(): void };
let embed: Float32Array; // [vocab, hidden]

beforeAll(async () => {
  const { files } = await randomHfFolder('org/base', 7, spec, 'bf16');
  base = await openModel({ path: 'org/base' }, async () => files);
  tokenizer = await loadHfTokenizer(files);
  forward = await openBaseForwardOn(cpuBackend, base, 64);
  embed = dequantize(await base.tensors.readTensor('model.embed_tokens.weight'));
});

const ctx = (over: Partial<GateContext> = {}): GateContext => ({
  layers: spec.layers,
  hidden: H,
  tokenizer,
  base: forward,
  seed: 1,
  loadEmbedding: () => base.tensors.readTensor('model.embed_tokens.weight'),
  ...over,
});

const bf = (x: number) => bf16ToF32(f32ToBf16(x));
const row = (g: Float32Array, r: number) => Array.from(g.subarray(r * H, (r + 1) * H));
const embedRow = (id: number) => Array.from(embed.subarray(id * H, (id + 1) * H));

/** Independent bf16 pipeline of §4.2/4.6: mean (fp32 sum, one rounding), subtract, norm, divide. */
function bf16Normalize(v: number[]): number[] {
  let ss = 0;
  for (const x of v) ss = Math.fround(ss + Math.fround(x * x));
  const norm = Math.max(bf(Math.fround(Math.sqrt(ss))), bf(1e-8));
  return v.map((x) => bf(x / norm));
}
function bf16Mean(rows: number[][]): number[] {
  return rows[0]!.map((_, i) => bf(rows.reduce((s, r) => Math.fround(s + r[i]!), 0) / rows.length));
}

const STORY: GateOwner = { positivePrompts: ['Once upon a time', 'The dog liked to play'], negativePrompts: null };
const CODE: GateOwner = {
  positivePrompts: ['def add(a, b):', 'for i in range(10):'],
  negativePrompts: ['Hello! How are you'],
};

describe('prompt tokenization (conformance rule 9)', () => {
  it('rule 9: each prompt is the text bos_token + prompt, encoded without special tokens; specials inside are split out', () => {
    const ids = tokenizePrompts(tokenizer, ['Once', '<|im_start|>user']);
    const bos = tokenizer.bosTokenId!;
    expect(tokenizer.bosToken).toBe('<|endoftext|>');
    expect(ids[0]![0]).toBe(bos);
    expect(ids[0]!.slice(1)).toEqual(tokenizer.encode('Once', { addSpecialTokens: false }));
    expect(ids[1]!.slice(0, 2)).toEqual([bos, tokenizer.encode('<|im_start|>', { addSpecialTokens: false })[0]]);
    expect(ids[0]!.filter((id) => id === bos)).toHaveLength(1);
  });
});

describe('hidden gates (conformance rules 10, 11, 14)', () => {
  it('rule 10/11: layer 0 row = bf16 normalize(mean over prompts of the last token embedding) — independent check', async () => {
    const g = await computeGates('hidden', [STORY, CODE], ctx());
    expect(g).toHaveLength(spec.layers); // L rows: the final-norm state is excluded
    const lastIds = tokenizePrompts(tokenizer, STORY.positivePrompts!).map((ids) => ids[ids.length - 1]!);
    const expected = bf16Normalize(bf16Mean(lastIds.map((id) => embedRow(id).map(bf))));
    expect(row(g[0]!, 0)).toEqual(expected);
  });

  it('rule 14: hidden subtracts the raw means of the negatives before the one normalization', async () => {
    const g = await computeGates('hidden', [STORY, CODE], ctx());
    const last = (prompts: string[]) =>
      tokenizePrompts(tokenizer, prompts).map((ids) => embedRow(ids[ids.length - 1]!).map(bf));
    const pos = bf16Mean(last(CODE.positivePrompts!));
    const neg = bf16Mean(last(CODE.negativePrompts!));
    expect(row(g[0]!, 1)).toEqual(bf16Normalize(pos.map((p, i) => bf(p - neg[i]!))));
  });

  it('rule 10/11: deeper layers are the last token residual-stream input of that layer, averaged, in bf16', async () => {
    const g = await computeGates('hidden', [STORY, CODE], ctx());
    for (let l = 1; l < spec.layers; l++) {
      const states: number[][] = [];
      for (const ids of tokenizePrompts(tokenizer, STORY.positivePrompts!))
        states.push(Array.from((await forward.lastTokenLayerInputs(ids))[l]!));
      const f32 = states[0]!.map((_, i) => states.reduce((s, r) => s + r[i]!, 0) / states.length);
      const norm = Math.hypot(...f32);
      const got = row(g[l]!, 0);
      const cosine = got.reduce((s, x, i) => s + (x * f32[i]!) / norm, 0) / Math.hypot(...got);
      expect(cosine).toBeGreaterThan(0.999);
      expect(got.every((x) => bf(x) === x)).toBe(true); // bf16-representable
    }
  });

  it('rule 14: positives equal to negatives give a zero row (norm clamped at 1e-8), not NaN', async () => {
    const same: GateOwner = { positivePrompts: ['abc'], negativePrompts: ['abc'] };
    const g = await computeGates('hidden', [same, STORY], ctx());
    expect(row(g[1]!, 0).every((x) => x === 0)).toBe(true);
  });
});

describe('hidden_avg (conformance rule 12)', () => {
  it('rule 12: layer 0 averages every token of each prompt, then over prompts', async () => {
    const g = await computeGates('hidden_avg', [STORY, CODE], ctx());
    const perPrompt = tokenizePrompts(tokenizer, STORY.positivePrompts!).map((ids) =>
      bf16Mean(ids.map((id) => embedRow(id).map(bf))),
    );
    expect(row(g[0]!, 0)).toEqual(bf16Normalize(bf16Mean(perPrompt)));
  });
});

describe('cheap_embed (conformance rules 13, 14)', () => {
  function fp32SumRows(prompts: string[]): number[] {
    const total = new Array<number>(H).fill(0);
    for (const ids of tokenizePrompts(tokenizer, prompts)) {
      const p = new Array<number>(H).fill(0);
      for (const id of ids) for (let i = 0; i < H; i++) p[i] = Math.fround(p[i]! + embed[id * H + i]!);
      for (let i = 0; i < H; i++) total[i] = Math.fround(total[i]! + p[i]!);
    }
    return total;
  }
  function fp32Normalize(v: number[]): number[] {
    let ss = 0;
    for (const x of v) ss = Math.fround(ss + Math.fround(x * x));
    const norm = Math.max(Math.fround(Math.sqrt(ss)), Math.fround(1e-8));
    return v.map((x) => Math.fround(x / norm));
  }

  it('rule 13: Σ embed rows over every token of every prompt (BOS included), normalized, same row for all layers — exact', async () => {
    const g = await computeGates('cheap_embed', [STORY, CODE], ctx({ base: undefined }));
    const expected = fp32Normalize(fp32SumRows(STORY.positivePrompts!));
    for (const layer of g) expect(row(layer, 0)).toEqual(expected);
  });

  it('rule 14: cheap_embed normalizes each side, subtracts, then normalizes again — exact', async () => {
    const g = await computeGates('cheap_embed', [STORY, CODE], ctx({ base: undefined }));
    const pos = fp32Normalize(fp32SumRows(CODE.positivePrompts!));
    const neg = fp32Normalize(fp32SumRows(CODE.negativePrompts!));
    expect(row(g[2]!, 1)).toEqual(fp32Normalize(pos.map((p, i) => Math.fround(p - neg[i]!))));
  });
});

describe('random gates (conformance rule 15)', () => {
  const stats = (g: Float32Array[]) => {
    const all = g.flatMap((l) => Array.from(l));
    const mean = all.reduce((s, x) => s + x, 0) / all.length;
    const std = Math.sqrt(all.reduce((s, x) => s + (x - mean) ** 2, 0) / all.length);
    return { all, mean, std };
  };
  const owners = Array.from({ length: 8 }, () => ({ positivePrompts: null, negativePrompts: null }));
  const wide = { layers: 16, hidden: 64, seed: 5 };

  it('rule 15: random is N(0,1) of shape (L, N, H), not normalized, seeded', async () => {
    const g = await computeGates('random', owners, wide);
    expect(g).toHaveLength(16);
    expect(g[0]!.length).toBe(8 * 64);
    const { mean, std } = stats(g);
    expect(Math.abs(mean)).toBeLessThan(0.05); // 8192 samples: 4.5 standard errors
    expect(Math.abs(std - 1)).toBeLessThan(0.05);
    expect(await computeGates('random', owners, wide)).toEqual(g);
    expect(await computeGates('random', owners, { ...wide, seed: 6 })).not.toEqual(g);
  });

  it('rule 15: uniform_random is U(±1/√H) with std 1/√(3H)', async () => {
    const g = await computeGates('uniform_random', owners, wide);
    const { all, mean, std } = stats(g);
    const bound = 1 / Math.sqrt(64);
    expect(all.every((x) => Math.abs(x) <= bound)).toBe(true);
    expect(Math.max(...all)).toBeGreaterThan(bound * 0.99);
    expect(Math.abs(mean)).toBeLessThan(0.005);
    expect(Math.abs(std / (1 / Math.sqrt(3 * 64)) - 1)).toBeLessThan(0.05);
  });
});

describe('degenerate-gate warning (conformance rule 18)', () => {
  it('rule 18: cond₂ of two unit rows with cosine c is √((1+c)/(1−c))', () => {
    const c = 0.6;
    const g = new Float32Array([1, 0, 0, c, Math.sqrt(1 - c * c), 0]);
    expect(conditionNumber(g, 2, 3)).toBeCloseTo(Math.sqrt((1 + c) / (1 - c)), 5);
  });

  it('rule 18: warns when cond > 5 in upstream wording, never otherwise', () => {
    const similar = new Float32Array([1, 0, 0.99, Math.sqrt(1 - 0.99 ** 2)]); // cosine .99 → cond ≈ 14
    const orthogonal = new Float32Array([1, 0, 0, 1]);
    expect(degenerateGateWarnings([orthogonal, orthogonal], 2, 2)).toEqual([]);
    expect(degenerateGateWarnings([similar, orthogonal, orthogonal], 2, 2)).toEqual([
      'layer 0 has degenerate routing parameters - your prompts may be too similar.',
      'One or more experts will be underutilized in your model.',
    ]);
    expect(degenerateGateWarnings([similar, similar, similar], 2, 2)[0]).toBe(
      'ALL layers have degenerate routing parameters - your prompts may be too similar.',
    );
  });

  it('rule 18: layer lists read "layers 3 and 7" and "layers 1, 2, and 5"', () => {
    expect(describeLayers([3, 7], 10)).toBe('layers 3 and 7');
    expect(describeLayers([1, 2, 5], 10)).toBe('layers 1, 2, and 5');
    expect(describeLayers([0, 1], 2)).toBe('layers 0 and 1');
  });
});
