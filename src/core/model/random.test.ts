import { describe, expect, it } from 'vitest';
import { mulberry32, randomModelWeights, seededNormal, tinyDenseSpec, tinyMoeSpec, tinyQwenMoeSpec } from './random.ts';

function f32(t: { data: Uint8Array }): Float32Array {
  return new Float32Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength));
}

describe('random models', () => {
  it('mulberry32 is deterministic and uniform-looking', () => {
    const a = mulberry32(42),
      b = mulberry32(42);
    const xs = Array.from({ length: 10000 }, () => a());
    expect(xs.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => b()));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.02);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
  });

  it('seededNormal has the asked mean and std', () => {
    const v = seededNormal(3, 'x', 20000, 0.5, 1);
    const mean = v.reduce((s, x) => s + x, 0) / v.length;
    const std = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / v.length);
    expect(Math.abs(mean - 1)).toBeLessThan(0.02);
    expect(Math.abs(std - 0.5)).toBeLessThan(0.02);
  });

  it('same spec and seed → same bytes; another seed → other bytes', () => {
    const spec = tinyMoeSpec();
    const a = randomModelWeights(spec, 5),
      b = randomModelWeights(spec, 5),
      c = randomModelWeights(spec, 6);
    expect(a.layers[1].moe!.router.data).toEqual(b.layers[1].moe!.router.data);
    expect(a.embed.data).toEqual(b.embed.data);
    expect(a.embed.data).not.toEqual(c.embed.data);
  });

  it('has every tensor of the spec with the right shape', () => {
    const spec = tinyQwenMoeSpec();
    const w = randomModelWeights(spec, 1);
    expect(w.embed.shape).toEqual([101, 48]);
    expect(w.lmHead).toBeUndefined(); // tied
    const l = w.layers[0];
    expect(l.wq.shape).toEqual([48, 48]);
    expect(l.wk.shape).toEqual([16, 48]);
    expect(l.bq!.shape).toEqual([48]);
    expect(l.moe!.experts).toHaveLength(5);
    expect(l.moe!.experts[4].down.shape).toEqual([48, 24]);
    expect(l.moe!.shared!.gate.shape).toEqual([56, 48]);
    expect(l.moe!.sharedGate!.shape).toEqual([1, 48]);
    expect(l.mlp).toBeUndefined();
    const dense = randomModelWeights(tinyDenseSpec(), 1);
    expect(dense.lmHead!.shape).toEqual([101, 48]);
    expect(dense.layers[1].mlp!.down.shape).toEqual([48, 80]);
    for (const t of [dense.embed, dense.layers[0].wo, dense.finalNorm])
      expect(t.data.byteLength).toBe(t.shape.reduce((a, b) => a * b) * 4);
  });

  it('scales matrices by 1/sqrt(fan_in) and keeps norms near 1', () => {
    const w = randomModelWeights(tinyDenseSpec({ hidden: 96, heads: 12 }), 9);
    const up = f32(w.layers[0].mlp!.up);
    const std = Math.sqrt(up.reduce((s, x) => s + x * x, 0) / up.length);
    expect(Math.abs(std - 1 / Math.sqrt(96))).toBeLessThan(0.01);
    const norm = f32(w.layers[0].attnNorm);
    expect(norm.every((x) => x > 0.5 && x < 1.5)).toBe(true);
    expect(norm.some((x) => x !== 1)).toBe(true);
  });
});

describe('random models in storage dtypes', () => {
  it.each(['f16', 'bf16', 'q8_0', 'q4_0'] as const)('%s: matrices use the dtype, norms stay f32', (dtype) => {
    const w = randomModelWeights(
      tinyMoeSpec({
        hidden: 64,
        heads: 8,
        intermediate: 96,
        moe: { experts: 3, expertsPerToken: 2, normTopK: true, expertIntermediate: 32 },
      }),
      2,
      dtype,
    );
    expect(w.embed.dtype).toBe(dtype);
    expect(w.layers[0].moe!.experts[2].down.dtype).toBe(dtype);
    expect(w.layers[0].attnNorm.dtype).toBe('f32');
  });

  it('quantized dtypes reject an inner dim that is not a multiple of 32, naming the tensor', () => {
    expect(() => randomModelWeights(tinyDenseSpec(), 1, 'q8_0')).toThrow(/embed_tokens.*48 is not a multiple of 32/);
  });
});
