import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bytesSource } from '../io/byte-source.ts';
import { loadLlama2cCheckpoint } from './llama2c.ts';

interface Header {
  dim: number;
  hidden_dim: number;
  n_layers: number;
  n_heads: number;
  n_kv_heads: number;
  vocab_size: number;
  seq_len: number;
}
const small: Header = { dim: 8, hidden_dim: 12, n_layers: 2, n_heads: 2, n_kv_heads: 1, vocab_size: 10, seq_len: 6 };

/** Float count of a legacy checkpoint body, in file order (hermetic builder). */
function bodyFloats(h: Header): number {
  const v = Math.abs(h.vocab_size),
    L = h.n_layers,
    kv = (h.dim * h.n_kv_heads) / h.n_heads,
    hs = h.dim / h.n_heads;
  return (
    v * h.dim +
    L * h.dim +
    L * h.dim * h.dim +
    2 * L * kv * h.dim +
    L * h.dim * h.dim +
    L * h.dim +
    3 * L * h.hidden_dim * h.dim +
    h.dim +
    h.seq_len * hs +
    (h.vocab_size < 0 ? v * h.dim : 0)
  );
}

/** Header + body where float i holds the value i (so every slice is recognizable). */
function buildCheckpoint(h: Header, floats = bodyFloats(h)): Uint8Array {
  const bytes = new Uint8Array(28 + floats * 4);
  const view = new DataView(bytes.buffer);
  [h.dim, h.hidden_dim, h.n_layers, h.n_heads, h.n_kv_heads, h.vocab_size, h.seq_len].forEach((v, i) =>
    view.setInt32(i * 4, v, true),
  );
  for (let i = 0; i < floats; i++) view.setFloat32(28 + i * 4, i, true);
  return bytes;
}

/** Rewrites a legacy file as export.py's version1_export would have written it. */
function legacyToV1(legacy: Uint8Array, h: Header): Uint8Array {
  const v = Math.abs(h.vocab_size),
    L = h.n_layers,
    kv = (h.dim * h.n_kv_heads) / h.n_heads,
    hs = h.dim / h.n_heads;
  const sizes = [
    v * h.dim,
    L * h.dim,
    L * h.dim * h.dim,
    L * kv * h.dim,
    L * kv * h.dim,
    L * h.dim * h.dim,
    L * h.dim,
    L * h.hidden_dim * h.dim,
    L * h.dim * h.hidden_dim,
    L * h.hidden_dim * h.dim,
    h.dim,
    (h.seq_len * hs) / 2,
    (h.seq_len * hs) / 2,
  ];
  if (h.vocab_size < 0) sizes.push(v * h.dim);
  const sections: Uint8Array[] = [];
  let at = 28;
  for (const n of sizes) {
    sections.push(legacy.subarray(at, at + n * 4));
    at += n * 4;
  }
  const [emb, att, wq, wk, wv, wo, ffn, w1, w2, w3, fin, , , wcls] = sections;
  const body = [att, ffn, fin, emb, wq, wk, wv, wo, w1, w2, w3, ...(wcls ? [wcls] : [])];
  const out = new Uint8Array(256 + body.reduce((a, b) => a + b.length, 0));
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x616b3432, true);
  view.setInt32(4, 1, true);
  [h.dim, h.hidden_dim, h.n_layers, h.n_heads, h.n_kv_heads, v, h.seq_len].forEach((x, i) =>
    view.setInt32(8 + i * 4, x, true),
  );
  out[36] = h.vocab_size > 0 ? 1 : 0;
  let o = 256;
  for (const b of body) {
    out.set(b, o);
    o += b.length;
  }
  return out;
}

const firstValue = (t: { data: Uint8Array }) => new DataView(t.data.buffer, t.data.byteOffset).getFloat32(0, true);

