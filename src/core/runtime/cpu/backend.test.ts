import { describe, expect, it } from 'vitest';
import { cpuBackend } from './backend.ts';
import { dequantizeModel, type MlpF32, type ModelF32 } from './model-f32.ts';
import { matmul, rmsnorm, rope, silu, softmax } from './ops.ts';
import { assertAllclose } from './allclose.testing.ts';
import { randomModelWeights, tinyDenseSpec, tinyMoeSpec, tinyQwenMoeSpec } from '../../model/random.ts';
import type { ModelSpec } from '../../model/spec.ts';

/** Same f32 ops, different order of evaluation (cache vs recompute): f32 rounding only. */
const KV_CACHE_TOLERANCE = { atol: 1e-5, rtol: 1e-4 };
/** Hand computation repeats the reference's arithmetic in f64 where it can. */
const HAND_TOLERANCE = { atol: 1e-5, rtol: 1e-4 };

function mv(W: Float32Array, x: Float32Array, n: number): Float32Array {
  const out = new Float32Array(n);
  matmul(out, W, x, n, x.length);
  return out;
}
function mlp(m: MlpF32, x: Float32Array): Float32Array {
  const g = mv(m.gate, x, m.intermediate),
    u = mv(m.up, x, m.intermediate);
  return mv(
    m.down,
    g.map((gi, i) => silu(gi) * u[i]),
    x.length,
  );
}
function normed(x: Float32Array, w: Float32Array, eps: number): Float32Array {
  const out = new Float32Array(x.length);
  rmsnorm(out, x, w, eps);
  return out;
}

/**
 * An independent full-sequence forward for dense models: recomputes K and V of every
 * position in every layer (no cache), causal attention written as a masked double loop.
 */
function naiveSequenceLogits(m: ModelF32, tokens: number[]): Float32Array {
  const s = m.spec,
    T = tokens.length,
    qDim = s.heads * s.headDim,
    kvDim = s.kvHeads * s.headDim;
  let xs = tokens.map((t) => m.embed.slice(t * s.hidden, (t + 1) * s.hidden));
  for (const layer of m.layers) {
    const hs = xs.map((x) => normed(x, layer.attnNorm, s.rmsEps));
    const qs = hs.map((h, t) => {
      const q = mv(layer.wq, h, qDim).map((qi, i) => qi + (layer.bq?.[i] ?? 0));
      rope(q, s.heads, s.headDim, t, s.ropeTheta, s.ropeStyle);
      return q;
    });
    const ks = hs.map((h, t) => {
      const k = mv(layer.wk, h, kvDim).map((ki, i) => ki + (layer.bk?.[i] ?? 0));
      rope(k, s.kvHeads, s.headDim, t, s.ropeTheta, s.ropeStyle);
      return k;
    });
    const vs = hs.map((h) => mv(layer.wv, h, kvDim).map((vi, i) => vi + (layer.bv?.[i] ?? 0)));
    xs = xs.map((x, t) => {
      const att = new Float32Array(qDim);
      for (let h = 0; h < s.heads; h++) {
        const kvh = Math.floor(h / (s.heads / s.kvHeads));
        const scores = new Float32Array(T).fill(-Infinity);
        for (let u = 0; u <= t; u++) {
          let d = 0;
          for (let i = 0; i < s.headDim; i++) d += qs[t][h * s.headDim + i] * ks[u][kvh * s.headDim + i];
          scores[u] = d / Math.sqrt(s.headDim);
        }
        softmax(scores);
        for (let u = 0; u <= t; u++)
          for (let i = 0; i < s.headDim; i++) att[h * s.headDim + i] += scores[u] * vs[u][kvh * s.headDim + i];
      }
      const y = x.map((xi, i) => xi + mv(layer.wo, att, s.hidden)[i]);
      const f = mlp(layer.mlp!, normed(y, layer.ffnNorm, s.rmsEps));
      return y.map((yi, i) => yi + f[i]);
    });
  }
  return mv(m.lmHead, normed(xs[T - 1], m.finalNorm, s.rmsEps), s.vocab);
}

