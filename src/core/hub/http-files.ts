/**
 * A FileSet over HTTP in HF hub layout (`<hub>/<repo>/resolve/<revision>/<file>`), read with
 * Range requests, for the merge CLI's `--hub`: a donor is read tensor by tensor, never
 * downloaded whole. Listing is the hub's own (hubListFiles: the tree API, else probing the
 * standard names); every request goes through checkedFetch.
 */
import { HubError } from '../errors.ts';
import { type ByteSource, checkRead, type FileSet } from '../io/byte-source.ts';
import { checkedFetch, type FetchFn } from './checked-fetch.ts';
import { hubFileUrl, hubListFiles, type HubRepoRef } from './hub.ts';

async function remoteSize(fetchFn: FetchFn, url: string): Promise<number> {
  const res = await checkedFetch(fetchFn, url, { method: 'HEAD' });
  const size = Number(res.headers.get('content-length'));
  if (!Number.isSafeInteger(size) || size < 0)
    throw new HubError(`hub: ${url} answered no usable Content-Length (${res.headers.get('content-length')})`);
  return size;
}

export async function httpByteSource(fetchFn: FetchFn, url: string): Promise<ByteSource> {
  const size = await remoteSize(fetchFn, url);
  return {
    size,
    name: url,
    async read(offset, length) {
      checkRead(url, offset, length, size);
      if (length === 0) return new Uint8Array(0);
      const res = await checkedFetch(fetchFn, url, { headers: { Range: `bytes=${offset}-${offset + length - 1}` } });
      let bytes = new Uint8Array(await res.arrayBuffer());
      if (res.status === 200 && bytes.byteLength === size) bytes = bytes.subarray(offset, offset + length); // server ignored Range
      if (bytes.byteLength !== length)
        throw new HubError(`hub: ${url} answered ${bytes.byteLength} bytes for ${length} at ${offset}`);
      return bytes;
    },
  };
}

export function httpFileSet(
  hub: string,
  repo: string,
  revision = 'main',
  fetchFn: FetchFn = (u, i) => fetch(u, i),
): FileSet {
  const ref: HubRepoRef = { baseUrl: hub.replace(/\/+$/, ''), repo, rev: revision };
  let listing: Promise<string[]> | undefined;
  return {
    name: `${ref.baseUrl}/${repo}@${revision}`,
    list() {
      listing ??= hubListFiles(fetchFn, ref)
        .then((files) => files.map((f) => f.name).sort())
        .catch((e: unknown) => {
          listing = undefined; // never cache a failure
          throw e;
        });
      return listing;
    },
    open: (file) => httpByteSource(fetchFn, hubFileUrl(ref, file)),
  };
}
