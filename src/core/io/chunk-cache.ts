/**
 * Reading a big file through fixed-size chunks, a few of them kept: the store's IndexedDB
 * records and a URL's Range windows both give bytes a chunk at a time, and loaders do not read
 * front to back. The WASM backend packs expert e's gate, up and down in turn, which in a GGUF
 * are slices of three stacked tensors far apart, so reads alternate between three or four
 * places that each move forward. Keeping that many chunks reads each about once; the memory
 * is a fixed keep × chunk size whatever the model, and is dropped once reads pause.
 */

export interface ChunkCacheOptions {
  /** Chunks kept, least recently used dropped first. */
  keep: number;
  /** Every chunk is dropped after this long without a read (a loaded model keeps its source, not its chunks). */
  idleMs: number;
}

/** `readChunk` behind an LRU of `keep` chunks; a failed read is not kept. */
export function chunkCache(
  readChunk: (index: number) => Promise<Uint8Array>,
  { keep, idleMs }: ChunkCacheOptions,
): (index: number) => Promise<Uint8Array> {
  const cached = new Map<number, Promise<Uint8Array>>(); // insertion order = recency
  let idle: ReturnType<typeof setTimeout> | undefined;
  return (index) => {
    clearTimeout(idle);
    idle = setTimeout(() => cached.clear(), idleMs);
    let bytes = cached.get(index);
    if (bytes) cached.delete(index);
    else bytes = readChunk(index);
    cached.set(index, bytes);
    if (cached.size > keep) cached.delete(cached.keys().next().value!);
    const kept = bytes;
    kept.catch(() => {
      if (cached.get(index) === kept) cached.delete(index);
    });
    return kept;
  };
}

/**
 * Bytes [offset, offset + length) copied out of chunks of `chunkBytes` (the caller checked the
 * range). Always a copy: a view would keep its whole chunk alive as long as the caller keeps it.
 */
export async function readChunked(
  chunk: (index: number) => Promise<Uint8Array>,
  chunkBytes: number,
  offset: number,
  length: number,
): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let at = 0;
  while (at < length) {
    const pos = offset + at;
    const index = Math.floor(pos / chunkBytes);
    const bytes = await chunk(index);
    const start = pos - index * chunkBytes;
    const take = Math.min(length - at, bytes.byteLength - start);
    out.set(bytes.subarray(start, start + take), at);
    at += take;
  }
  return out;
}
