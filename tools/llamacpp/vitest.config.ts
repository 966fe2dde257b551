import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * The llama.cpp agreement test (issue proof #2), kept out of the default suite because it
 * needs node-llama-cpp (~725 MB): `npm run test:llamacpp` installs tools/llamacpp first.
 * One fork, so llama.cpp's native threads never share a process with another test file.
 */
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    name: 'llamacpp',
    include: ['tools/llamacpp/**/*.test.ts'],
    exclude: ['**/node_modules/**'],
    environment: 'node',
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
});
