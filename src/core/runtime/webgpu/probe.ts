/**
 * Is there a real WebGPU adapter? Asked by the engine's backend choice and by the UI's
 * backend line, so it lives apart from the backends (importing it loads no kernels).
 */
export interface WebGpuProbe {
  /** A hardware adapter (not SwiftShader or another fallback). */
  real: boolean;
  adapter?: string;
  description: string;
}

/** Describes the WebGPU adapter `gpu` offers, or says why there is no real one. */
export async function probeWebGpu(gpu: GPU | undefined): Promise<WebGpuProbe> {
  if (!gpu) return { real: false, description: 'WebGPU is not available here' };
  const adapter = await gpu.requestAdapter().catch(() => null);
  if (!adapter) return { real: false, description: 'no WebGPU adapter' };
  const info = adapter.info;
  const fallback = (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false;
  const label = `${info.vendor || 'unknown vendor'} ${info.architecture || ''}`.trim();
  return fallback || info.architecture === 'swiftshader'
    ? { real: false, adapter: `${label} (fallback)`, description: `only a fallback WebGPU adapter (${label})` }
    : { real: true, adapter: label, description: `WebGPU adapter ${label}` };
}
