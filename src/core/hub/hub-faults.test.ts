/**
 * Downloads against a local HTTP server that misbehaves on purpose (cut connections, wrong
 * bytes, 200 instead of 206, a Content-Length that lies, stalls, corrupt unhashed files, unhashed
 * files shorter or longer than listed) and a store whose Nth write fails. Every fault must end
 * in a typed error in bounded time, and the next attempt against a healthy server and store
 * must finish with the exact bytes. Real parts throughout: node:http, Node's fetch, the model
 * store over an in-memory KvStore.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HubError, StoreError } from '../errors.ts';
import { memoryKvStore, type KvStore } from '../store/kv.ts';
import { modelStoreGet, modelStoreList } from '../store/model-store.ts';
import { modelStoreFileSet } from '../store/store-file-set.ts';
import { hubDownloadToStore } from './download-to-store.ts';
import type { HubFileInfo, HubRepoRef } from './hub.ts';

type Fault =
  | 'none'
  | 'cut' // half the body, then the socket is destroyed
  | 'wrong-bytes' // one byte flipped
  | 'ignore-range' // 200 with the whole file even for a Range request
  | 'long-length' // Content-Length claims more bytes than are sent
  | 'stall-body' // half the body, then silence
  | 'stall-headers' // no response at all
  | 'corrupt-json' // config.json bytes are not JSON (it has no sha256 to catch that)
  | 'short-body' // ends 40 bytes early, with a Content-Length that matches what is sent
  | 'long-body'; // 40 bytes more than the listing says, with a matching Content-Length

// A real tiny llama (the hub fixture), since an import is checked before it is marked ready;
// config.json is padded past one CHUNK so a fault can land inside it too.
const FIXTURE = new URL('./testdata/hub/org/tiny/resolve/main/', import.meta.url);
const weights = new Uint8Array(readFileSync(new URL('model.safetensors', FIXTURE)));
const config = new TextEncoder().encode(
  JSON.stringify({ ...JSON.parse(readFileSync(new URL('config.json', FIXTURE), 'utf8')), padding: 'x'.repeat(1500) }),
);
const FILES: Record<string, Uint8Array> = { 'config.json': config, 'model.safetensors': weights };
const LISTING: HubFileInfo[] = [
  { name: 'config.json', size: config.byteLength },
  {
    name: 'model.safetensors',
    size: weights.byteLength,
    sha256: createHash('sha256').update(weights).digest('hex'),
  },
];
const CHUNK = 1024;

let server: Server;
let ref: HubRepoRef;
let fault: Fault = 'none';
/** Which file the fault hits (the others are served correctly). */
let faultFile = 'model.safetensors';
const requests: { file: string; range?: string; status: number }[] = [];
const stalled: ServerResponse[] = [];

function serve(req: IncomingMessage, res: ServerResponse): void {
  const file = decodeURIComponent(req.url!.split('/resolve/main/')[1] ?? '');
  const bytes = FILES[file];
  const range = req.headers.range;
  const log = (status: number) => requests.push({ file, range, status });
  if (!bytes) {
    log(404);
    res.writeHead(404).end();
    return;
  }
  const active = file === faultFile ? fault : 'none';
  if (active === 'stall-headers') {
    log(0);
    stalled.push(res);
    return;
  }
  let start = 0;
  let status = 200;
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
  const m = range && active !== 'ignore-range' ? /bytes=(\d+)-/.exec(range) : null;
  if (m) {
    start = Number(m[1]);
    if (start >= bytes.byteLength) {
      log(416);
      res.writeHead(416, { 'content-range': `bytes */${bytes.byteLength}` }).end();
      return;
    }
    status = 206;
    headers['content-range'] = `bytes ${start}-${bytes.byteLength - 1}/${bytes.byteLength}`;
  }
  let body: Uint8Array = bytes.subarray(start);
  if (active === 'wrong-bytes') {
    body = body.slice();
    body[body.byteLength >> 1]! ^= 0xff;
  }
  if (active === 'corrupt-json')
    body = new TextEncoder().encode('{"model_type": "llama", '.padEnd(body.byteLength, ' '));
  if (active === 'short-body') body = body.subarray(0, body.byteLength - 40);
  if (active === 'long-body') body = new Uint8Array([...body, ...new Uint8Array(40).fill(32)]);
  headers['content-length'] = String(active === 'long-length' ? body.byteLength + 100 : body.byteLength);
  log(status);
  res.writeHead(status, headers);
  if (active === 'cut' || active === 'stall-body') {
    res.write(body.subarray(0, body.byteLength >> 1));
    if (active === 'cut') setTimeout(() => res.socket?.destroy(), 20);
    else stalled.push(res);
    return;
  }
  res.end(body);
}

beforeAll(async () => {
  server = createServer(serve);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  ref = { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, repo: 'org/tiny', rev: 'main' };
});

afterAll(async () => {
  for (const res of stalled) res.socket?.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  fault = 'none';
  faultFile = 'model.safetensors';
  requests.length = 0;
});

const download = (kv: KvStore, readTimeoutMs = 5000) =>
  hubDownloadToStore(fetch, kv, ref, {
    id: 'hub:org/tiny@main',
    title: 'tiny',
    files: LISTING,
    chunkBytes: CHUNK,
    readTimeoutMs,
  });

async function failure(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected the download to fail');
    },
    (e: unknown) => e as Error,
  );
}

/** The stored bytes of every file equal the served ones, and the model is listed as ready. */
async function expectStoredExactly(kv: KvStore): Promise<void> {
  const manifest = await modelStoreGet(kv, 'hub:org/tiny@main');
  expect(manifest).toBeDefined();
  const files = modelStoreFileSet(kv, manifest!);
  for (const [name, bytes] of Object.entries(FILES)) {
    const src = await files.open(name);
    expect(Buffer.from(await src.read(0, src.size)).equals(Buffer.from(bytes))).toBe(true);
  }
}

