/**
 * A FileSet over plain HTTP files (the bundled zoo under /zoo/<path>/, or any folder a
 * server exposes), with typed progress. Each file is fetched once and kept in memory; the
 * zoo models are small. Checks ok and content-type like every hub request.
 */
import { HubError } from '../errors.ts';
import { bytesSource, type ByteSource, type FileSet } from '../io/byte-source.ts';
import type { FetchFn } from './hub.ts';
import type { OnLoadProgress } from './progress.ts';

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
    let res: Response;
    try {
      res = await fetchFn(url);
    } catch (e) {
      throw new HubError(`hub: fetching ${url} failed: ${(e as Error).message}`);
    }
    if (!res.ok) throw new HubError(`hub: ${url} answered HTTP ${res.status}`);
    if (/text\/html/i.test(res.headers.get('content-type') ?? ''))
      throw new HubError(`hub: ${url} answered an HTML page, not a model file`);
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
      if (!files.some((f) => f.name === file))
        return Promise.reject(new HubError(`hub: ${name} has no file '${file}'`));
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
