import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bytesSource, MemorySink } from '../io/byte-source.ts';
import { FormatError } from '../errors.ts';
import { encodeGgufHeader, readGguf, writeGguf, GGUF_LIMITS, type GgufMetadataValue } from './gguf.ts';
import type { GgufFile, GgufWriteInput } from './gguf-types.ts';
import { ggufValue } from './gguf-meta.ts';
import { buildGguf, cat, f32, kvString, kvU32, str, u32, u64, type RawGguf } from './gguf-builder.testing.ts';

const fixture = (name: string) =>
  new Uint8Array(readFileSync(new URL(`../../../tests/fixtures/gguf/${name}`, import.meta.url)));

async function rewrite(file: GgufFile): Promise<Uint8Array> {
  const sink = new MemorySink();
  await writeGguf(sink, {
    version: file.version,
    metadata: file.metadata,
    tensors: file.tensors.map((t) => ({
      name: t.name,
      dtype: t.dtype,
      shape: t.shape,
      getData: async () => (await file.readTensor(t.name)).data,
    })),
  });
  return sink.bytes();
}

describe('gguf golden file written by ggml (tools/llamacpp/make-gguf-golden.py)', () => {
  const bytes = fixture('ggml-all-types.gguf');
  it('reads every metadata value type and tensor type', async () => {
    const file = await readGguf(bytesSource(bytes, 'ggml-all-types.gguf'));
    const m = file.metadata;
    expect(m.get('general.name')).toEqual({ type: 'string', value: 'golden ✓' });
    expect(m.get('test.u64')).toEqual({ type: 'u64', value: 2n ** 64n - 1n });
    expect(m.get('test.i64')).toEqual({ type: 'i64', value: -(2n ** 63n) });
    expect(m.get('test.i8')).toEqual({ type: 'i8', value: -100 });
    expect(m.get('test.f32')).toEqual({ type: 'f32', value: Math.fround(0.1) });
    expect(m.get('test.bool')).toEqual({ type: 'bool', value: true });
    expect(m.get('test.arr_str')).toEqual({
      type: 'array',
      itemType: 'string',
      value: ['▁hello', '<0x0A>', '', 'ünïcödé', '"quoted"\n'],
    });
    expect(m.get('test.arr_u64')).toEqual({ type: 'array', itemType: 'u64', value: [0n, 2n ** 63n + 5n] });
    expect(m.get('test.arr_bool')).toEqual({ type: 'array', itemType: 'bool', value: [true, false, true] });
    expect(file.tensors.map((t) => [t.name, t.dtype, t.shape])).toEqual([
      ['token_embd.weight', 'f16', [5, 64]],
      ['blk.0.attn_norm.weight', 'f32', [64]],
      ['blk.0.attn_q.weight', 'q8_0', [3, 64]],
      ['blk.0.ffn_gate_exps.weight', 'q4_0', [2, 3, 32]],
      ['blk.0.bf16.weight', 'bf16', [3, 7]],
      ['blk.0.i8', 'i8', [5]],
      ['blk.0.i32_4d', 'i32', [2, 3, 1, 2]],
    ]);
    expect(file.alignment).toBe(32);
  });
  it('round-trips byte-exactly: ggml bytes → read → write', async () => {
    const again = await rewrite(await readGguf(bytesSource(bytes)));
    expect(again.byteLength).toBe(bytes.byteLength);
    expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
  });
});

