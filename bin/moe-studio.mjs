#!/usr/bin/env node
// Launcher: runs the TypeScript CLI (src/cli/main.ts) through tsx's ESM loader, so
// `npx moe-studio --help` works after npm install with no build step.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/cli/main.ts');
await runCli(process.argv.slice(2));
