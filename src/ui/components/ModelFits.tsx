/**
 * Where a model fits, said before it is loaded (stored models) or downloaded (hub listings):
 * its weights as the WASM backend packs them against wasm32's 4 GiB (the engine refuses
 * exactly, with the KV cache, before reading), and the GPU memory its weights take on WebGPU,
 * which splits tensors past the binding limit across buffers.
 */
import { whereItFits } from '../../core/runtime/where-it-fits.ts';
import { formatBytes, formatParams } from '../format.ts';

/** "llama · 3.4M parameters · dense" (or "· 4 experts, 2 per token"): the first facts of a model line. */
export function shapeFacts(arch: string, params: number, experts?: number, expertsPerToken?: number): string[] {
  return [
    arch,
    `${formatParams(params)} parameters`,
    experts ? `${experts} experts, ${expertsPerToken} per token` : 'dense',
  ];
}

export function fitsText(params: number, dtype: string): string {
  const fit = whereItFits(params, dtype);
  const gpu = `WebGPU: about ${formatBytes(fit.gpuBytes)} of GPU memory`;
  if (fit.wasmFits) return `WASM in this tab: about ${formatBytes(fit.wasmBytes)} of weights in its 4 GiB · ${gpu}`;
  const advice = dtype === 'q4_0' ? 'use WebGPU or the CLI' : 'store it quantized to q4_0, or use WebGPU';
  return `Too big for WASM in a tab: about ${formatBytes(fit.wasmBytes)} of weights (${dtype}), past wasm32's 4 GiB: ${advice} · ${gpu}`;
}

export function ModelFits({
  params,
  dtype,
  testId = 'model-fits',
}: {
  params: number;
  dtype: string;
  testId?: string;
}) {
  return (
    <div className="muted small" data-testid={testId}>
      {fitsText(params, dtype)}
    </div>
  );
}
