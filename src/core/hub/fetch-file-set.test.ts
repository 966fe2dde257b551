/**
 * fetchFileSet against a real node:http server: a file listed at RANGE_READ_MIN_BYTES or more
 * is read by Range requests (windows of RANGE_WINDOW_BYTES for short reads, a few kept; long
 * reads one request each), never fetched whole; a file listed without a size is sized by a
 * one-byte Range request first; a server that ignores Range
 * still gives the right bytes (from the one whole body); a small file is fetched once. With a
 * ContentCache, a file listed with its sha256 is fetched, checked and kept once, then read from
 * the cache; a wrong hash is an error and nothing is kept.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sha256Hex, sha256Whole } from '../io/sha256.ts';
import { memoryContentCache } from './content-cache.ts';
import {
  fetchFileSet,
  MAX_REMOTE_FILE_BYTES,
  RANGE_READ_MIN_BYTES,
  RANGE_WINDOW_BYTES,
  RANGE_WINDOWS_KEPT,
} from './fetch-file-set.ts';

const big = new Uint8Array(RANGE_READ_MIN_BYTES + 4096);
for (let i = 0; i < big.length; i += 997) big[i] = (i / 997) & 0xff;
const small = new TextEncoder().encode('{"model_type":"llama"}');
const FILES: Record<string, Uint8Array> = { 'model.gguf': big, 'config.json': small };

let server: Server;
let base = '';
let ignoreRange = false;
let claimedSize: string | undefined; // a Content-Range total to claim instead of the real one
const requests: { file: string; range?: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const file = decodeURIComponent(req.url!.slice(1));
    const bytes = FILES[file];
    requests.push({ file, range: req.headers.range });
    if (!bytes) {
      res.writeHead(404).end();
      return;
    }
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (range && !ignoreRange) {
      const [from, to] = [Number(range[1]), Number(range[2])];
      res.writeHead(206, {
        'content-type': 'application/octet-stream',
        'content-length': to - from + 1,
        'content-range': `bytes ${from}-${to}/${claimedSize ?? bytes.byteLength}`,
      });
      res.end(bytes.subarray(from, to + 1));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.byteLength });
    res.end(bytes);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  requests.length = 0;
  ignoreRange = false;
  claimedSize = undefined;
});

const W = RANGE_WINDOW_BYTES;
/** Byte equality by Buffer.equals: toEqual walks megabytes element by element (over a minute), past the windows' idle drop. */
const sameBytes = (a: Uint8Array, b: Uint8Array) =>
  expect(
    Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength)),
  ).toBe(true);
const windowRange = (index: number) => `bytes=${index * W}-${Math.min(big.byteLength, (index + 1) * W) - 1}`;

const listing = [
  { name: 'model.gguf', size: big.byteLength },
  { name: 'config.json', size: small.byteLength },
];

describe('fetchFileSet', () => {
  it('reads a file listed at RANGE_READ_MIN_BYTES or more by Range requests: short reads through windows, long reads alone', async () => {
    const files = fetchFileSet(fetch, base, listing, 'folder');
    const src = await files.open('model.gguf');
    expect(src.size).toBe(big.byteLength);
    expect(requests).toEqual([]); // opening fetches nothing
    expect(await src.read(997 * 3, 10)).toEqual(big.subarray(997 * 3, 997 * 3 + 10));
    expect(await src.read(997 * 9, 10)).toEqual(big.subarray(997 * 9, 997 * 9 + 10)); // same window
    expect(await src.read(big.byteLength - 3000, 3000)).toEqual(big.subarray(big.byteLength - 3000)); // the short last window
    const across = 3 * W - 100; // spans windows 2 and 3
    expect(await src.read(across, 200)).toEqual(big.subarray(across, across + 200));
    sameBytes(await src.read(W + 1, W), big.subarray(W + 1, 2 * W + 1)); // a long read: its own request
    const last = Math.floor((big.byteLength - 3000) / W);
    expect(requests).toEqual([
      { file: 'model.gguf', range: windowRange(0) },
      { file: 'model.gguf', range: windowRange(last) },
      { file: 'model.gguf', range: windowRange(2) },
      { file: 'model.gguf', range: windowRange(3) },
      { file: 'model.gguf', range: `bytes=${W + 1}-${2 * W}` },
    ]);
  });

  it(`reads alternating between ${RANGE_WINDOWS_KEPT} places moving forward fetch each window once`, async () => {
    const src = await fetchFileSet(fetch, base, listing, 'folder').open('model.gguf');
    const places = Array.from({ length: RANGE_WINDOWS_KEPT }, (_, i) => i * 2 * W);
    for (let step = 0; step < 6; step++)
      for (const place of places) {
        const at = place + step * 4096;
        expect(await src.read(at, 4096)).toEqual(big.subarray(at, at + 4096));
      }
    expect(requests.length).toBe(RANGE_WINDOWS_KEPT);
  });

  it('sizes a file listed without a size by a one-byte Range request, then reads it by Range', async () => {
    const src = await fetchFileSet(fetch, base, [{ name: 'model.gguf' }], 'folder').open('model.gguf');
    expect(src.size).toBe(big.byteLength);
    expect(await src.read(7, 3)).toEqual(big.subarray(7, 10));
    expect(requests).toEqual([
      { file: 'model.gguf', range: 'bytes=0-0' },
      { file: 'model.gguf', range: windowRange(0) },
    ]);
    // an unlisted small file is sized, then fetched whole
    requests.length = 0;
    const config = await fetchFileSet(fetch, base, [{ name: 'config.json' }], 'folder').open('config.json');
    expect(await config.read(0, small.byteLength)).toEqual(small);
    expect(requests).toEqual([
      { file: 'config.json', range: 'bytes=0-0' },
      { file: 'config.json', range: undefined },
    ]);
  });

  it('an unlisted file from a server that ignores Range is the probe body; a size past the limit is refused', async () => {
    ignoreRange = true;
    const src = await fetchFileSet(fetch, base, [{ name: 'model.gguf' }], 'folder').open('model.gguf');
    expect(await src.read(997 * 5, 3)).toEqual(big.subarray(997 * 5, 997 * 5 + 3));
    expect(requests.length).toBe(1);
    ignoreRange = false;
    claimedSize = String(MAX_REMOTE_FILE_BYTES * 2);
    await expect(fetchFileSet(fetch, base, [{ name: 'model.gguf' }], 'folder').open('model.gguf')).rejects.toThrow(
      /names a size of \d+ bytes, more than MAX_REMOTE_FILE_BYTES/,
    );
  });

  it('gives the right bytes from a server that ignores Range, fetching the file once', async () => {
    ignoreRange = true;
    const src = await fetchFileSet(fetch, base, listing, 'folder').open('model.gguf');
    expect(await src.read(997 * 5, 3)).toEqual(big.subarray(997 * 5, 997 * 5 + 3));
    expect(await src.read(997 * 7, 3)).toEqual(big.subarray(997 * 7, 997 * 7 + 3));
    expect(requests.length).toBe(1);
  });

  it('fetches a small file whole, once', async () => {
    const files = fetchFileSet(fetch, base, listing, 'folder');
    const src = await files.open('config.json');
    expect(await src.read(0, small.byteLength)).toEqual(small);
    await files.open('config.json');
    expect(requests).toEqual([{ file: 'config.json', range: undefined }]);
  });
});

