import type { ServerResponse } from 'node:http';
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

/**
 * COOP/COEP on dev and preview make the page cross-origin isolated, so SharedArrayBuffer
 * (multi-threaded WASM) works. A deployment must send the same two headers.
 */
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/**
 * The build's assets/ files are named by their content hash, so `vite preview` lets the browser
 * keep them for good, as a static host should serve them: Vite's own preview sends `no-cache`
 * for everything, which costs a revalidation round trip per script on every start (the engine
 * worker's bundle, each page chunk). index.html and public/ files (the zoo) stay `no-cache`.
 */
function immutableAssets(): Plugin {
  const immutable = 'public, max-age=31536000, immutable';
  return {
    name: 'moe-studio-immutable-assets',
    configurePreviewServer(server) {
      server.middlewares.use((req, res, next) => {
        if (req.url?.startsWith('/assets/')) {
          // sirv passes its own Cache-Control to writeHead, which wins over setHeader: replace it there
          const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
          res.writeHead = ((status: number, ...rest: unknown[]) => {
            const headers = rest.find((r) => typeof r === 'object' && r !== null) as
              | Record<string, unknown>
              | undefined;
            for (const name of Object.keys(headers ?? {}))
              if (name.toLowerCase() === 'cache-control') delete headers![name];
            res.setHeader('Cache-Control', immutable);
            return writeHead(status, ...rest);
          }) as typeof res.writeHead;
        }
        next();
      });
    },
  };
}

export default defineConfig({
  plugins: [react(), immutableAssets()],
  server: { headers: isolation, port: 5173 },
  preview: { headers: isolation, port: 4173 },
  worker: { format: 'es' },
  build: { target: 'es2022', sourcemap: true },
});
