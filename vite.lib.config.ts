import { defineConfig } from 'vite';

/**
 * The library's browser build (`npm run build:lib`, after tsc has written the Node build and
 * the types): src/api/browser.ts as one ES module with its dependencies bundled in, so a
 * page can import it with no bundler (an import map naming 'moe-studio' is enough), and the
 * engine worker and the WASM pool worker as chunks beside it.
 */
export default defineConfig({
  // Worker URLs relative to the module (new URL('./assets/…', import.meta.url)), wherever the package is served from.
  base: './',
  publicDir: false,
  worker: { format: 'es' },
  build: {
    outDir: 'dist-lib/browser',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    lib: { entry: 'src/api/browser.ts', formats: ['es'], fileName: 'moe-studio' },
  },
});
