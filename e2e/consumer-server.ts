/**
 * A static site that uses the library as a user's site would, on 127.0.0.1 (an ephemeral
 * port, so side-by-side runs never collide), cross-origin isolated (COOP/COEP) like the app:
 *   /index.html                    e2e/api-consumer.html (imports 'moe-studio' by an import map)
 *   /moe-studio/dist-lib/browser/… the package's browser build (npm run build:lib)
 *   /zoo/…                         public/zoo (the demo models)
 * A real server, not a Playwright route: routes do not see the requests of a worker's own
 * workers (the WASM pool started by the engine worker).
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';

const REPO = join(import.meta.dirname, '..');
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.map': 'application/json',
  '.json': 'application/json',
};

/** The file a request path names, or undefined outside the three served folders. */
function fileOf(path: string): string | undefined {
  if (path === '/' || path === '/index.html') return join(REPO, 'e2e/api-consumer.html');
  const mounts: [string, string][] = [
    ['/moe-studio/dist-lib/browser/', 'dist-lib/browser'],
    ['/zoo/', 'public/zoo'],
  ];
  for (const [prefix, dir] of mounts) {
    if (!path.startsWith(prefix)) continue;
    const root = join(REPO, dir);
    const file = normalize(join(root, path.slice(prefix.length)));
    return file.startsWith(root + sep) ? file : undefined;
  }
  return undefined;
}

export async function startConsumerServer(): Promise<{ server: Server; url: string }> {
  const server = createServer(async (req, res) => {
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    const file = fileOf(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    const body = file ? await readFile(file).catch(() => undefined) : undefined;
    if (!file || !body) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://localhost:${(server.address() as AddressInfo).port}` };
}
