/**
 * Hub downloads in real Chromium against a real HTTP server: Vitest's own Vite server
 * serves testdata/hub in HF layout (with Range support). Nothing here is mocked except
 * one fetch wrapper that cuts the connection mid-file (to simulate a lost network) and one
 * that answers HTML (to simulate a misconfigured hub).
 *
 * Vite transforms extension-less paths as JavaScript, so `serverFetch` maps the tree API's
 * `…/tree/main` onto the fixture file `…/tree/main.json` — a URL rewrite over the real server.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clear, createStore } from 'idb-keyval';
import { idbKvStore, type KvStore } from '../store/kv.ts';
import { modelStoreFileSet, modelStoreList, modelStoreListPending } from '../store/index.ts';
import { hubDownloadToStore, hubModelId } from './download-to-store.ts';
import { hubFileUrl, hubListFiles, hubParseRepoRef, hubSelectModelFiles, type FetchFn } from './hub.ts';
import type { LoadProgress } from '../io/progress.ts';

const DB = 'moe-studio-hub-test';
const BASE = `${location.origin}/src/core/hub/testdata/hub`;
let kv: KvStore;

const serverFetch: FetchFn = (url, init) => fetch(/\/tree\/[^/]+$/.test(url) ? `${url}.json` : url, init);

beforeEach(async () => {
  await clear(createStore(DB, 'models'));
  kv = idbKvStore(DB, 'models');
});
afterEach(async () => {
  await clear(createStore(DB, 'models'));
});

/** Real fetch, but the body of `file` errors after `cutAfter` bytes (a dropped connection). */
function cuttingFetch(file: string, cutAfter: number, log: string[]): FetchFn {
  return async (url, init) => {
    log.push(`${url} ${new Headers(init?.headers).get('range') ?? ''}`);
    const res = await serverFetch(url, init);
    if (!url.endsWith(file) || !res.body) return res;
    let sent = 0;
    const reader = res.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { value, done } = await reader.read();
        if (done) return controller.close();
        if (sent + value.byteLength > cutAfter) {
          controller.enqueue(value.subarray(0, cutAfter - sent));
          sent = cutAfter;
          return controller.error(new TypeError('network error (test cut)'));
        }
        sent += value.byteLength;
        controller.enqueue(value);
      },
    });
    return new Response(body, { status: res.status, headers: res.headers });
  };
}

describe('hub', () => {
  it('parses org/name, org/name@rev and URLs', () => {
    expect(hubParseRepoRef('org/tiny', 'https://h.example/')).toEqual({
      baseUrl: 'https://h.example',
      repo: 'org/tiny',
      rev: 'main',
    });
    expect(hubParseRepoRef('org/tiny@v2', 'https://h.example')).toMatchObject({ rev: 'v2' });
    expect(hubParseRepoRef('http://127.0.0.1:9/hub/org/tiny/resolve/dev/config.json', 'x')).toEqual({
      baseUrl: 'http://127.0.0.1:9/hub',
      repo: 'org/tiny',
      rev: 'dev',
    });
    expect(() => hubParseRepoRef('not a repo', 'x')).toThrow(/org\/name/);
  });

  it('lists sizes and LFS sha256 before downloading, keeping only model files', async () => {
    const ref = hubParseRepoRef('org/tiny', BASE);
    const files = hubSelectModelFiles(await hubListFiles(serverFetch, ref));
    expect(files.map((f) => f.name)).toEqual(['config.json', 'model.safetensors']);
    expect(files[1].size).toBe(200_000);
    expect(files[1].sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('without a tree API (a plain static mirror), probes the standard file names for sizes', async () => {
    const ref = hubParseRepoRef('org/tiny', BASE);
    const files = await hubListFiles(fetch, ref); // Vite answers the tree URL with HTML
    expect(files).toEqual([
      { name: 'config.json', size: 437 },
      { name: 'model.safetensors', size: 200_000 },
    ]);
  });

  it('resumes an interrupted download with an HTTP Range request and verifies size and sha256', async () => {
    const ref = hubParseRepoRef('org/tiny', BASE);
    const files = hubSelectModelFiles(await hubListFiles(serverFetch, ref));
    const log: string[] = [];
    const cut = 90_000 + Math.floor(Math.random() * 50_000);
    const options = { id: hubModelId(ref), title: 'org/tiny', files, chunkBytes: 16_384 };
    await expect(
      hubDownloadToStore(cuttingFetch('model.safetensors', cut, log), kv, ref, options),
    ).rejects.toMatchObject({
      name: 'HubError',
      message: expect.stringMatching(
        new RegExp(
          `connection to ${hubFileUrl(ref, 'model.safetensors').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} dropped at byte \\d+ of 200000 \\(TypeError: network error`,
        ),
      ),
    });
    expect(await modelStoreList(kv)).toEqual([]);
    const pending = await modelStoreListPending(kv);
    const stored = pending[0].files[1].chunksDone * 16_384;
    expect(stored).toBeGreaterThan(0);
    expect(stored).toBeLessThanOrEqual(cut);

    const events: LoadProgress[] = [];
    const manifest = await hubDownloadToStore(cuttingFetch('none', 0, log), kv, ref, {
      ...options,
      onProgress: (p) => events.push(p),
    });
    expect(log.at(-1)).toBe(`${hubFileUrl(ref, 'model.safetensors')} bytes=${stored}-`);
    expect(events.some((e) => e.file === 'model.safetensors' && e.fromCache && e.bytesDone === stored)).toBe(true);
    expect(events.at(-1)).toMatchObject({ phase: 'done', totalDone: manifest.totalBytes });
    const original = new Uint8Array(await (await fetch(hubFileUrl(ref, 'model.safetensors'))).arrayBuffer());
    const src = await modelStoreFileSet(kv, manifest).open('model.safetensors');
    expect(await src.read(0, src.size)).toEqual(original);
  });

  it('rejects an HTML answer and a wrong sha256, naming the URL, and caches neither', async () => {
    const ref = hubParseRepoRef('org/tiny', BASE);
    const files = hubSelectModelFiles(await hubListFiles(serverFetch, ref));
    const html: FetchFn = async () => new Response('<html>login</html>', { headers: { 'content-type': 'text/html' } });
    await expect(hubDownloadToStore(html, kv, ref, { id: 'x', title: 'x', files })).rejects.toThrow(
      /resolve\/main\/config\.json answered an HTML page/,
    );
    const wrong = files.map((f) => (f.sha256 ? { ...f, sha256: '0'.repeat(64) } : f));
    await expect(hubDownloadToStore(serverFetch, kv, ref, { id: 'y', title: 'y', files: wrong })).rejects.toMatchObject(
      { name: 'HubError', message: expect.stringMatching(/model\.safetensors has sha256/) },
    );
    expect(await modelStoreList(kv)).toEqual([]);
    expect((await modelStoreListPending(kv)).map((p) => p.id)).toEqual(['x']);
    // Vite answers a missing path with its SPA index.html, like a misconfigured hub would;
    // probing finds no config.json either, so the tree error is the one reported.
    await expect(hubListFiles(serverFetch, hubParseRepoRef('org/missing', BASE))).rejects.toThrow(
      /api\/models\/org\/missing\/tree\/main answered an HTML page/,
    );
    const gone: FetchFn = async () => new Response('nope', { status: 404, statusText: 'Not Found' });
    await expect(hubListFiles(gone, hubParseRepoRef('org/gone', BASE))).rejects.toThrow(
      /api\/models\/org\/gone\/tree\/main answered HTTP 404 Not Found/,
    );
  });
});
