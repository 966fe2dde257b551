/**
 * Serves the bench page from localhost (a secure context) with COOP/COEP, so the page is
 * cross-origin isolated (SharedArrayBuffer: our thread pool and wllama's threads), plus the
 * GGUF fixtures under /models/ straight from the temp dir. Vite compiles the page's
 * TypeScript (including our pool worker and wllama's assets).
 */
import { createReadStream, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer, type ViteDevServer } from 'vite';
import { BENCH_DIR } from './fixture-gguf.ts';

const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export async function startBenchServer(port = 5199): Promise<{ url: string; server: ViteDevServer }> {
  const repo = fileURLToPath(new URL('..', import.meta.url));
  const server = await createServer({
    configFile: false,
    root: join(repo, 'bench', 'page'),
    logLevel: 'error',
    // No HMR and no watcher: other engineers edit src/ while a bench runs, and a full-page
    // reload would kill the measurement in flight. No dependency discovery either (a late
    // discovery also reloads the page).
    server: { port, strictPort: false, headers: ISOLATION, fs: { allow: [repo] }, hmr: false, watch: null },
    worker: { format: 'es' },
    optimizeDeps: { noDiscovery: true, include: [] },
    plugins: [
      {
        name: 'bench-models',
        configureServer(dev) {
          dev.middlewares.use('/models', (req, res, next) => {
            // A fixture file, or one a folder of BENCH_DIR holds (bench/tab-load.ts: <folder>/model.gguf).
            const parts = decodeURIComponent((req.url ?? '').split('?')[0]!)
              .split('/')
              .filter(Boolean);
            if (parts.length === 0 || parts.length > 2 || parts.some((p) => p === '..' || p !== basename(p))) {
              next();
              return;
            }
            const path = join(BENCH_DIR, ...parts);
            let size: number;
            try {
              size = statSync(path).size;
            } catch {
              next();
              return;
            }
            // Range reads: the engine reads a big GGUF from a URL folder a tensor at a time (fetchFileSet).
            const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
            if (range && Number(range[2]) < size && Number(range[1]) <= Number(range[2])) {
              const [from, to] = [Number(range[1]), Number(range[2])];
              res.writeHead(206, {
                ...ISOLATION,
                'Content-Type': 'application/octet-stream',
                'Content-Length': String(to - from + 1),
                'Content-Range': `bytes ${from}-${to}/${size}`,
              });
              createReadStream(path, { start: from, end: to }).pipe(res);
              return;
            }
            res.writeHead(200, {
              ...ISOLATION,
              'Content-Type': 'application/octet-stream',
              'Content-Length': String(size),
            });
            createReadStream(path).pipe(res);
          });
        },
      },
    ],
  });
  await server.listen();
  const address = server.resolvedUrls?.local[0] ?? `http://localhost:${port}/`;
  return { url: address, server };
}
