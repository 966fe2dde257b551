/**
 * The platform options a backend gets from Node (for the CLI and the library API's Node
 * engine): WebGPU gets Dawn's GPU object (the optional `webgpu` package, loaded only for
 * webgpu); the WASM pool runs on node:worker_threads, one thread per core unless told.
 */
import { availableParallelism } from 'node:os';
import type { PlatformOptions } from '../core/runtime/backends.ts';
import type { BackendName } from '../core/runtime/types.ts';
import { nodeWorkerFactory } from '../core/runtime/wasm/threads.node.ts';
import { createDawnGpu } from './webgpu-node.ts';

export async function nodePlatform(name: BackendName, threads?: number): Promise<PlatformOptions> {
  if (name === 'webgpu') return { webgpu: { gpu: await createDawnGpu() } };
  if (name === 'wasm')
    return { wasm: { threads: threads ?? availableParallelism(), workerFactory: nodeWorkerFactory() } };
  return {};
}
