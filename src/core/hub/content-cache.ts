/**
 * Files of a URL folder kept by their content. The zoo's index lists each file's sha256, so a
 * copy stored under (url, sha256) is that file for as long as the index lists that hash: no
 * revalidation round trip to the server, and a read from Cache Storage instead of the HTTP
 * cache. In headless Chromium on a 2-core machine the zoo's 6.8 MB weights read in 25–40 ms
 * from Cache Storage against 140–210 ms through fetch from the HTTP cache (the server sends
 * `no-cache`), which is most of a warm "Chat with" (bench/ttft.ts).
 *
 * A copy is stored only after its bytes hashed to the listed sha256, so a hit needs no check.
 * The cache is a speed-up, never a source of errors: a failing get is a miss, a failing put
 * (quota, a storage-less context) is dropped.
 */
export interface ContentCache {
  /** The bytes stored for `url` with this sha256, or undefined. */
  get(url: string, sha256: string): Promise<Uint8Array | undefined>;
  /**
   * Stores a body known to hash to `sha256`, replacing copies of `url` with other hashes. A
   * Response (an unread clone of the fetched one) lets Cache Storage take the body natively,
   * without a second copy through this thread.
   */
  put(url: string, sha256: string, body: Uint8Array | Response): Promise<void>;
}

/** A sha256 as an index lists it: 64 lowercase hex digits. Anything else is not used as a key. */
export function isSha256Hex(value: unknown): value is string {
  return typeof value === 'string' && /^[0-9a-f]{64}$/.test(value);
}

/** Cache Storage's name for the studio's content-addressed files; a new layout gets a new name. */
export const CONTENT_CACHE_NAME = 'moe-studio-files-v1';

/** The key a copy is stored under: the file's URL with its hash as the query. */
function keyOf(url: string, sha256: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}sha256=${sha256}`;
}

/**
 * The browser's Cache Storage as a ContentCache (pages and workers of a secure context), or
 * undefined where there is none (Node, an insecure origin).
 */
export function cacheStorageContentCache(name = CONTENT_CACHE_NAME): ContentCache | undefined {
  const storage = globalThis.caches;
  if (!storage) return undefined;
  let opened: Promise<Cache> | undefined;
  const open = () => {
    opened ??= storage.open(name);
    opened.catch(() => (opened = undefined)); // tried again next time
    return opened;
  };
  return {
    async get(url, sha256) {
      try {
        const res = await (await open()).match(keyOf(url, sha256));
        return res ? new Uint8Array(await res.arrayBuffer()) : undefined;
      } catch {
        return undefined;
      }
    },
    async put(url, sha256, body) {
      try {
        const cache = await open();
        // other versions of this file (the zoo updated): they would only take space
        await cache.delete(url, { ignoreSearch: true });
        const response = body instanceof Uint8Array ? new Response(body as Uint8Array<ArrayBuffer>) : body;
        await cache.put(keyOf(url, sha256), response);
      } catch {
        // quota or no storage: the next load fetches again
      }
    },
  };
}

/** What a Cache Storage content cache holds: files and bytes (undefined where there is no Cache Storage). */
export async function cacheStorageUsage(
  name = CONTENT_CACHE_NAME,
): Promise<{ files: number; bytes: number } | undefined> {
  const storage = globalThis.caches;
  if (!storage || !(await storage.has(name))) return storage ? { files: 0, bytes: 0 } : undefined;
  const cache = await storage.open(name);
  let bytes = 0;
  const keys = await cache.keys();
  // A Blob's size is known without reading its bytes.
  for (const key of keys) bytes += (await (await cache.match(key))?.blob())?.size ?? 0;
  return { files: keys.length, bytes };
}

/** Frees what a Cache Storage content cache holds; the next load of those files fetches them again. */
export async function cacheStorageClear(name = CONTENT_CACHE_NAME): Promise<void> {
  await globalThis.caches?.delete(name);
}

/** A ContentCache in memory: tests, and anything that wants the behaviour without storage. */
export function memoryContentCache(): ContentCache & { entries: Map<string, Uint8Array> } {
  const entries = new Map<string, Uint8Array>();
  return {
    entries,
    async get(url, sha256) {
      const bytes = entries.get(keyOf(url, sha256));
      return bytes && new Uint8Array(bytes);
    },
    async put(url, sha256, body) {
      const bytes = body instanceof Uint8Array ? new Uint8Array(body) : new Uint8Array(await body.arrayBuffer());
      for (const key of [...entries.keys()])
        if (key.startsWith(`${url}?`) || key.startsWith(`${url}&`)) entries.delete(key);
      entries.set(keyOf(url, sha256), bytes);
    },
  };
}
