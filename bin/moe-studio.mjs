#!/usr/bin/env node
// Launcher: runs the TypeScript CLI (src/cli/main.ts) through tsx's ESM loader, so
// `npx moe-studio --help` works after npm install with no build step.
import { setFlagsFromString } from 'node:v8';
import { register } from 'tsx/esm/api';

// Node 20's V8 has relaxed SIMD only behind this flag (it is on from Node 22). With it the q4_0
// kernels run ~1.3× faster and give the same bits (src/core/runtime/wasm/kernels.ts
// preferredU4Flavour; flavours.test.ts). Set before any wasm is compiled.
if (Number(process.versions.node.split('.')[0]) < 22) setFlagsFromString('--experimental-wasm-relaxed-simd');

register();
const { runCli } = await import('../src/cli/main.ts');
await runCli(process.argv.slice(2));
