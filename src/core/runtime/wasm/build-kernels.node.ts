/**
 * Maintainer tool (Node only, never imported by the runtime):
 *   npx tsx src/core/runtime/wasm/build-kernels.node.ts
 * rebuilds kernels-wasm.ts and kernels-bank-wasm.ts from kernels.wat.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { buildKernels, kernelsModuleText } from './build-kernels.ts';

const here = new URL('.', import.meta.url);
const wat = readFileSync(new URL('kernels.wat', here), 'utf8');
const binaries = await buildKernels(wat);
writeFileSync(new URL('kernels-wasm.ts', here), kernelsModuleText(binaries));
writeFileSync(new URL('kernels-bank-wasm.ts', here), kernelsModuleText(await buildKernels(wat, 'bank'), 'BANK_'));
console.log(`kernels-wasm.ts: shared ${binaries.shared.length} B, unshared ${binaries.unshared.length} B`);