describe('hub download faults end in a typed error, and the next attempt recovers by itself', () => {
  it.each([
    ['short-body', /config\.json ended at byte \d+, expected \d+/],
    ['long-body', /config\.json sent more than the listed \d+ bytes/],
  ] as const)(
    'a config.json (no sha256 listed) whose size is not the listed one (%s) is a HubError; the retry stores it exactly',
    async (which, pattern) => {
      const kv = memoryKvStore();
      fault = which;
      faultFile = 'config.json';
      const error = await failure(download(kv));
      expect(error).toBeInstanceOf(HubError);
      expect(error.message).toMatch(pattern);
      expect(await modelStoreList(kv)).toEqual([]);
      fault = 'none';
      await download(kv);
      await expectStoredExactly(kv);
    },
  );

  it('a connection cut mid-file is a HubError; resume continues with a Range request', async () => {
    const kv = memoryKvStore();
    fault = 'cut';
    expect(await failure(download(kv))).toBeInstanceOf(HubError);
    expect(await modelStoreList(kv)).toEqual([]);
    fault = 'none';
    requests.length = 0;
    await download(kv);
    expect(requests.find((r) => r.file === 'model.safetensors')?.range).toMatch(/^bytes=\d+-$/);
    await expectStoredExactly(kv);
  });

  it('wrong bytes fail the sha256 check and nothing is marked ready', async () => {
    const kv = memoryKvStore();
    fault = 'wrong-bytes';
    expect((await failure(download(kv))).message).toMatch(/has sha256 [0-9a-f]{64}, the hub lists/);
    expect(await modelStoreList(kv)).toEqual([]);
    fault = 'none';
    await download(kv);
    await expectStoredExactly(kv);
  });

  it('a server that answers 200 (the whole file) to a Range request still gives the exact bytes', async () => {
    const kv = memoryKvStore();
    fault = 'cut';
    await failure(download(kv));
    fault = 'ignore-range';
    requests.length = 0;
    await download(kv);
    expect(requests.find((r) => r.file === 'model.safetensors')).toMatchObject({ status: 200 });
    await expectStoredExactly(kv);
  });

  it('a Content-Length that claims more bytes than are sent is a HubError, then resume recovers', async () => {
    const kv = memoryKvStore();
    fault = 'long-length';
    expect(await failure(download(kv, 300))).toBeInstanceOf(HubError);
    fault = 'none';
    await download(kv);
    await expectStoredExactly(kv);
  });

  it('a server that stalls mid-body ends in a HubError after the read timeout, naming the byte', async () => {
    const kv = memoryKvStore();
    fault = 'stall-body';
    const started = performance.now();
    const error = await failure(download(kv, 300));
    expect(performance.now() - started).toBeLessThan(5000);
    expect(error).toBeInstanceOf(HubError);
    expect(error.message).toMatch(
      new RegExp(
        `sent nothing for 0\\.3 s at byte \\d+ of ${weights.byteLength}; the stored part is kept, resume later`,
      ),
    );
    fault = 'none';
    await download(kv);
    await expectStoredExactly(kv);
  });

  it('a server that never answers ends in a HubError after the read timeout', async () => {
    const kv = memoryKvStore();
    fault = 'stall-headers';
    const error = await failure(download(kv, 300));
    expect(error).toBeInstanceOf(HubError);
    expect(error.message).toMatch(/sent nothing for 0\.3 s/);
  });

  it('a corrupt config.json (no sha256 listed) is refused and discarded, not stored as ready', async () => {
    const kv = memoryKvStore();
    fault = 'corrupt-json';
    faultFile = 'config.json';
    const error = await failure(download(kv));
    expect(error).toBeInstanceOf(HubError);
    expect(error.message).toMatch(/config\.json is not valid JSON .*the file was discarded/);
    expect(await modelStoreList(kv)).toEqual([]);
    fault = 'none';
    requests.length = 0;
    await download(kv);
    expect(requests.map((r) => r.file)).toEqual(['config.json']); // only the discarded file again
    await expectStoredExactly(kv);
  });
});

/** A KvStore whose `failAt`-th set (1-based) throws, as a full disk or a closed database would. */
function failingKv(inner: KvStore, failAt: number): KvStore & { sets: number } {
  const wrapper = {
    sets: 0,
    get: inner.get.bind(inner),
    del: inner.del.bind(inner),
    keys: inner.keys.bind(inner),
    async set(key: string, value: unknown) {
      wrapper.sets += 1;
      if (wrapper.sets === failAt) throw new DOMException('simulated write failure', 'UnknownError');
      await inner.set(key, value);
    },
  };
  return wrapper;
}

describe('a store write that fails at any step: the next attempt finishes by itself', () => {
  it('fails each write in turn; every retry completes with the exact bytes and never asks past the end (416)', async () => {
    const counting = failingKv(memoryKvStore(), 0);
    await download(counting);
    const writes = counting.sets;
    expect(writes).toBeGreaterThan(10); // chunks, import records and the manifest
    for (let n = 1; n <= writes; n++) {
      const kv = memoryKvStore();
      const error = await failure(download(failingKv(kv, n)));
      expect(error, `write ${n}`).toBeInstanceOf(StoreError);
      requests.length = 0;
      await download(kv);
      expect(
        requests.filter((r) => r.status === 416),
        `write ${n}`,
      ).toEqual([]);
      await expectStoredExactly(kv);
    }
  });
});
