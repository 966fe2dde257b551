/**
 * Where a model fits, said before it is loaded (stored models) or downloaded (hub listings):
 * its weights as the WASM backend packs them against wasm32's 4 GiB (the engine refuses
 * exactly, with the KV cache, before reading), and the GPU memory its weights take on WebGPU,
 * which splits tensors past the binding limit across buffers.
 */
import { whereItFits } from '../../core/runtime/where-it-fits.ts';
import { MAX_WASM_MEMORIES } from '../../core/runtime/wasm/memory-plan.ts';
import { formatBytes, formatParams } from '../format.ts';

/** "llama · 3.4M parameters · dense" (or "· 4 experts, 2 per token"): the first facts of a model line. */
export function shapeFacts(arch: string, params: number, experts?: number, expertsPerToken?: number): string[] {
  return [
    arch,
    `${formatParams(params)} parameters`,
    experts ? `${experts} experts, ${expertsPerToken} per token` : 'dense',
  ];
}

/** The Library's line on where a model runs; `engine` overrides this browser's features (tests). */
export function fitsText(params: number, dtype: string, engine?: { multiMemory: boolean }): string {
  const fit = whereItFits(params, dtype, engine);
  const gpu = `WebGPU: about ${formatBytes(fit.gpuBytes)} of GPU memory`;
  if (fit.wasmFits && fit.wasmMemories === 1)
    return `WASM in this tab: about ${formatBytes(fit.wasmBytes)} of weights in its 4 GiB · ${gpu}`;
  if (fit.wasmFits)
    return `WASM in this tab: about ${formatBytes(fit.wasmBytes)} of weights, past wasm32's 4 GiB, spread over ${fit.wasmMemories} memories (this tab needs that much free RAM) · ${gpu}`;
  const advice = dtype === 'q4_0' ? 'use WebGPU or the CLI' : 'store it quantized to q4_0, or use WebGPU';
  const limit =
    fit.wasmMemories <= MAX_WASM_MEMORIES
      ? "wasm32's 4 GiB, and this browser has no WebAssembly multi-memory to go past it"
      : `the ${MAX_WASM_MEMORIES} memories of 4 GiB a session may take`;
  return `Too big for WASM in a tab: about ${formatBytes(fit.wasmBytes)} of weights (${dtype}), past ${limit}: ${advice} · ${gpu}`;
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