/** One MoE layer, one token at position 0, computed by hand (attention over 1 position = v). */
function handMoeLogits(
  m: ModelF32,
  token: number,
): { logits: Float32Array; ids: number[]; weights: number[]; sharedGate?: number } {
  const s = m.spec,
    moe = s.moe!,
    layer = m.layers[0],
    kvDim = s.kvHeads * s.headDim;
  const x0 = m.embed.slice(token * s.hidden, (token + 1) * s.hidden);
  const v = mv(layer.wv, normed(x0, layer.attnNorm, s.rmsEps), kvDim).map((vi, i) => vi + (layer.bv?.[i] ?? 0));
  const att = new Float32Array(s.heads * s.headDim);
  for (let h = 0; h < s.heads; h++)
    for (let i = 0; i < s.headDim; i++)
      att[h * s.headDim + i] = v[Math.floor(h / (s.heads / s.kvHeads)) * s.headDim + i];
  const x1 = x0.map((xi, i) => xi + mv(layer.wo, att, s.hidden)[i]);
  const h = normed(x1, layer.ffnNorm, s.rmsEps);
  const logits = Array.from(mv(layer.moe!.router, h, moe.experts));
  const z = logits.reduce((a, l) => a + Math.exp(l), 0);
  const probs = logits.map((l) => Math.exp(l) / z);
  const ids = probs
    .map((_, e) => e)
    .sort((a, b) => probs[b] - probs[a])
    .slice(0, moe.expertsPerToken);
  const sum = ids.reduce((a, e) => a + probs[e], 0);
  const weights = ids.map((e) => (moe.normTopK ? probs[e] / sum : probs[e]));
  const x2 = Float64Array.from(x1);
  ids.forEach((e, j) => mlp(layer.moe!.experts[e], h).forEach((o, i) => (x2[i] += weights[j] * o)));
  let sharedGate: number | undefined;
  if (layer.moe!.shared) {
    const gateWeights = layer.moe!.sharedGate;
    sharedGate = gateWeights ? 1 / (1 + Math.exp(-h.reduce((a, hi, i) => a + hi * gateWeights[i], 0))) : undefined;
    mlp(layer.moe!.shared, h).forEach((o, i) => (x2[i] += (sharedGate ?? 1) * o));
  }
  return {
    logits: mv(m.lmHead, normed(Float32Array.from(x2), m.finalNorm, s.rmsEps), s.vocab),
    ids,
    weights,
    sharedGate,
  };
}

const specs: [string, ModelSpec][] = [
  ['dense llama', tinyDenseSpec()],
  [
    'qwen2 (qkv bias, interleaved rope)',
    tinyDenseSpec({ arch: 'qwen2', qkvBias: true, ropeStyle: 'interleaved', tieEmbeddings: true }),
  ],
  ['mixtral', tinyMoeSpec()],
  ['qwen2_moe', tinyQwenMoeSpec()],
];

describe.each(specs)('cpu backend, %s', (_, spec) => {
  const weights = randomModelWeights(spec, 1234);
  const tokens = [1, 17, 5, 99, 42, 42, 3];

  it('prefill of n tokens == n single-token steps (KV cache)', async () => {
    const prefill = await cpuBackend.createSession(weights);
    const stepped = await cpuBackend.createSession(weights);
    const a = await prefill.forward(tokens, { trace: true });
    let b: Awaited<ReturnType<typeof stepped.forward>> | undefined;
    const routes = [];
    for (const t of tokens) {
      b = await stepped.forward([t], { trace: true });
      routes.push(b.routing![0]);
    }
    assertAllclose(a.logits, b!.logits, KV_CACHE_TOLERANCE, 'last-token logits');
    expect(a.routing).toEqual(routes);
    expect(a.routing).toHaveLength(tokens.length);
    expect(a.routing![0].layers).toHaveLength(spec.moe ? spec.layers : 0);
    expect(prefill.position).toBe(tokens.length);
  });

  it('truncate(p) then the same tokens gives the same logits', async () => {
    const session = await cpuBackend.createSession(weights);
    const first = await session.forward(tokens);
    session.truncate(3);
    expect(session.position).toBe(3);
    await session.forward([7, 8]); // overwrite cache rows 3, 4
    session.truncate(3);
    const again = await session.forward(tokens.slice(3));
    assertAllclose(again.logits, first.logits, { atol: 0, rtol: 0 }, 'after truncate');
  });

  it('captureLayerInputs: layer 0 input is the embedding; every layer has [hidden] values', async () => {
    const session = await cpuBackend.createSession(weights);
    const r = await session.forward(tokens.slice(0, 3), { captureLayerInputs: true });
    expect(r.layerInputs).toHaveLength(spec.layers);
    const m = dequantizeModel(weights);
    assertAllclose(
      r.layerInputs![0],
      m.embed.subarray(tokens[2] * spec.hidden, (tokens[2] + 1) * spec.hidden),
      { atol: 0, rtol: 0 },
      'layer 0 input',
    );
    expect(r.layerInputs![1]).toHaveLength(spec.hidden);
    expect(r.layerInputs![1]).not.toEqual(r.layerInputs![0]);
  });
});

