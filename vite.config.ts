import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

/**
 * COOP/COEP on dev and preview make the page cross-origin isolated, so SharedArrayBuffer
 * (multi-threaded WASM) works. A deployment must send the same two headers.
 */
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  plugins: [react()],
  server: { headers: isolation, port: 5173 },
  preview: { headers: isolation, port: 4173 },
  worker: { format: 'es' },
  build: { target: 'es2022', sourcemap: true },
});
