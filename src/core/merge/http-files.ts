/**
 * A FileSet over HTTP in HF hub layout: `<hub>/<repo>/resolve/<revision>/<file>`, read with
 * Range requests. Small on purpose (the app's downloader lives in hub/). `fetch` is injected;
 * every failure names the URL, and `res.ok` is always checked.
 *
 * Listing: the hub API (`<hub>/api/models/<repo>/revision/<rev>` → siblings), else probing the
 * files a merge needs (config.json, the safetensors index or single file and its shards, and
 * the tokenizer files).
 */
import { HubError } from '../errors.ts';
import type { ByteSource, FileSet } from '../io/byte-source.ts';
import { TOKENIZER_FILES } from './tokenizer-files.ts';

export type Fetch = (url: string, init?: { method?: string; headers?: Record<string, string> }) => Promise<Response>;

function fileUrl(hub: string, repo: string, revision: string, file: string): string {
  return `${hub.replace(/\/+$/, '')}/${repo}/resolve/${encodeURIComponent(revision)}/${file.split('/').map(encodeURIComponent).join('/')}`;
}

async function checked(
  fetchFn: Fetch,
  url: string,
  init?: { method?: string; headers?: Record<string, string> },
): Promise<Response> {
  let res: Response;
  try {
    res = await fetchFn(url, init);
  } catch (e) {
    throw new HubError(`merge: fetch ${url} failed: ${(e as Error).message}`);
  }
  if (!res.ok) throw new HubError(`merge: ${url}: HTTP ${res.status} ${res.statusText}`.trimEnd());
  return res;
}

async function remoteSize(fetchFn: Fetch, url: string): Promise<number> {
  const res = await checked(fetchFn, url, { method: 'HEAD' });
  const size = Number(res.headers.get('content-length'));
  if (!Number.isSafeInteger(size) || size < 0)
    throw new HubError(`merge: ${url}: no usable Content-Length (${res.headers.get('content-length')})`);
  return size;
}

export async function httpByteSource(fetchFn: Fetch, url: string): Promise<ByteSource> {
  const size = await remoteSize(fetchFn, url);
  return {
    size,
    name: url,
    async read(offset, length) {
      if (offset < 0 || length < 0 || offset + length > size)
        throw new RangeError(`${url}: read [${offset}, ${offset + length}) is outside [0, ${size})`);
      if (length === 0) return new Uint8Array(0);
      const res = await checked(fetchFn, url, { headers: { Range: `bytes=${offset}-${offset + length - 1}` } });
      let bytes = new Uint8Array(await res.arrayBuffer());
      if (res.status === 200 && bytes.byteLength === size) bytes = bytes.subarray(offset, offset + length); // server ignored Range
      if (bytes.byteLength !== length)
        throw new HubError(`merge: ${url}: asked for ${length} bytes at ${offset}, got ${bytes.byteLength}`);
      return bytes;
    },
  };
}

async function exists(fetchFn: Fetch, url: string): Promise<boolean> {
  try {
    return (await fetchFn(url, { method: 'HEAD' })).ok;
  } catch {
    return false;
  }
}

async function listByProbing(fetchFn: Fetch, url: (file: string) => string): Promise<string[]> {
  const files: string[] = [];
  if (await exists(fetchFn, url('config.json'))) files.push('config.json');
  if (await exists(fetchFn, url('model.safetensors.index.json'))) {
    files.push('model.safetensors.index.json');
    const index = (await (await checked(fetchFn, url('model.safetensors.index.json'))).json()) as {
      weight_map?: Record<string, string>;
    };
    files.push(...new Set(Object.values(index.weight_map ?? {})));
  } else if (await exists(fetchFn, url('model.safetensors'))) files.push('model.safetensors');
  for (const f of TOKENIZER_FILES) if (await exists(fetchFn, url(f))) files.push(f);
  return files.sort();
}

export function httpFileSet(
  hub: string,
  repo: string,
  revision = 'main',
  fetchFn: Fetch = (u, i) => fetch(u, i),
): FileSet {
  const url = (file: string) => fileUrl(hub, repo, revision, file);
  let listing: Promise<string[]> | undefined;
  return {
    name: `${hub.replace(/\/+$/, '')}/${repo}@${revision}`,
    list() {
      listing ??= (async () => {
        const api = `${hub.replace(/\/+$/, '')}/api/models/${repo}/revision/${encodeURIComponent(revision)}`;
        try {
          const res = await fetchFn(api);
          const type = res.headers.get('content-type') ?? '';
          if (res.ok && type.includes('json')) {
            const siblings = ((await res.json()) as { siblings?: { rfilename?: string }[] }).siblings;
            if (Array.isArray(siblings)) return siblings.map((s) => String(s.rfilename)).sort();
          }
        } catch {
          /* fall back to probing */
        }
        return listByProbing(fetchFn, url);
      })().catch((e: unknown) => {
        listing = undefined;
        throw e;
      }); // never cache a failure
      return listing;
    },
    open: (file) => httpByteSource(fetchFn, url(file)),
  };
}
