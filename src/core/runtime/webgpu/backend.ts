/**
 * createWebGpuBackend: the WebGPU Backend. Requests an adapter and device with the
 * adapter's real limits (or uses the device the caller passes, e.g. the CLI's Dawn device),
 * logs the adapter, runs the canary kernel, then creates sessions that keep routing and
 * expert dispatch on the GPU. This module never imports a platform GPU package itself.
 */
import { ConfigError } from '../../errors.ts';
import type { ExportableWeights } from '../../model/weights.ts';
import type { Backend } from '../types.ts';
import { createGpuContext, type GpuContext, type GpuLog } from './gpu-context.ts';
import { WebGpuSession } from './session.ts';

export interface WebGpuBackendOptions {
  device?: GPUDevice;
  /** A `GPU` object to request the adapter from (default navigator.gpu), e.g. Dawn's in Node; kept alive with the backend (see GpuContextOptions.gpu). */
  gpu?: GPU;
  onLog?: GpuLog;
  /** See GpuContextOptions.pipelineCreation. */
  pipelineCreation?: 'async' | 'sync';
  /** See GpuContextOptions.maxWeightBindingBytes. */
  maxWeightBindingBytes?: number;
}

export interface WebGpuBackend extends Backend {
  readonly name: 'webgpu';
  readonly context: GpuContext;
  createSession(weights: ExportableWeights, options?: { maxContext?: number }): Promise<WebGpuSession>;
  /** Destroys the device (every session of this backend stops working). */
  destroy(): void;
}

export async function createWebGpuBackend(options: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
  const context = await createGpuContext(options);
  return {
    name: 'webgpu',
    context,
    async createSession(weights, sessionOptions = {}) {
      const maxContext = sessionOptions.maxContext ?? weights.spec.contextLength;
      if (!Number.isInteger(maxContext) || maxContext < 1)
        throw new ConfigError(`webgpu: maxContext ${maxContext} must be a positive integer`);
      return WebGpuSession.create(context, weights, maxContext);
    },
    destroy() {
      context.destroy();
    },
  };
}
