/**
 * Hermetic GGUF byte builder for tests (STYLE habit 13): every field is explicit, so a test
 * can corrupt exactly one of them. Independent of gguf-write.ts on purpose.
 */
export interface RawKv {
  key: string;
  typeId: number;
  value: Uint8Array;
}
export interface RawTensorInfo {
  name: string;
  ne: (number | bigint)[];
  typeId: number;
  offset: number | bigint;
  nDims?: number;
}

export interface RawGguf {
  magic?: number;
  version?: number;
  tensorCount?: number | bigint;
  kvCount?: number | bigint;
  kvs: RawKv[];
  tensors: RawTensorInfo[];
  alignment?: number;
  data: Uint8Array;
}

const enc = new TextEncoder();

export function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
export function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
}
export function u64(v: number | bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
  return b;
}
export function f32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, v, true);
  return b;
}
export function str(s: string): Uint8Array {
  const bytes = enc.encode(s);
  return cat(u64(bytes.byteLength), bytes);
}

export const kvString = (key: string, value: string): RawKv => ({ key, typeId: 8, value: str(value) });
export const kvU32 = (key: string, value: number): RawKv => ({ key, typeId: 4, value: u32(value) });
export const kvF32 = (key: string, value: number): RawKv => ({ key, typeId: 6, value: f32(value) });

export function buildGguf(g: RawGguf): Uint8Array {
  const header = cat(
    u32(g.magic ?? 0x46554747),
    u32(g.version ?? 3),
    u64(g.tensorCount ?? g.tensors.length),
    u64(g.kvCount ?? g.kvs.length),
    ...g.kvs.flatMap((kv) => [str(kv.key), u32(kv.typeId), kv.value]),
    ...g.tensors.flatMap((t) => [
      str(t.name),
      u32(t.nDims ?? t.ne.length),
      ...t.ne.map(u64),
      u32(t.typeId),
      u64(t.offset),
    ]),
  );
  const alignment = g.alignment ?? 32;
  const padded = Math.ceil(header.byteLength / alignment) * alignment;
  return cat(header, new Uint8Array(padded - header.byteLength), g.data);
}
