/**
 * A local static "hub" in HF layout for the e2e tests, on 127.0.0.1 (no network needed):
 *   /<org>/<name>/resolve/<rev>/<file>      the zoo base model's files (public/zoo/base); REFUSED_REPO
 *                                           serves them with a config.json of a model_type the
 *                                           studio does not run
 *   /api/models/<org>/<name>/tree/<rev>     the file list with sizes and LFS sha256
 *   /__requests                             the Range headers it has seen (for assertions)
 *   /__reset?stall=0.4,0.7                  clears the log; the next safetensors responses stall
 *                                           (send nothing more, keep the socket open) at those
 *                                           fractions of the file, one per response, so a test can
 *                                           pause or reload mid-file deterministically
 * Range requests are honoured (206 + Content-Range). CORS is open (the page is cross-origin isolated).
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';

/** HUB_PORT moves the fake hub (default 4181) for side-by-side e2e runs, like E2E_PORT. */
export const HUB_PORT = Number(process.env.HUB_PORT ?? 4181);
export const HUB_REPO = 'org/zoo-base';
export const REFUSED_REPO = 'org/not-a-llama';
const MODEL_DIR = join(import.meta.dirname, '..', 'public', 'zoo', 'base');
const PIECE = 64 * 1024;
const PIECE_DELAY_MS = 5;

interface Logged {
  path: string;
  range: string | null;
}

export function startHubServer(): Promise<Server> {
  const files = readdirSync(MODEL_DIR).filter((f) => statSync(join(MODEL_DIR, f)).isFile());
  const bytes = new Map(files.map((f) => [f, readFileSync(join(MODEL_DIR, f))]));
  const refusedBytes = new Map(bytes);
  const config = JSON.parse(bytes.get('config.json')!.toString('utf8'));
  refusedBytes.set('config.json', Buffer.from(JSON.stringify({ ...config, model_type: 'gemma' })));
  const treeOf = (repoBytes: Map<string, Buffer>) =>
    files.map((f) => {
      const data = repoBytes.get(f)!;
      const entry: Record<string, unknown> = {
        type: 'file',
        path: f,
        size: data.byteLength,
        oid: createHash('sha1').update(data).digest('hex'),
      };
      if (f.endsWith('.safetensors'))
        entry.lfs = { oid: createHash('sha256').update(data).digest('hex'), size: data.byteLength };
      return entry;
    });
  const repos = new Map([
    [HUB_REPO, { bytes, tree: treeOf(bytes) }],
    [REFUSED_REPO, { bytes: refusedBytes, tree: treeOf(refusedBytes) }],
  ]);
  let log: Logged[] = [];
  let stalls: number[] = [];
  const server = createServer(async (req, res) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Headers', 'Range');
    res.setHeader('Access-Control-Expose-Headers', 'Content-Range, Content-Length, Accept-Ranges');
    res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
    if (req.method === 'OPTIONS') {
      res.writeHead(204).end();
      return;
    }
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    log.push({ path, range: req.headers.range ?? null });
    if (path === '/__reset') {
      log = [];
      stalls = (new URL(req.url ?? '/', 'http://x').searchParams.get('stall') ?? '')
        .split(',')
        .filter(Boolean)
        .map(Number);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    if (path === '/__requests') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(log));
      return;
    }
    const treeRepo = /^\/api\/models\/(.+)\/tree\/main$/.exec(path)?.[1];
    if (treeRepo && repos.has(treeRepo)) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(repos.get(treeRepo)!.tree));
      return;
    }
    const fileMatch = /^\/([^/]+\/[^/]+)\/resolve\/main\/(.+)$/.exec(path);
    const data = fileMatch ? repos.get(fileMatch[1])?.bytes.get(fileMatch[2]) : undefined;
    if (!data) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const end = m?.[2] ? Number(m[2]) + 1 : data.byteLength;
    const headers: Record<string, string> = {
      'content-type': path.endsWith('.json') ? 'application/json' : 'application/octet-stream',
      'accept-ranges': 'bytes',
      'content-length': String(end - start),
    };
    if (m) headers['content-range'] = `bytes ${start}-${end - 1}/${data.byteLength}`;
    res.writeHead(m ? 206 : 200, headers);
    const stallAt =
      path.endsWith('.safetensors') && stalls.length ? Math.floor(stalls.shift()! * data.byteLength) : Infinity;
    for (let at = start; at < end; at += PIECE) {
      if (res.destroyed) return;
      if (at >= stallAt) return; // hold the connection open with no more bytes until the client gives up
      res.write(data.subarray(at, Math.min(end, at + PIECE, stallAt)));
      await new Promise((r) => setTimeout(r, PIECE_DELAY_MS));
    }
    res.end();
  });
  return new Promise((resolve) => server.listen(HUB_PORT, '127.0.0.1', () => resolve(server)));
}
