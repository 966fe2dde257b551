import { describe, expect, it } from 'vitest';

// A smoke test that the browser project really runs in Chromium with a WebGPU adapter.
// The adapter info is printed so every run records which GPU (here: SwiftShader) it used.
describe('webgpu adapter in headless chromium', () => {
  it('reports an adapter with its real limits', async () => {
    expect(navigator.gpu, 'navigator.gpu missing: not a secure context or WebGPU disabled').toBeDefined();
    const adapter = await navigator.gpu.requestAdapter();
    expect(adapter).not.toBeNull();
    const info = adapter!.info;
    console.log(
      'adapter',
      info.vendor,
      info.architecture,
      'fallback',
      (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter ?? info.isFallbackAdapter,
      'maxStorageBufferBindingSize',
      adapter!.limits.maxStorageBufferBindingSize,
    );
    expect(adapter!.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024);
  });
});