describe('llama2c checkpoint', () => {
  it('maps header to spec and slices every tensor at its offset', async () => {
    const w = await loadLlama2cCheckpoint(bytesSource(buildCheckpoint(small), 'small.bin'));
    expect(w.spec).toMatchObject({
      hidden: 8,
      intermediate: 12,
      layers: 2,
      heads: 2,
      kvHeads: 1,
      headDim: 4,
      vocab: 10,
      contextLength: 6,
      tieEmbeddings: true,
      ropeStyle: 'interleaved',
      ropeTheta: 10000,
      rmsEps: 1e-5,
    });
    expect(w.lmHead).toBeUndefined();
    const emb = 80,
      att = emb + 16,
      wq = att + 128,
      _wk = wq + 32 * 2;
    expect(firstValue(w.embed)).toBe(0);
    expect(firstValue(w.layers[1].attnNorm)).toBe(emb + 8);
    expect(firstValue(w.layers[1].wq)).toBe(att + 64);
    expect(firstValue(w.layers[0].wk)).toBe(wq);
    expect(firstValue(w.layers[1].wk)).toBe(wq + 32);
    expect(w.layers[1].wk.shape).toEqual([4, 8]);
    expect(w.layers[0].mlp!.gate.shape).toEqual([12, 8]);
    expect(w.layers[0].mlp!.down.shape).toEqual([8, 12]);
    expect(w.layers[0].wo.data.byteLength).toBe(8 * 8 * 4);
  });

  it('a negative vocab_size means an untied classifier read from the end', async () => {
    const h = { ...small, vocab_size: -10 };
    const w = await loadLlama2cCheckpoint(bytesSource(buildCheckpoint(h)));
    expect(w.spec.tieEmbeddings).toBe(false);
    expect(w.lmHead!.shape).toEqual([10, 8]);
    expect(firstValue(w.lmHead!)).toBe(bodyFloats(h) - 80);
  });

  it('reads stories260K with the documented header', async () => {
    const bytes = new Uint8Array(
      readFileSync(new URL('../../../tests/fixtures/stories260K/stories260K.bin', import.meta.url)),
    );
    const w = await loadLlama2cCheckpoint(bytesSource(bytes));
    expect(w.spec).toMatchObject({
      hidden: 64,
      intermediate: 172,
      layers: 5,
      heads: 8,
      kvHeads: 4,
      vocab: 512,
      contextLength: 512,
      tieEmbeddings: true,
    });
  });

  it('version 1 (ak42 header, norms first, no RoPE tables) gives the same weights as legacy', async () => {
    for (const h of [small, { ...small, vocab_size: -10 }]) {
      const legacy = await loadLlama2cCheckpoint(bytesSource(buildCheckpoint(h)));
      const v1 = await loadLlama2cCheckpoint(bytesSource(legacyToV1(buildCheckpoint(h), h)));
      expect(v1.spec).toEqual(legacy.spec);
      const roles = (w: typeof legacy) => [
        w.embed,
        w.finalNorm,
        w.lmHead,
        ...w.layers.flatMap((l) => [
          l.attnNorm,
          l.ffnNorm,
          l.wq,
          l.wk,
          l.wv,
          l.wo,
          l.mlp!.gate,
          l.mlp!.up,
          l.mlp!.down,
        ]),
      ];
      const [a, b] = [roles(legacy), roles(v1)];
      a.forEach((t, i) => expect(b[i]?.data, t?.name).toEqual(t?.data));
    }
  });

  it('version 1 rejects a shared_classifier flag other than 0/1 and a short header', async () => {
    const v1 = legacyToV1(buildCheckpoint(small), small);
    v1[36] = 7;
    await expect(loadLlama2cCheckpoint(bytesSource(v1))).rejects.toThrow(/shared_classifier = 7/);
    await expect(loadLlama2cCheckpoint(bytesSource(v1.subarray(0, 100)))).rejects.toThrow(
      /less than the 256-byte version-1 header/,
    );
  });

  const header = (patch: Partial<Header>) => buildCheckpoint({ ...small, ...patch }, bodyFloats(small));
  const corruptions: [string, () => Uint8Array, RegExp][] = [
    ['rejects a file shorter than the header', () => new Uint8Array(20), /less than the 28-byte header/],
    [
      'rejects ak42 versions other than 1 (version 2 is int8 groups)',
      () => {
        const b = buildCheckpoint(small);
        new DataView(b.buffer).setUint32(0, 0x616b3432, true);
        return b;
      },
      /magic "ak42"/,
    ],
    ['rejects a zero field, naming it', () => header({ n_layers: 0 }), /header field n_layers = 0 is outside/],
    ['rejects a negative dim', () => header({ dim: -8 }), /header field dim = -8/],
    [
      'rejects a field past its cap',
      () => header({ seq_len: 1 << 30 }),
      /seq_len = 1073741824 is outside \[1, 1048576\]/,
    ],
    ['rejects dim not divisible by n_heads', () => header({ n_heads: 3 }), /dim 8 is not a multiple of n_heads 3/],
    [
      'rejects n_heads not divisible by n_kv_heads',
      () => header({ n_kv_heads: 3, n_heads: 4 }),
      /n_heads 4 is not a multiple of n_kv_heads 3/,
    ],
    ['rejects an odd head size', () => header({ n_heads: 8, n_kv_heads: 1 }), /head size 1 must be even/],
    ['rejects a truncated body', () => buildCheckpoint(small).subarray(0, 100), /truncated: 100 bytes/],
    ['rejects trailing bytes', () => buildCheckpoint(small, bodyFloats(small) + 1), /longer than its header says/],
  ];
  it.each(corruptions)('%s', async (_, build, message) => {
    const error = await loadLlama2cCheckpoint(bytesSource(build(), 'bad.bin')).catch((e) => e);
    expect(error.name).toBe('FormatError');
    expect(error.message).toMatch(/^llama2c: /);
    expect(error.message).toMatch(message);
  });
});
