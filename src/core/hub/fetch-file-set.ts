/**
 * A FileSet over plain HTTP files (the bundled zoo under /zoo/<path>/, or any folder a
 * server exposes), with typed progress. A file is fetched once and kept in memory, unless
 * its size is at least RANGE_READ_MIN_BYTES: that one is read with Range requests (windows
 * of RANGE_WINDOW_BYTES, a few kept), and never held whole. A file listed without a size
 * (`createEngine({ model: '…/x.gguf' })`) is first asked for its first byte, whose
 * Content-Range names the size. Every request goes through checkedFetch.
 * With a ContentCache, a whole-fetched file whose entry lists a sha256 is read from the cache
 * when it holds that hash, and otherwise fetched, checked against the hash and stored.
 */
import { HubError, MissingFileError } from '../errors.ts';
import { bytesSource, type ByteSource, checkRead, type FileSet } from '../io/byte-source.ts';
import { chunkCache, readChunked } from '../io/chunk-cache.ts';
import { checkedFetch, type FetchFn } from './checked-fetch.ts';
import { sha256Whole } from '../io/sha256.ts';
import { type ContentCache, isSha256Hex } from './content-cache.ts';
import type { OnLoadProgress } from '../io/progress.ts';

export interface FetchFileSetEntry {
  name: string;
  size?: number;
  /** The file's sha256 as the folder's index lists it (the zoo's index.json does). */
  sha256?: string;
}

/**
 * Files listed at least this big are read by Range requests: a GB-sized GGUF then loads into
 * the backend's memory (wasm, GPU) a tensor at a time, without a second, JS copy of the file.
 * Below it (configs, tokenizers, the zoo's weights) one whole fetch is cheaper than many requests.
 */
export const RANGE_READ_MIN_BYTES = 64 * 2 ** 20;

export function fetchFileSet(
  fetchFn: FetchFn,
  baseUrl: string,
  files: FetchFileSetEntry[],
  name: string,
  onProgress?: OnLoadProgress,
  contentCache?: ContentCache,
): FileSet {
  const cache = new Map<string, Promise<ByteSource>>();
  const totalBytes = files.reduce((s, f) => s + (f.size ?? 0), 0);
  let totalDone = 0;
  const report = (file: string, bytesDone: number, bytesTotal: number, added: number, fromCache = false) => {
    totalDone += added;
    onProgress?.({
      phase: 'downloading',
      file,
      bytesDone,
      bytesTotal,
      fromCache,
      totalDone,
      totalBytes: Math.max(totalBytes, totalDone),
    });
  };
  const urlOf = (file: string) => `${baseUrl.replace(/\/+$/, '')}/${file.split('/').map(encodeURIComponent).join('/')}`;
  const load = async (file: string): Promise<ByteSource> => {
    const url = urlOf(file);
    const entry = files.find((f) => f.name === file) ?? { name: file };
    const sha256 = entry.sha256;
    let listed = entry.size;
    if (listed === undefined) {
      const probe = await probeSize(fetchFn, url);
      if (probe.whole) {
        report(file, probe.whole.byteLength, probe.whole.byteLength, probe.whole.byteLength);
        return bytesSource(probe.whole, url);
      }
      listed = probe.size;
    }
    if (listed !== undefined && listed >= RANGE_READ_MIN_BYTES) {
      const size = listed;
      return rangeSource(fetchFn, url, size, (done, n) => report(file, done, size, n));
    }
    const keep = contentCache && isSha256Hex(sha256) && listed !== undefined ? contentCache : undefined;
    const kept = await keep?.get(url, sha256!);
    if (kept && kept.byteLength === listed) {
      report(file, kept.byteLength, kept.byteLength, kept.byteLength, true);
      return bytesSource(kept, url);
    }
    const res = await checkedFetch(fetchFn, url);
    const copy = keep && res.clone(); // the cache's body, taken natively once the hash is checked
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (listed !== undefined && listed !== bytes.byteLength)
      throw new HubError(`hub: ${url} has ${bytes.byteLength} bytes, the index lists ${listed}`);
    if (keep && copy) {
      // A copy is kept under its hash only once the bytes are known to have it.
      const actual = await sha256Whole(bytes);
      if (actual !== sha256) {
        void copy.body?.cancel();
        throw new HubError(`hub: ${url} has sha256 ${actual}, the index lists ${sha256}`);
      }
      void keep.put(url, actual, copy);
    }
    report(file, bytes.byteLength, bytes.byteLength, bytes.byteLength);
    return bytesSource(bytes, url);
  };
  return {
    name,
    async list() {
      return files.map((f) => f.name).sort();
    },
    open(file) {
      if (!files.some((f) => f.name === file)) return Promise.reject(new MissingFileError(`hub: ${name}`, file));
      let pending = cache.get(file);
      if (!pending) {
        pending = load(file);
        cache.set(file, pending);
        pending.catch(() => cache.delete(file)); // never cache failures
      }
      return pending;
    },
  };
}

