/**
 * A FileSet over plain HTTP files (the bundled zoo under /zoo/<path>/, or any folder a
 * server exposes), with typed progress. Each file is fetched once and kept in memory; the
 * zoo models are small. Every request goes through checkedFetch.
 */
import { HubError, MissingFileError } from '../errors.ts';
import { bytesSource, type ByteSource, type FileSet } from '../io/byte-source.ts';
import { checkedFetch, type FetchFn } from './checked-fetch.ts';
import type { OnLoadProgress } from '../io/progress.ts';

export interface FetchFileSetEntry {
  name: string;
  size?: number;
}

export function fetchFileSet(
  fetchFn: FetchFn,
  baseUrl: string,
  files: FetchFileSetEntry[],
  name: string,
  onProgress?: OnLoadProgress,
): FileSet {
  const cache = new Map<string, Promise<ByteSource>>();
  const totalBytes = files.reduce((s, f) => s + (f.size ?? 0), 0);
  let totalDone = 0;
  const load = async (file: string): Promise<ByteSource> => {
    const url = `${baseUrl.replace(/\/+$/, '')}/${file.split('/').map(encodeURIComponent).join('/')}`;
    const res = await checkedFetch(fetchFn, url);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const listed = files.find((f) => f.name === file)?.size;
    if (listed !== undefined && listed !== bytes.byteLength)
      throw new HubError(`hub: ${url} has ${bytes.byteLength} bytes, the index lists ${listed}`);
    totalDone += bytes.byteLength;
    onProgress?.({
      phase: 'downloading',
      file,
      bytesDone: bytes.byteLength,
      bytesTotal: bytes.byteLength,
      fromCache: false,
      totalDone,
      totalBytes: Math.max(totalBytes, totalDone),
    });
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