describe('gguf writer', () => {
  const input = (): GgufWriteInput => ({
    metadata: {
      'general.alignment': ggufValue.u32(64),
      'general.architecture': ggufValue.string('llama'),
      'x.scores': ggufValue.numbers('f32', [0.5, -1]),
    },
    tensors: [
      { name: 'a', dtype: 'f32', shape: [3], data: Uint8Array.from({ length: 12 }, (_, i) => i) },
      { name: 'b', dtype: 'q4_0', shape: [2, 32], data: new Uint8Array(36).fill(7) },
      { name: 'c', dtype: 'i64', shape: [1], data: new Uint8Array(8).fill(9) },
    ],
  });
  it('honours general.alignment and round-trips byte-exactly', async () => {
    const sink = new MemorySink();
    await writeGguf(sink, input());
    const first = sink.bytes();
    const file = await readGguf(bytesSource(first));
    expect(file.alignment).toBe(64);
    expect(file.dataStart % 64).toBe(0);
    expect(file.tensors.map((t) => t.offset)).toEqual([0, 64, 128]);
    expect(first.byteLength).toBe(file.dataStart + 192);
    expect(Array.from((await file.readTensor('a')).data)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(Buffer.from(await rewrite(file)).equals(Buffer.from(first))).toBe(true);
  });
  it('knows the file size from the header alone (fileBytes), before any tensor data is fetched', async () => {
    for (const tensors of [input().tensors, input().tensors.slice(0, 1), []]) {
      const lazy = tensors.map(({ data, ...t }) => ({ ...t, getData: async () => data! }));
      const { fileBytes } = encodeGgufHeader({ ...input(), tensors: lazy });
      const sink = new MemorySink();
      await writeGguf(sink, { ...input(), tensors });
      expect(fileBytes).toBe(sink.size);
    }
  });
  it('reads headers larger than the first 1 MiB read (the buffer grows, never past EOF)', async () => {
    const tokens = Array.from({ length: 150_000 }, (_, i) => `token-${i}-${'x'.repeat(i % 13)}`); // ~3.6 MB of header
    const sink = new MemorySink();
    await writeGguf(sink, {
      metadata: { 'tokenizer.ggml.tokens': ggufValue.strings(tokens) },
      tensors: input().tensors,
    });
    const bytes = sink.bytes();
    const reads: number[] = [];
    const src = bytesSource(bytes);
    const file = await readGguf({
      ...src,
      read: (offset, length) => {
        reads.push(length);
        return src.read(offset, length);
      },
    });
    expect(file.metadata.get('tokenizer.ggml.tokens')?.value).toEqual(tokens);
    expect(Array.from((await file.readTensor('a')).data)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(reads.length).toBeGreaterThan(2); // 1 MiB, then bigger buffers
    expect(Math.max(...reads)).toBeLessThanOrEqual(bytes.byteLength);
  });

  it('refuses tensors it cannot store', async () => {
    const bad = (patch: Partial<GgufWriteInput['tensors'][0]>) =>
      writeGguf(new MemorySink(), { metadata: {}, tensors: [{ ...input().tensors[0]!, ...patch }] });
    await expect(bad({ dtype: 'u8', shape: [12] })).rejects.toThrow(/ggml cannot store/);
    await expect(bad({ shape: [1, 1, 1, 1, 3] })).rejects.toThrow(/GGUF takes 1..4/);
    await expect(bad({ data: new Uint8Array(4) })).rejects.toThrow(/needs 12/);
    await expect(
      writeGguf(new MemorySink(), { metadata: { 'general.alignment': ggufValue.u32(48) }, tensors: [] }),
    ).rejects.toThrow(/power of two/);
  });
  it('refuses metadata values their wire type cannot hold, naming the key', async () => {
    const bad = (value: GgufMetadataValue) =>
      writeGguf(new MemorySink(), { metadata: { 'x.key': value }, tensors: [] });
    await expect(bad({ type: 'u32', value: -1 })).rejects.toThrow(/'x.key' value -1 is outside the u32 range/);
    await expect(bad({ type: 'i8', value: 1.5 })).rejects.toThrow(/'x.key' value 1.5 is not an integer/);
    await expect(bad({ type: 'u64', value: 5 as unknown as bigint })).rejects.toThrow(
      /'x.key' value 5 is not a bigint/,
    );
    await expect(bad({ type: 'array', itemType: 'u16', value: [1, 70000] })).rejects.toThrow(
      /'x.key\[1\]' value 70000 is outside the u16 range/,
    );
    await expect(bad({ type: 'array', itemType: 'string', value: ['a', 3 as unknown as string] })).rejects.toThrow(
      /'x.key\[1\]' value 3 is not a string/,
    );
  });
});

// ——— corruption catalogue ————————————————————————————————————————————————————————————
const F32 = 0,
  F16 = 1,
  Q8_0 = 8;
const base = (): RawGguf => ({
  kvs: [kvString('general.architecture', 'llama'), kvU32('general.alignment', 32)],
  tensors: [
    { name: 'a', ne: [4], typeId: F32, offset: 0 },
    { name: 'b', ne: [8, 2], typeId: F16, offset: 32 },
  ],
  data: new Uint8Array(64),
});
const withTensor = (i: number, patch: Partial<RawGguf['tensors'][0]>) => {
  const g = base();
  g.tensors[i] = { ...g.tensors[i]!, ...patch };
  return buildGguf(g);
};
const withKv = (key: string, typeId: number, value: Uint8Array) => {
  const g = base();
  g.kvs.push({ key, typeId, value });
  return buildGguf(g);
};

const corruptions: { rule: string; build: () => Uint8Array; error: RegExp }[] = [
  {
    rule: 'rejects a bad magic',
    build: () => buildGguf({ ...base(), magic: 0x46554746 }),
    error: /bad magic 0x46554746/,
  },
  {
    rule: 'rejects a future version',
    build: () => buildGguf({ ...base(), version: 4 }),
    error: /unsupported version 4/,
  },
  {
    rule: 'rejects a big-endian file',
    build: () => buildGguf({ ...base(), version: 0x03000000 }),
    error: /big-endian/,
  },
  {
    rule: 'rejects a file truncated inside the header',
    build: () => buildGguf(base()).subarray(0, 100),
    error: /truncated: metadata 'general.alignment' needs 4 bytes at offset 98/,
  },
  {
    rule: 'rejects a tensor count above the cap',
    build: () => buildGguf({ ...base(), tensorCount: 1n << 40n }),
    error: new RegExp(`tensor_count 1099511627776 exceeds the cap of ${GGUF_LIMITS.maxTensorCount}`),
  },
  {
    rule: 'rejects a tensor count that cannot fit in the file',
    build: () => buildGguf({ ...base(), tensorCount: 100_000 }),
    error: /tensor_count 100000 cannot fit/,
  },
  {
    rule: 'rejects a metadata count above the cap',
    build: () => buildGguf({ ...base(), kvCount: 2n ** 63n }),
    error: /metadata_kv_count \d+ exceeds the cap/,
  },
  {
    rule: 'rejects a string length past EOF without allocating it',
    build: () => cat(buildGguf(base()).subarray(0, 24), u64(1n << 50n), new Uint8Array(40)),
    error: /metadata key #0 length 1125899906842624 runs past the end/,
  },
  {
    rule: 'rejects a duplicate metadata key',
    build: () => withKv('general.architecture', 8, str('qwen2')),
    error: /duplicate metadata key 'general.architecture'/,
  },
  {
    rule: 'rejects an unknown value type',
    build: () => withKv('x.y', 13, u32(0)),
    error: /metadata 'x.y' has unknown value type 13/,
  },
  {
    rule: 'rejects an array of arrays',
    build: () => withKv('x.nested', 9, cat(u32(9), u64(1), u32(4), u64(0))),
    error: /'x.nested' is an array of arrays/,
  },
  {
    rule: 'rejects an array length above the cap',
    build: () => withKv('x.arr', 9, cat(u32(4), u64(1n << 40n))),
    error: new RegExp(`'x.arr' array length 1099511627776 exceeds the cap of ${GGUF_LIMITS.maxArrayLength}`),
  },
  {
    rule: 'rejects an array length that cannot fit in the file',
    build: () => withKv('x.arr', 9, cat(u32(4), u64(1_000_000))),
    error: /'x.arr' array length 1000000 cannot fit/,
  },
  {
    rule: 'rejects a bool that is not 0 or 1',
    build: () => withKv('x.b', 7, Uint8Array.of(2)),
    error: /'x.b' bool byte is 2/,
  },
  {
    rule: 'rejects a key that is not UTF-8',
    build: () => {
      const g = base();
      g.kvs.push({ key: 'k', typeId: 4, value: u32(1) });
      const b = buildGguf(g);
      const at = b.indexOf(0x6b, 100);
      b[at] = 0xff;
      return b;
    },
    error: /not valid UTF-8/,
  },
  {
    rule: 'rejects an alignment that is not a power of two',
    build: () => {
      const g = base();
      g.kvs[1] = kvU32('general.alignment', 24);
      return buildGguf(g);
    },
    error: /general.alignment 24 is not a power of two/,
  },
  {
    rule: 'rejects an alignment of the wrong type',
    build: () => {
      const g = base();
      g.kvs[1] = { key: 'general.alignment', typeId: 6, value: f32(32) };
      return buildGguf(g);
    },
    error: /general.alignment has type f32, expected u32/,
  },
  {
    rule: 'rejects more than 4 dims',
    build: () => withTensor(0, { ne: [4, 1, 1, 1, 1] }),
    error: /tensor 'a' n_dims 5 is outside \[1, 4\]/,
  },
  { rule: 'rejects zero dims', build: () => withTensor(0, { ne: [], nDims: 0 }), error: /tensor 'a' n_dims 0/ },
  {
    rule: 'rejects a dimension too large to address',
    build: () => withTensor(0, { ne: [2n ** 60n] }),
    error: /tensor 'a' ne\[0\] 1152921504606846976 is too large/,
  },
  {
    rule: 'rejects dims whose product overflows the file',
    build: () => withTensor(0, { ne: [2 ** 26, 2 ** 26] }),
    error: /tensor 'a' data \[0, 18014398509481984\) ends past the end/,
  },
  {
    rule: 'rejects an unsupported tensor type, naming it',
    build: () => withTensor(1, { typeId: 12, ne: [256] }),
    error: /tensor 'b' has unsupported type Q4_K \(12\)/,
  },
  {
    rule: 'rejects an unknown tensor type',
    build: () => withTensor(1, { typeId: 99 }),
    error: /tensor 'b' has unsupported type unknown type \(99\)/,
  },
  {
    rule: 'rejects a row length that is not whole blocks',
    build: () => withTensor(1, { typeId: Q8_0, ne: [33] }),
    error: /tensor 'b': row length 33 .* not a multiple of the q8_0 block size 32/,
  },
  {
    rule: 'rejects an offset not aligned to the alignment',
    build: () => withTensor(1, { offset: 16 }),
    error: /tensor 'b' offset 16 is not aligned to 32/,
  },
  {
    rule: 'rejects overlapping tensors',
    build: () => withTensor(1, { offset: 0 }),
    error: /tensor 'b' offset 0 overlaps the previous tensor/,
  },
  {
    rule: 'rejects a gap between tensors',
    build: () => withTensor(1, { offset: 64 }),
    error: /tensor 'b' offset 64 leaves a gap: ggml expects 32/,
  },
  {
    rule: 'rejects tensor data that ends past EOF',
    build: () => buildGguf(base()).subarray(0, buildGguf(base()).byteLength - 1),
    error: /tensor 'b' data \[32, 64\) ends past the end of the file/,
  },
  {
    rule: 'rejects a duplicate tensor name',
    build: () => withTensor(1, { name: 'a' }),
    error: /duplicate tensor name 'a'/,
  },
];

describe('gguf corrupt-input catalogue', () => {
  it('accepts the uncorrupted base file', async () => {
    const file = await readGguf(bytesSource(buildGguf(base()), 'bad.gguf'));
    expect(file.tensors.map((t) => t.shape)).toEqual([[4], [2, 8]]);
  });
  it.each(corruptions)('$rule', async ({ build, error }) => {
    const failure = await readGguf(bytesSource(build(), 'bad.gguf')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(FormatError);
    expect((failure as Error).message).toMatch(/^gguf: bad\.gguf: /);
    expect((failure as Error).message).toMatch(error);
  });
});