describe('cpu backend against independent computations', () => {
  it.each([
    ['dense llama', tinyDenseSpec()],
    ['qwen2 interleaved', tinyDenseSpec({ qkvBias: true, ropeStyle: 'interleaved' })],
  ])('%s matches a cache-free full-sequence forward', async (_, spec) => {
    const weights = randomModelWeights(spec, 77);
    const tokens = [3, 9, 27, 81, 100, 0, 50, 50, 50];
    const session = await cpuBackend.createSession(weights);
    const r = await session.forward(tokens);
    assertAllclose(r.logits, naiveSequenceLogits(dequantizeModel(weights), tokens), KV_CACHE_TOLERANCE, 'logits');
  });

  it.each([
    ['mixtral', tinyMoeSpec({ layers: 1 })],
    ['qwen2_moe', tinyQwenMoeSpec({ layers: 1 })],
    [
      'qwen2_moe with normTopK and an ungated shared expert',
      tinyQwenMoeSpec({
        layers: 1,
        moe: {
          experts: 5,
          expertsPerToken: 3,
          normTopK: true,
          expertIntermediate: 24,
          sharedExpert: { intermediate: 40, gated: false },
        },
      }),
    ],
  ])('%s: one token equals a hand-computed mixture of its top-k experts', async (_, spec) => {
    const weights = randomModelWeights(spec, 5);
    for (const token of [0, 13, 64]) {
      const session = await cpuBackend.createSession(weights);
      const r = await session.forward([token], { trace: true });
      const hand = handMoeLogits(dequantizeModel(weights), token);
      const route = r.routing![0].layers[0];
      expect(route.expertIds).toEqual(hand.ids);
      assertAllclose(route.expertWeights, hand.weights, HAND_TOLERANCE, 'expert weights');
      if (hand.sharedGate !== undefined) expect(route.sharedGate).toBeCloseTo(hand.sharedGate, 5);
      else expect(route.sharedGate).toBeUndefined();
      assertAllclose(r.logits, hand.logits, HAND_TOLERANCE, 'logits');
    }
  });
});

describe('cpu backend routing overrides', () => {
  const spec = tinyMoeSpec({ moe: { experts: 5, expertsPerToken: 2, normTopK: true, expertIntermediate: 24 } });
  const weights = randomModelWeights(spec, 8);
  const tokens = Array.from({ length: 12 }, (_, i) => (i * 37) % spec.vocab);

  it('a banned expert is never chosen and gets probability 0', async () => {
    const session = await cpuBackend.createSession(weights);
    const r = await session.forward(tokens, { trace: true, routing: { ban: { experts: [1, 3] } } });
    for (const token of r.routing!)
      for (const layer of token.layers) {
        expect(layer.expertIds).not.toContain(1);
        expect(layer.expertIds).not.toContain(3);
        expect(layer.moeProbs[1]).toBe(0);
      }
  });

  it('a forced expert is always chosen; expertsPerToken override sets the count; layer scoping holds', async () => {
    const session = await cpuBackend.createSession(weights);
    const r = await session.forward(tokens, {
      trace: true,
      routing: { expertsPerToken: 3, force: { experts: [4], layers: [1] } },
    });
    for (const token of r.routing!) {
      expect(token.layers[0].expertIds).toHaveLength(3);
      expect(token.layers[1].expertIds).toContain(4);
    }
    const unforced = await (await cpuBackend.createSession(weights)).forward(tokens, { trace: true });
    expect(unforced.routing!.some((t) => !t.layers[1].expertIds.includes(4))).toBe(true);
  });

  it('rejects out-of-range tokens, overflowing context and bad overrides with ConfigError', async () => {
    const session = await cpuBackend.createSession(weights, { maxContext: 4 });
    await expect(session.forward([spec.vocab])).rejects.toThrow(/token id 101/);
    await expect(session.forward([1, 2, 3, 4, 5])).rejects.toThrow(/exceed maxContext 4/);
    await expect(session.forward([1], { routing: { expertsPerToken: 9 } })).rejects.toThrow(/expertsPerToken 9/);
    expect(session.position).toBe(0);
  });

  it('rejects a model whose tensor shapes disagree with its spec, naming the tensor', async () => {
    const bad = randomModelWeights(spec, 1);
    bad.layers[1].wk = { ...bad.layers[1].wk, shape: [8, 96] };
    await expect(cpuBackend.createSession(bad)).rejects.toThrow(/k_proj.*\[8, 96\], expected \[16, 48\]/);
  });
});

