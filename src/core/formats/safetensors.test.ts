import { describe, expect, it } from 'vitest';
import { bytesSource, MemorySink, memoryFileSet, type ByteSource } from '../io/byte-source.ts';
import { FormatError } from '../errors.ts';
import {
  lazySafetensorsSource,
  openSafetensors,
  writeSafetensors,
  SAFETENSORS_LIMITS,
  type TensorEntry,
} from './safetensors.ts';
import { openSafetensorsFolder, writeSafetensorsSharded } from './safetensors-folder.ts';

/** Hermetic builder: a safetensors file from a header object (any JSON) and a data section. */
function buildSafetensors(
  header: unknown,
  data: Uint8Array,
  options: { headerLength?: bigint; rawHeader?: Uint8Array } = {},
): Uint8Array {
  const json = options.rawHeader ?? new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, options.headerLength ?? BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(data, 8 + json.byteLength);
  return out;
}

const validHeader = () => ({
  __metadata__: { format: 'pt' },
  a: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] },
  b: { dtype: 'F16', shape: [3], data_offsets: [16, 22] },
});
const validData = () => Uint8Array.from({ length: 22 }, (_, i) => i);

async function writeToBytes(
  entries: TensorEntry[],
  data: Record<string, Uint8Array>,
  metadata?: Record<string, string>,
) {
  const sink = new MemorySink();
  await writeSafetensors(sink, entries, async (name) => data[name]!, metadata);
  return sink.bytes();
}

