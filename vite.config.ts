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

/**
 * index.html's entry (main.tsx) only starts the engine worker and then imports the app
 * (start-app.tsx) dynamically, which Vite preloads only once main.tsx runs. These head links
 * let the browser fetch and compile the app's chunks (and its CSS) while it parses the HTML,
 * as it did when the app was the entry.
 */
function preloadAppChunks(): Plugin {
  return {
    name: 'moe-studio-preload-app',
    apply: 'build',
    transformIndexHtml: {
      order: 'post',
      handler(_html, ctx) {
        const chunks = Object.values(ctx.bundle ?? {}).filter((c) => c.type === 'chunk');
        const app = chunks.find((c) => c.facadeModuleId?.endsWith('/src/ui/start-app.tsx'));
        if (!app) throw new Error('preloadAppChunks: no chunk for src/ui/start-app.tsx');
        const byName = new Map(chunks.map((c) => [c.fileName, c]));
        const files = new Set<string>();
        const css = new Set<string>();
        const visit = (fileName: string) => {
          if (files.has(fileName)) return;
          files.add(fileName);
          const chunk = byName.get(fileName);
          for (const file of chunk?.viteMetadata?.importedCss ?? []) css.add(file);
          for (const imported of chunk?.imports ?? []) visit(imported);
        };
        visit(app.fileName);
        const base = ctx.server?.config.base ?? '/';
        return [
          ...[...css].map((file) => ({
            tag: 'link',
            attrs: { rel: 'stylesheet', crossorigin: true, href: `${base}${file}` },
            injectTo: 'head' as const,
          })),
          ...[...files].map((file) => ({
            tag: 'link',
            attrs: { rel: 'modulepreload', crossorigin: true, href: `${base}${file}` },
            injectTo: 'head' as const,
          })),
        ];
      },
    },
  };
}

export default defineConfig({
  plugins: [react(), immutableAssets(), preloadAppChunks()],
  server: { headers: isolation, port: 5173 },
  preview: { headers: isolation, port: 4173 },
  worker: { format: 'es' },
  build: { target: 'es2022', sourcemap: true },
});
