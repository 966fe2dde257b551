import { defineConfig } from 'vitest/config';
import { playwright } from '@vitest/browser-playwright';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium.config.ts';

/**
 * Two projects:
 * - node:    *.test.ts — the pure-TS core in Node (formats, quant, merge, cpu runtime, cli).
 * - browser: *.browser.test.ts — the same core inside real headless Chromium, for WebGPU
 *            kernels (SwiftShader), workers and IndexedDB.
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'node',
          include: ['src/**/*.test.ts', 'tests/**/*.test.ts', 'scripts/**/*.test.ts'],
          exclude: ['**/*.browser.test.ts', '**/node_modules/**'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        server: {
          headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
        },
        // Pre-bundle the browser tests' dependencies up front: discovering them mid-run makes
        // Vite reload the page ("Vite unexpectedly reloaded a test") on a cold cache.
        optimizeDeps: {
          include: [
            'zustand',
            'zustand/middleware',
            'zustand/react/shallow',
            'comlink',
            'idb-keyval',
            'yaml',
            'react',
            'react-dom',
            'react-dom/client',
            '@huggingface/tokenizers',
            '@huggingface/jinja',
          ],
        },
        test: {
          name: 'browser',
          include: ['src/**/*.browser.test.ts', 'workers/**/*.browser.test.ts', 'tests/**/*.browser.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          browser: {
            enabled: true,
            headless: true,
            provider: playwright({
              launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS },
            }),
            instances: [{ browser: 'chromium' }],
          },
        },
      },
    ],
  },
});