describe('safetensors read/write', () => {
  it('reads a valid file built by hand', async () => {
    const file = await openSafetensors(bytesSource(buildSafetensors(validHeader(), validData()), 'x.safetensors'));
    expect(file.metadata).toEqual({ format: 'pt' });
    expect(file.tensors.map((t) => [t.name, t.dtype, t.shape, t.byteLength])).toEqual([
      ['a', 'f32', [2, 2], 16],
      ['b', 'f16', [3], 6],
    ]);
    const b = await file.readTensor('b');
    expect(Array.from(b.data)).toEqual([16, 17, 18, 19, 20, 21]);
    await expect(file.readTensor('zzz')).rejects.toThrow(/x\.safetensors: no tensor 'zzz'/);
  });

  it('round-trips byte-exactly: write → read → write', async () => {
    const entries: TensorEntry[] = [
      { name: 'model.embed_tokens.weight', dtype: 'bf16', shape: [5, 3] },
      { name: 'ids', dtype: 'i64', shape: [4] },
      { name: 'ünï', dtype: 'u8', shape: [3] },
      { name: 'empty', dtype: 'i32', shape: [0, 4] },
      { name: 'scalar', dtype: 'f32', shape: [] },
      { name: 'i8', dtype: 'i8', shape: [2] },
    ];
    const data: Record<string, Uint8Array> = {};
    let seed = 1;
    for (const e of entries) {
      const size = { bf16: 30, i64: 32, u8: 3, i32: 0, f32: 4, i8: 2 }[e.dtype as 'bf16']!;
      data[e.name] = Uint8Array.from({ length: size }, () => (seed = (seed * 31 + 7) % 251));
    }
    const first = await writeToBytes(entries, data, { format: 'pt', note: 'a "quoted" value' });
    const headerLength = Number(new DataView(first.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const file = await openSafetensors(bytesSource(first));
    const again = await writeToBytes(
      file.tensors,
      Object.fromEntries(
        await Promise.all(file.tensors.map(async (t) => [t.name, (await file.readTensor(t.name)).data])),
      ),
      file.metadata,
    );
    expect(Buffer.from(again).equals(Buffer.from(first))).toBe(true);
  });

  it('refuses ggml block dtypes and data of the wrong size when writing', async () => {
    await expect(writeToBytes([{ name: 'q', dtype: 'q8_0', shape: [32] }], { q: new Uint8Array(34) })).rejects.toThrow(
      /cannot store/,
    );
    await expect(writeToBytes([{ name: 'w', dtype: 'f32', shape: [3] }], { w: new Uint8Array(8) })).rejects.toThrow(
      /needs 12/,
    );
    await expect(writeToBytes([], {}, { n: 3 as unknown as string })).rejects.toThrow(
      /__metadata__ 'n' must be a string/,
    );
  });
});

type Corruption = { rule: string; build: () => Uint8Array; error: RegExp };
const corruptions: Corruption[] = [
  { rule: 'rejects a file shorter than the 8-byte length', build: () => new Uint8Array(5), error: /too short/ },
  {
    rule: 'rejects a header length past EOF',
    build: () => buildSafetensors(validHeader(), validData(), { headerLength: 10_000n }),
    error: /header length 10000 runs past the end/,
  },
  {
    rule: 'rejects a header length above the cap without allocating it',
    build: () => buildSafetensors(validHeader(), validData(), { headerLength: 1n << 62n }),
    error: new RegExp(`exceeds the cap of ${SAFETENSORS_LIMITS.maxHeaderBytes}`),
  },
  {
    rule: 'rejects a header that is not JSON',
    build: () => buildSafetensors(null, validData(), { rawHeader: new TextEncoder().encode('{"a": [') }),
    error: /not valid JSON/,
  },
  {
    rule: 'rejects a header that is not UTF-8',
    build: () => buildSafetensors(null, validData(), { rawHeader: Uint8Array.of(0x7b, 0xff, 0x7d) }),
    error: /not valid UTF-8/,
  },
  {
    rule: 'rejects a header that is a JSON array',
    build: () => buildSafetensors([1], validData()),
    error: /not a JSON object/,
  },
  {
    rule: 'rejects an unknown dtype',
    build: () =>
      buildSafetensors({ ...validHeader(), b: { dtype: 'F8_E4M3', shape: [3], data_offsets: [16, 22] } }, validData()),
    error: /tensor 'b': unknown dtype "F8_E4M3"/,
  },
  {
    rule: 'rejects a dtype named after an Object.prototype key (__proto__, constructor)',
    build: () => {
      const h = validHeader() as Record<string, unknown>;
      h.b = { dtype: '__proto__', shape: [3], data_offsets: [16, 22] };
      h.a = { dtype: 'constructor', shape: [2, 2], data_offsets: [0, 16] };
      return buildSafetensors(h, validData());
    },
    error: /tensor '[ab]': unknown dtype "(__proto__|constructor)"/,
  },
  {
    rule: 'rejects a negative dimension',
    build: () =>
      buildSafetensors({ ...validHeader(), b: { dtype: 'F16', shape: [-3], data_offsets: [16, 22] } }, validData()),
    error: /tensor 'b': shape dimension -3/,
  },
  {
    rule: 'rejects too many dimensions',
    build: () =>
      buildSafetensors(
        { ...validHeader(), b: { dtype: 'F16', shape: new Array(17).fill(1), data_offsets: [16, 22] } },
        validData(),
      ),
    error: /17 dims, more than the cap of 16/,
  },
  {
    rule: 'rejects a shape/byte-count mismatch',
    build: () =>
      buildSafetensors({ ...validHeader(), b: { dtype: 'F16', shape: [4], data_offsets: [16, 22] } }, validData()),
    error: /tensor 'b': data_offsets span 6 bytes, but F16 \[4\] needs 8/,
  },
  {
    rule: 'rejects data offsets past EOF',
    build: () =>
      buildSafetensors({ ...validHeader(), b: { dtype: 'F16', shape: [5], data_offsets: [16, 26] } }, validData()),
    error: /tensor 'b' data_offsets \[16, 26\] end past the end/,
  },
  {
    rule: 'rejects overlapping tensors',
    build: () =>
      buildSafetensors(
        { ...validHeader(), b: { dtype: 'F16', shape: [3], data_offsets: [10, 16] } },
        validData().subarray(0, 16),
      ),
    error: /tensor 'b' data_offsets begin 10 overlaps/,
  },
  {
    rule: 'rejects a gap between tensors',
    build: () =>
      buildSafetensors({ ...validHeader(), b: { dtype: 'F16', shape: [2], data_offsets: [18, 22] } }, validData()),
    error: /leaves a gap after offset 16/,
  },
  {
    rule: 'rejects trailing bytes after the last tensor',
    build: () => buildSafetensors(validHeader(), new Uint8Array(30)),
    error: /8 trailing bytes/,
  },
  {
    rule: 'rejects end before begin',
    build: () =>
      buildSafetensors({ ...validHeader(), b: { dtype: 'F16', shape: [0], data_offsets: [22, 16] } }, validData()),
    error: /end 16 is before begin 22/,
  },
  {
    rule: 'rejects malformed data_offsets',
    build: () =>
      buildSafetensors({ ...validHeader(), b: { dtype: 'F16', shape: [3], data_offsets: [16] } }, validData()),
    error: /data_offsets \[16\] is not a pair/,
  },
  {
    rule: 'rejects non-string metadata values',
    build: () => buildSafetensors({ ...validHeader(), __metadata__: { n: 3 } }, validData()),
    error: /__metadata__ 'n' is not a string/,
  },
  {
    rule: 'rejects a truncated data section',
    build: () => {
      const f = buildSafetensors(validHeader(), validData());
      return f.subarray(0, f.byteLength - 3);
    },
    error: /tensor 'b' data_offsets \[16, 22\] end past the end of the file/,
  },
];

describe('lazySafetensorsSource', () => {
  const entries: TensorEntry[] = [
    { name: 'w', dtype: 'f32', shape: [3, 5] },
    { name: 'empty', dtype: 'f16', shape: [0] },
    { name: 'b', dtype: 'f16', shape: [7] },
    { name: 'z', dtype: 'bf16', shape: [2, 9] },
  ];
  const data: Record<string, Uint8Array> = {};
  let seed = 7;
  for (const e of entries) {
    const n = e.shape.reduce((a, b) => a * b, 1) * (e.dtype === 'f32' ? 4 : 2);
    data[e.name] = Uint8Array.from({ length: n }, () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
  }

  it('serves exactly the bytes writeSafetensors writes, for every range, making each tensor only when reached', async () => {
    const written = await writeToBytes(entries, data, { format: 'pt' });
    const made: string[] = [];
    const lazy = lazySafetensorsSource(
      'lazy.safetensors',
      entries,
      (name) => {
        made.push(name);
        return data[name]!;
      },
      { format: 'pt' },
    );
    expect(lazy.size).toBe(written.byteLength);
    expect(Array.from(await lazy.read(0, 8))).toEqual(Array.from(written.subarray(0, 8)));
    expect(made).toEqual([]); // the header alone needs no tensor
    expect(Buffer.from(await lazy.read(0, lazy.size)).equals(Buffer.from(written))).toBe(true);
    for (let trial = 0; trial < 200; trial++) {
      const offset = (seed = (seed * 1103515245 + 12345) >>> 0) % written.byteLength;
      const length = (seed = (seed * 1103515245 + 12345) >>> 0) % (written.byteLength - offset + 1);
      expect(
        Buffer.from(await lazy.read(offset, length)).equals(Buffer.from(written.subarray(offset, offset + length))),
        `[${offset}, +${length})`,
      ).toBe(true);
    }
    const file = await openSafetensors(lazy);
    expect(Array.from((await file.readTensor('b')).data)).toEqual(Array.from(data.b!));
  });

  it('rejects reads outside the file and data of the wrong size, naming the tensor', async () => {
    const lazy = lazySafetensorsSource('lazy.safetensors', entries, (name) =>
      name === 'z' ? new Uint8Array(3) : data[name]!,
    );
    await expect(lazy.read(lazy.size - 4, 8)).rejects.toThrow(/outside/);
    await expect(lazy.read(-1, 2)).rejects.toThrow(/outside/);
    await expect(lazy.read(lazy.size - 4, 4)).rejects.toThrow(/tensor 'z' data is 3 bytes, bf16 \[2, 9\] needs 36/);
  });
});

describe('safetensors corrupt-input catalogue', () => {
  it.each(corruptions)('$rule', async ({ build, error }) => {
    const src: ByteSource = bytesSource(build(), 'bad.safetensors');
    const failure = await openSafetensors(src).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(FormatError);
    expect((failure as Error).message).toMatch(/^safetensors: bad\.safetensors: /);
    expect((failure as Error).message).toMatch(error);
  });
});

describe('safetensors folders', () => {
  const entries: TensorEntry[] = Array.from({ length: 5 }, (_, i) => ({
    name: `layer.${i}.weight`,
    dtype: 'f32',
    shape: [i + 1, 4],
  }));
  const data = Object.fromEntries(
    entries.map((e, i) => [e.name, Uint8Array.from({ length: (i + 1) * 16 }, (_, j) => (i * 13 + j) & 255)]),
  );
  async function writeFolder(maxShardBytes: number) {
    const files: Record<string, Uint8Array> = {};
    const sinks: Record<string, MemorySink> = {};
    const result = await writeSafetensorsSharded(
      async (name) => (sinks[name] = new MemorySink()),
      entries,
      async (n) => data[n]!,
      { maxShardBytes },
    );
    for (const [name, sink] of Object.entries(sinks)) files[name] = sink.bytes();
    return { files, result };
  }

  it('writes one model.safetensors when everything fits', async () => {
    const { files, result } = await writeFolder(1 << 20);
    expect(result.files).toEqual(['model.safetensors']);
    expect(result.index).toBeUndefined();
    const dir = await openSafetensorsFolder(memoryFileSet(files));
    expect(dir.names()).toEqual(entries.map((e) => e.name));
  });

  it('shards by bytes with HF names and an index, and reads them back', async () => {
    const { files, result } = await writeFolder(100); // 16,32,48,64,80 bytes → [16,32,48] [64] [80]
    expect(result.files).toEqual([
      'model-00001-of-00003.safetensors',
      'model-00002-of-00003.safetensors',
      'model-00003-of-00003.safetensors',
      'model.safetensors.index.json',
    ]);
    expect(result.index).toEqual({
      metadata: { total_size: 240 },
      weight_map: {
        'layer.0.weight': 'model-00001-of-00003.safetensors',
        'layer.1.weight': 'model-00001-of-00003.safetensors',
        'layer.2.weight': 'model-00001-of-00003.safetensors',
        'layer.3.weight': 'model-00002-of-00003.safetensors',
        'layer.4.weight': 'model-00003-of-00003.safetensors',
      },
    });
    const dir = await openSafetensorsFolder(memoryFileSet(files));
    expect(dir.info('layer.3.weight')?.file).toBe('model-00002-of-00003.safetensors');
    for (const e of entries) expect(Array.from((await dir.readTensor(e.name)).data)).toEqual(Array.from(data[e.name]!));
  });

  it('rejects an index that names a missing shard or a tensor the shard lacks', async () => {
    const { files } = await writeFolder(100);
    const missing = { ...files };
    delete missing['model-00002-of-00003.safetensors'];
    await expect(openSafetensorsFolder(memoryFileSet(missing, 'm'))).rejects.toThrow(
      /weight_map\['layer.3.weight'\] names shard 'model-00002-of-00003.safetensors', which is not in the folder/,
    );
    const index = JSON.parse(new TextDecoder().decode(files['model.safetensors.index.json']));
    index.weight_map['layer.0.weight'] = 'model-00002-of-00003.safetensors';
    const wrong = { ...files, 'model.safetensors.index.json': new TextEncoder().encode(JSON.stringify(index)) };
    await expect(openSafetensorsFolder(memoryFileSet(wrong, 'm'))).rejects.toThrow(
      /points to 'model-00002-of-00003.safetensors', which has no such tensor/,
    );
    await expect(openSafetensorsFolder(memoryFileSet({ 'config.json': new Uint8Array(2) }, 'm'))).rejects.toThrow(
      /m: expected model.safetensors/,
    );
  });
});
