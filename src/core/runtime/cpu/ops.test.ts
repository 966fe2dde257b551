import { describe, expect, it } from 'vitest';
import { argmax, attention, matmul, rmsnorm, rope, silu, softmax, swiglu } from './ops.ts';
import { assertAllclose } from './allclose.testing.ts';
import { seededNormal } from '../../model/random.ts';

/** Known answers are computed in f64 by hand; the ops store f32, so compare at f32 precision. */
const F32_EXACT = { atol: 1e-6, rtol: 1e-6 };

describe('rmsnorm', () => {
  it('scales by 1/sqrt(mean(x²)+eps) and the weight', () => {
    const x = new Float32Array([1, 2, 3, 4]);
    const w = new Float32Array([1, 1, 1, 2]);
    const out = new Float32Array(4);
    rmsnorm(out, x, w, 0.5);
    const s = 1 / Math.sqrt(30 / 4 + 0.5);
    assertAllclose(out, [s, 2 * s, 3 * s, 8 * s], F32_EXACT, 'rmsnorm');
  });
});

describe('matmul', () => {
  it('computes y[n] = W[n,k]·x[k] row by row', () => {
    const W = new Float32Array([1, 2, 3, 4, 5, 6]); // [2, 3]
    const out = new Float32Array(2);
    matmul(out, W, new Float32Array([1, 0, -1]), 2, 3);
    expect(Array.from(out)).toEqual([-2, -2]);
  });
});

describe('rope', () => {
  it('is the identity at position 0', () => {
    const v = seededNormal(1, 'v', 16, 1);
    const r = v.slice();
    rope(r, 2, 8, 0, 10000, 'half');
    expect(Array.from(r)).toEqual(Array.from(v));
  });

  it('rotates pair 0 by pos radians (interleaved: dims 0,1; half: dims 0,4)', () => {
    const a = new Float32Array([1, 2, 0, 0, 0, 0, 0, 0]);
    rope(a, 1, 8, 3, 10000, 'interleaved');
    assertAllclose(
      a.subarray(0, 2),
      [Math.cos(3) - 2 * Math.sin(3), Math.sin(3) + 2 * Math.cos(3)],
      F32_EXACT,
      'interleaved',
    );
    const b = new Float32Array([1, 0, 0, 0, 2, 0, 0, 0]);
    rope(b, 1, 8, 3, 10000, 'half');
    assertAllclose([b[0], b[4]], [Math.cos(3) - 2 * Math.sin(3), Math.sin(3) + 2 * Math.cos(3)], F32_EXACT, 'half');
  });

  it('pair j turns by pos·theta^(-2j/headDim)', () => {
    const v = new Float32Array(8);
    v[2] = 1; // interleaved pair 1 = dims 2,3
    rope(v, 1, 8, 5, 100, 'interleaved');
    const angle = 5 * 100 ** (-2 / 8);
    assertAllclose(v.subarray(2, 4), [Math.cos(angle), Math.sin(angle)], F32_EXACT, 'pair 1');
  });

  it("'half' equals 'interleaved' after llama2.c export.py's permutation of each head", () => {
    const heads = 3,
      headDim = 8,
      half = headDim / 2;
    const interleaved = seededNormal(7, 'rope', heads * headDim, 1);
    // permute: interleaved dim 2j → j, 2j+1 → j+half (what HF conversion does to wq/wk rows)
    const permute = (src: Float32Array) => {
      const dst = new Float32Array(src.length);
      for (let h = 0; h < heads; h++)
        for (let j = 0; j < half; j++) {
          dst[h * headDim + j] = src[h * headDim + 2 * j];
          dst[h * headDim + j + half] = src[h * headDim + 2 * j + 1];
        }
      return dst;
    };
    const halfStyle = permute(interleaved);
    rope(interleaved, heads, headDim, 11, 10000, 'interleaved');
    rope(halfStyle, heads, headDim, 11, 10000, 'half');
    assertAllclose(halfStyle, permute(interleaved), F32_EXACT, 'rope styles');
  });
});

describe('attention', () => {
  it('returns the only value row when the cache holds one position (GQA: heads 0,1 read kv head 0)', () => {
    const q = seededNormal(2, 'q', 4 * 2, 1); // 4 heads × headDim 2
    const k = new Float32Array([0.3, -0.1, 0.7, 0.2]); // [1, 2 kv heads × 2]
    const v = new Float32Array([1, 2, 3, 4]);
    const out = new Float32Array(8);
    attention(out, q, k, v, 1, 4, 2, 2);
    assertAllclose(out, [1, 2, 1, 2, 3, 4, 3, 4], F32_EXACT, 'attention');
  });

  it('weights value rows by softmax(q·k/sqrt(headDim)) over the causal prefix', () => {
    const q = new Float32Array([1, 0]); // 1 head, headDim 2
    const k = new Float32Array([0, 0, 2, 0, 9, 9]); // 3 cached positions, only 2 attended
    const v = new Float32Array([1, 0, 0, 1, 5, 5]);
    const out = new Float32Array(2);
    attention(out, q, k, v, 2, 1, 1, 2);
    const s1 = 2 / Math.sqrt(2);
    const p1 = Math.exp(s1) / (1 + Math.exp(s1));
    assertAllclose(out, [1 - p1, p1], F32_EXACT, 'attention');
  });
});

describe('activations', () => {
  it('softmax sums to one and gives −Infinity zero probability', () => {
    const x = new Float32Array([1, -Infinity, 3]);
    softmax(x);
    assertAllclose(x, [1 / (1 + Math.exp(2)), 0, Math.exp(2) / (1 + Math.exp(2))], F32_EXACT, 'softmax');
  });

  it('softmax of a prefix leaves the rest untouched', () => {
    const x = new Float32Array([0, 0, 7]);
    softmax(x, 2);
    expect(Array.from(x)).toEqual([0.5, 0.5, 7]);
  });

  it('silu and swiglu', () => {
    expect(silu(0)).toBe(0);
    expect(silu(2)).toBeCloseTo(2 / (1 + Math.exp(-2)), 12);
    const out = new Float32Array(2);
    swiglu(out, new Float32Array([2, -1]), new Float32Array([3, 4]));
    assertAllclose(out, [3 * silu(2), 4 * silu(-1)], F32_EXACT, 'swiglu');
  });

  it('argmax breaks ties by the lower index', () => {
    expect(argmax(new Float32Array([1, 5, 5, 2]))).toBe(1);
    expect(argmax([-3])).toBe(0);
  });
});