/** The largest file size a Content-Range header may name (1 TiB): anything larger is not believed. */
export const MAX_REMOTE_FILE_BYTES = 2 ** 40;

/**
 * A file's size from a one-byte Range request (`Content-Range: bytes 0-0/SIZE`), for a file
 * listed without one. A server that ignores Range answers 200 with the whole body, which is
 * then the file; a size it does not expose (cross-origin without Access-Control-Expose-Headers)
 * stays unknown, and the file is fetched whole as before.
 */
async function probeSize(fetchFn: FetchFn, url: string): Promise<{ size?: number; whole?: Uint8Array }> {
  const res = await checkedFetch(fetchFn, url, { headers: { Range: 'bytes=0-0' } });
  if (res.status === 200) return { whole: new Uint8Array(await res.arrayBuffer()) };
  void res.body?.cancel();
  const total = /^bytes \d+-\d+\/(\d+)$/.exec(res.headers.get('content-range') ?? '')?.[1];
  const size = total === undefined ? undefined : Number(total);
  if (size === undefined) return {};
  if (!(size <= MAX_REMOTE_FILE_BYTES))
    throw new HubError(
      `hub: ${url} names a size of ${total} bytes, more than MAX_REMOTE_FILE_BYTES (${MAX_REMOTE_FILE_BYTES})`,
    );
  return { size };
}

/**
 * Reads shorter than RANGE_WINDOW_BYTES go through windows of that size, the last
 * RANGE_WINDOWS_KEPT kept (io/chunk-cache.ts): a GGUF is read as hundreds of tensor slices, and
 * one request each would be one round trip each, most of a load's time on a far server. Longer
 * reads are one request of their own. The windows kept cost a fixed 32 MiB while loading.
 */
export const RANGE_WINDOW_BYTES = 8 * 2 ** 20;
export const RANGE_WINDOWS_KEPT = 4;
const RANGE_WINDOW_IDLE_MS = 1000;

/**
 * A ByteSource over one big HTTP file of the listed `size`, read by Range requests (windows
 * for short reads, see RANGE_WINDOW_BYTES). A server that ignores Range (HTTP 200 with the
 * whole file) is answered from that body from then on, so reads stay correct, only not bounded.
 */
function rangeSource(
  fetchFn: FetchFn,
  url: string,
  size: number,
  onRead: (bytesDone: number, bytes: number) => void,
): ByteSource {
  let whole: Uint8Array | undefined;
  let bytesDone = 0;
  const counted = (bytes: Uint8Array) => {
    bytesDone = Math.min(size, bytesDone + bytes.byteLength);
    onRead(bytesDone, bytes.byteLength);
    return bytes;
  };
  const fetchRange = async (offset: number, length: number): Promise<Uint8Array> => {
    if (whole) return whole.subarray(offset, offset + length);
    const res = await checkedFetch(fetchFn, url, { headers: { Range: `bytes=${offset}-${offset + length - 1}` } });
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (res.status === 200) {
      if (bytes.byteLength !== size)
        throw new HubError(`hub: ${url} has ${bytes.byteLength} bytes, the index lists ${size}`);
      whole = counted(bytes);
      return whole.subarray(offset, offset + length);
    }
    if (bytes.byteLength !== length)
      throw new HubError(`hub: ${url} answered ${bytes.byteLength} bytes for ${length} at ${offset}`);
    return counted(bytes);
  };
  const window = chunkCache(
    (index) => fetchRange(index * RANGE_WINDOW_BYTES, Math.min(RANGE_WINDOW_BYTES, size - index * RANGE_WINDOW_BYTES)),
    { keep: RANGE_WINDOWS_KEPT, idleMs: RANGE_WINDOW_IDLE_MS },
  );
  return {
    size,
    name: url,
    async read(offset, length) {
      checkRead(url, offset, length, size);
      if (whole) return whole.subarray(offset, offset + length);
      if (length === 0) return new Uint8Array(0);
      if (length >= RANGE_WINDOW_BYTES) return fetchRange(offset, length);
      return readChunked(window, RANGE_WINDOW_BYTES, offset, length);
    },
  };
}
