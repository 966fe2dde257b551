/**
 * The one backend opener, used by the engine worker and the CLI: a name and the platform's
 * options in, a Backend out. The caller passes what only it knows (Dawn's GPU object in
 * Node, worker_threads for the WASM pool, navigator.gpu in a tab); nothing here sniffs the
 * environment. Plain imports: every backend is part of every build.
 */
import { cpuBackend } from './cpu/backend.ts';
import type { Backend, BackendName } from './types.ts';
import { createWasmBackend, type WasmBackendOptions } from './wasm/backend.ts';
import { createWebGpuBackend, type WebGpuBackendOptions } from './webgpu/backend.ts';

export const BACKEND_NAMES = ['cpu', 'wasm', 'webgpu'] as const satisfies readonly BackendName[];

/** What each backend needs from the platform it runs on. */
export interface PlatformOptions {
  wasm?: WasmBackendOptions;
  webgpu?: WebGpuBackendOptions;
}

export async function openBackend(name: BackendName, platform: PlatformOptions = {}): Promise<Backend> {
  switch (name) {
    case 'cpu':
      return cpuBackend;
    case 'wasm':
      return createWasmBackend(platform.wasm);
    case 'webgpu':
      return createWebGpuBackend(platform.webgpu);
  }
}
