#!/usr/bin/env node
// `npm run build:lib`: the library behind `import { createEngine } from 'moe-studio'`.
//   1. tsc -p tsconfig.lib.json → dist-lib/src/…: the Node build (one .js per source file, so
//      the WASM pool's worker_threads entry stays its own file) and the .d.ts of both entries.
//   2. vite build -c vite.lib.config.ts → dist-lib/browser/: the page build, dependencies and
//      workers bundled.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';

rmSync('dist-lib', { recursive: true, force: true });
const run = (bin, args) => execFileSync(`node_modules/.bin/${bin}`, args, { stdio: 'inherit' });
run('tsc', ['-p', 'tsconfig.lib.json']);
run('vite', ['build', '-c', 'vite.lib.config.ts', '--logLevel', 'warn']);