describe('cpu backend on stored dtypes', () => {
  /** f16 storage rounds weights to 11 significant bits; logits move by ~1e-3 relative. */
  const F16_WEIGHTS_TOLERANCE = { atol: 2e-2, rtol: 2e-2 };
  it('f16 weights are dequantized once and give logits close to the f32 model', async () => {
    const spec = tinyMoeSpec();
    const f32 = await (await cpuBackend.createSession(randomModelWeights(spec, 3))).forward([1, 2, 3]);
    const f16 = await (await cpuBackend.createSession(randomModelWeights(spec, 3, 'f16'))).forward([1, 2, 3]);
    assertAllclose(f16.logits, f32.logits, F16_WEIGHTS_TOLERANCE, 'f16 vs f32 logits');
  });

  /** q8_0 keeps ~8 bits per weight; logits of a 2-layer model move by ~1e-2. */
  const Q8_0_WEIGHTS_TOLERANCE = { atol: 0.1, rtol: 0.1 };
  /** bf16 keeps 8 significant bits: logits move by ~1e-2 relative. */
  const BF16_WEIGHTS_TOLERANCE = { atol: 0.1, rtol: 0.1 };
  it('bf16 weights give logits close to the f32 model', async () => {
    const spec = tinyQwenMoeSpec();
    const f32 = await (await cpuBackend.createSession(randomModelWeights(spec, 3))).forward([1, 2, 3]);
    const bf16 = await (await cpuBackend.createSession(randomModelWeights(spec, 3, 'bf16'))).forward([1, 2, 3]);
    assertAllclose(bf16.logits, f32.logits, BF16_WEIGHTS_TOLERANCE, 'bf16 vs f32 logits');
  });

  it('q8_0 weights run (inner dims multiple of 32)', async () => {
    const spec = tinyDenseSpec({ hidden: 64, heads: 8, intermediate: 96, vocab: 97 });
    const r = await (await cpuBackend.createSession(randomModelWeights(spec, 3, 'q8_0'))).forward([1, 2]);
    const ref = await (await cpuBackend.createSession(randomModelWeights(spec, 3))).forward([1, 2]);
    assertAllclose(r.logits, ref.logits, Q8_0_WEIGHTS_TOLERANCE, 'q8_0 vs f32 logits');
  });
});

describe('cpu backend, Mistral sliding-window attention', () => {
  // Known answer without a second implementation: RoPE makes q·k depend only on the distance
  // between positions, so in a one-layer model the query at position p with window W sees
  // exactly what the last W tokens see when run alone from position 0.
  const W = 4;
  const windowed = tinyDenseSpec({ arch: 'mistral', layers: 1, slidingWindow: W, contextLength: 32 });
  const full = { ...windowed, slidingWindow: undefined };
  const tokens = [5, 17, 3, 88, 41, 9, 60, 23, 71, 12, 34, 99];
  const TOL = { atol: 1e-4, rtol: 1e-4 };

  it('position p attends to the last W positions only (prefill and decode)', async () => {
    const weights = randomModelWeights(windowed, 31);
    const session = await cpuBackend.createSession(weights, { maxContext: 32 });
    const prefill = await session.forward(tokens);
    const alone = await cpuBackend.createSession(weights, { maxContext: 32 });
    assertAllclose(prefill.logits, (await alone.forward(tokens.slice(-W))).logits, TOL, 'prefill vs last W alone');
    const step = await session.forward([7]);
    const stepAlone = await cpuBackend.createSession(weights, { maxContext: 32 });
    const expected = await stepAlone.forward([...tokens.slice(-(W - 1)), 7]);
    assertAllclose(step.logits, expected.logits, TOL, 'decode step vs last W alone');
  });

  it('the window changes the answer once the context is longer than it (the check above can fail)', async () => {
    const weights = randomModelWeights(windowed, 31);
    const fullWeights = { ...weights, spec: full };
    const a = await (await cpuBackend.createSession(weights, { maxContext: 32 })).forward(tokens);
    const b = await (await cpuBackend.createSession(fullWeights, { maxContext: 32 })).forward(tokens);
    const diff = Math.max(...a.logits.map((v, i) => Math.abs(v - b.logits[i]!)));
    expect(diff).toBeGreaterThan(1e-2);
    // Within the window, windowed and full attention agree.
    const c = await (await cpuBackend.createSession(weights, { maxContext: 32 })).forward(tokens.slice(0, W));
    const d = await (await cpuBackend.createSession(fullWeights, { maxContext: 32 })).forward(tokens.slice(0, W));
    assertAllclose(c.logits, d.logits, { atol: 0, rtol: 0 }, 'inside the window');
  });
});