describe('fetchFileSet with a content cache', () => {
  const hashed = () => [{ name: 'config.json', size: small.byteLength, sha256: sha256Hex(small) }];
  const read = async (files: ReturnType<typeof fetchFileSet>) => {
    const src = await files.open('config.json');
    return src.read(0, src.size);
  };

  it('WebCrypto and our own SHA-256 agree on fresh random bytes', async () => {
    const bytes = new Uint8Array(100_003).map(() => (Math.random() * 256) | 0);
    expect(await sha256Whole(bytes)).toBe(sha256Hex(bytes));
  });

  it('fetches, checks and keeps a file listed with its sha256 once; later file sets read the kept copy', async () => {
    const cache = memoryContentCache();
    expect(await read(fetchFileSet(fetch, base, hashed(), 'folder', undefined, cache))).toEqual(small);
    expect(requests).toHaveLength(1);
    await expect.poll(() => cache.entries.size).toBe(1); // kept without delaying the load
    const progress: boolean[] = [];
    const again = fetchFileSet(fetch, base, hashed(), 'folder', (p) => progress.push(p.fromCache), cache);
    expect(await read(again)).toEqual(small);
    expect(requests).toHaveLength(1); // no request at all: not even a revalidation
    expect(progress).toEqual([true]);
  });

  it('refuses bytes whose sha256 is not the listed one, and keeps nothing', async () => {
    const cache = memoryContentCache();
    const wrong = [{ ...hashed()[0]!, sha256: sha256Hex(new Uint8Array([1, 2, 3])) }];
    await expect(read(fetchFileSet(fetch, base, wrong, 'folder', undefined, cache))).rejects.toThrow(
      new RegExp(`hub: ${base}/config.json has sha256 ${sha256Hex(small)}, the index lists ${wrong[0]!.sha256}`),
    );
    expect(cache.entries.size).toBe(0);
  });

  it('a file listed with another hash is fetched again and replaces the kept copy; no or malformed hashes are not kept', async () => {
    const cache = memoryContentCache();
    const stale = new Uint8Array([9, 9, 9]);
    await cache.put(`${base}/config.json`, sha256Hex(stale), stale);
    expect(await read(fetchFileSet(fetch, base, hashed(), 'folder', undefined, cache))).toEqual(small);
    expect(requests).toHaveLength(1);
    await expect.poll(() => [...cache.entries.keys()]).toEqual([`${base}/config.json?sha256=${sha256Hex(small)}`]);
    cache.entries.clear();
    await read(fetchFileSet(fetch, base, listing, 'folder', undefined, cache)); // listed without sha256
    await read(fetchFileSet(fetch, base, [{ ...hashed()[0]!, sha256: 'ABC' }], 'folder', undefined, cache));
    expect(requests).toHaveLength(3);
    expect(cache.entries.size).toBe(0);
  });
});
