/**
 * uploadModel checks every buffer it will make against the device's real
 * maxStorageBufferBindingSize before reading any tensor: a model with one tensor past it is
 * refused naming the tensor and the limit, and none of its (unreadable) tensors is read.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyDenseSpec } from '../../model/random.ts';
import { unreadableWeights } from '../../model/unreadable.testing.ts';
import { createWebGpuBackend, type WebGpuBackend } from './backend.ts';

let backend: WebGpuBackend;
beforeAll(async () => {
  backend = await createWebGpuBackend({ onLog: (m) => console.log(m) });
});
afterAll(() => backend?.destroy());

describe('webgpu binding limits', () => {
  it('refuses an embedding past maxStorageBufferBindingSize before reading any tensor', async () => {
    const limit = backend.context.limits.maxStorageBufferBindingSize;
    const hidden = 64;
    const spec = tinyDenseSpec({
      hidden,
      heads: 4,
      kvHeads: 2,
      headDim: 16,
      vocab: Math.floor(limit / (4 * hidden)) + 1,
    });
    await expect(backend.createSession(unreadableWeights(spec, 'f32'), { maxContext: 8 })).rejects.toThrow(
      new RegExp(
        `^webgpu: tensor 'model\\.embed_tokens\\.weight' needs \\d+ bytes > maxStorageBufferBindingSize ${limit}$`,
      ),
    );
  });
});
