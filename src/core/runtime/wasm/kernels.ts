/**
 * Instantiates the committed WASM SIMD kernels (kernels.wat → kernels-wasm.ts) on a given
 * memory and wraps each export with its shapes. Every pointer is a byte offset into that
 * memory; every buffer is f32 unless the comment says otherwise.
 */
import { BackendError } from '../../errors.ts';
import { KERNELS_WASM_BASE64, KERNELS_WASM_SHARED_BASE64 } from './kernels-wasm.ts';

export interface KernelExports {
  /** x [nBlocks*32] f32 → xq [nBlocks*32] i16, xs [nBlocks] f32 (per-block scale). */
  quantize_q16(x: number, xq: number, xs: number, nBlocks: number): void;
  /** y [m, n] = W [n, k] · x [m, k]ᵀ for rows [rowStart, rowEnd); W q8_0 repacked (quants i8 [n,k], scales [n,k/32]). */
  matmul_q8(
    w: number,
    ws: number,
    xq: number,
    xs: number,
    y: number,
    k: number,
    n: number,
    m: number,
    rowStart: number,
    rowEnd: number,
  ): void;
  /** Same for q4_0 (nibbles u8 [n, k/2], scales [n, k/32]). */
  matmul_q4(
    w: number,
    ws: number,
    xq: number,
    xs: number,
    y: number,
    k: number,
    n: number,
    m: number,
    rowStart: number,
    rowEnd: number,
  ): void;
  /** y [m, n] = W [n, k] · x [m, k]ᵀ, all f32, any k. */
  matmul_f32(w: number, x: number, y: number, k: number, n: number, m: number, rowStart: number, rowEnd: number): void;
  /** scores [nPos] = scale · q [headDim] · key row t (rows every kvStride bytes). */
  attn_scores(
    q: number,
    key: number,
    kvStride: number,
    headDim: number,
    nPos: number,
    scores: number,
    scale: number,
  ): void;
  /** out [headDim] = Σ_t probs[t] · value row t. */
  attn_mix(probs: number, value: number, kvStride: number, headDim: number, nPos: number, out: number): void;
  /**
   * Attention of one token, query heads [hStart, hEnd): out [heads, headDim] from q [heads, headDim]
   * over the first nPos rows of the layer's key/value cache; head h's scratch is scores + h · scoreStride
   * bytes (≥ nPos f32). dims = attnHeadsDims(...).
   */
  attn_heads(
    q: number,
    key: number,
    value: number,
    out: number,
    scores: number,
    dims: number,
    nPos: number,
    scoreStride: number,
    hStart: number,
    hEnd: number,
  ): void;
  /** out [n] = silu(gate [n]) · up [n] in f32 (expf to ≤ 2 ulp); out may alias gate. */
  swiglu(gate: number, up: number, out: number, n: number): void;
}

function decodeBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

const compiled = new Map<boolean, Promise<WebAssembly.Module>>();

/** Compiles once per flavour (shared / plain memory); modules are immutable, so caching is safe. */
export function compileKernels(shared: boolean): Promise<WebAssembly.Module> {
  let module = compiled.get(shared);
  if (!module) {
    module = WebAssembly.compile(
      decodeBase64(shared ? KERNELS_WASM_SHARED_BASE64 : KERNELS_WASM_BASE64) as BufferSource,
    );
    compiled.set(shared, module);
  }
  return module;
}

/** True when this JS engine validates our SIMD module (Chromium ≥ 91, Node ≥ 16.4). */
export function wasmSimdSupported(): boolean {
  try {
    return WebAssembly.validate(decodeBase64(KERNELS_WASM_BASE64) as BufferSource);
  } catch {
    return false;
  }
}

export async function instantiateKernels(memory: WebAssembly.Memory, shared: boolean): Promise<KernelExports> {
  if (!wasmSimdSupported()) throw new BackendError('wasm: this engine does not support WebAssembly SIMD');
  const module = await compileKernels(shared);
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  return instance.exports as unknown as KernelExports;
}

/** attn_heads' packed `dims` argument: headDim < 4096, headsPerKv and kvHeads < 1024. */
export function attnHeadsDims(headDim: number, headsPerKv: number, kvHeads: number): number {
  if (!Number.isInteger(headsPerKv) || headDim >= 4096 || headsPerKv >= 1024 || kvHeads >= 1024) {
    throw new BackendError(
      `wasm: attention dims headDim ${headDim}, heads per kv ${headsPerKv}, kv heads ${kvHeads} exceed the kernel's packing`,
    );
  }
  return headDim | (headsPerKv << 12) | (kvHeads << 22);
}
