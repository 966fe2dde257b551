/**
 * Where a model fits, from its parameter count and weight dtype alone (before a download or a
 * load): its weights as the WASM backend packs them against wasm32's 4 GiB (or, where the
 * engine has multi-memory, against the MAX_WASM_MEMORIES memories of 4 GiB a session may
 * spread over: memory-plan.ts planWasmMemories), and its weights
 * on a WebGPU device, which holds the stored dtype and splits tensors past the binding limit
 * across buffers (webgpu/upload.ts), so only the GPU's memory bounds it. A page cannot read
 * the GPU's memory size, so that need is stated, not judged.
 */
import { DTYPE_TRAITS, isDType } from '../quant/dtype-traits.ts';
import { WASM32_MAX_BYTES } from './wasm/arena.ts';
import { MAX_WASM_MEMORIES, wasmBytesPerParam } from './wasm/memory-plan.ts';
import { wasmMultiMemorySupported } from './wasm/multi-memory.ts';

export interface WhereItFits {
  /** Bytes of weights in the WASM backend's layout (q8_0/q4_0 kept, every other dtype f32). */
  wasmBytes: number;
  /** The 4 GiB memories those weights take at least (1: one wasm32 memory; more: weight banks). */
  wasmMemories: number;
  /** wasmMemories ≤ what this engine can give a session: 1, or MAX_WASM_MEMORIES with multi-memory (the engine refuses exactly, with the KV cache, before reading). */
  wasmFits: boolean;
  /** Bytes of weights on a WebGPU device (the dtype as stored). */
  gpuBytes: number;
}

export function whereItFits(
  params: number,
  dtype: string,
  { multiMemory = wasmMultiMemorySupported() }: { multiMemory?: boolean } = {},
): WhereItFits {
  const wasmBytes = params * wasmBytesPerParam(dtype);
  const traits = isDType(dtype) ? DTYPE_TRAITS[dtype] : DTYPE_TRAITS.f32;
  const wasmMemories = Math.max(1, Math.ceil(wasmBytes / WASM32_MAX_BYTES));
  return {
    wasmBytes,
    wasmMemories,
    wasmFits: wasmMemories <= (multiMemory ? MAX_WASM_MEMORIES : 1),
    gpuBytes: (params * traits.bytesPerBlock) / traits.blockSize,
  };
}
