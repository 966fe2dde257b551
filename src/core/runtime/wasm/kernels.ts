/**
 * Instantiates the committed WASM SIMD kernels (kernels.wat → kernels-wasm.ts) on a given
 * memory and wraps each export with its shapes. Every pointer is a byte offset into that
 * memory; every buffer is f32 unless the comment says otherwise.
 */
import { BackendError } from '../../errors.ts';
import {
  KERNELS_WASM_BASE64,
  KERNELS_WASM_RELAXED_BASE64,
  KERNELS_WASM_RELAXED_SHARED_BASE64,
  KERNELS_WASM_SHARED_BASE64,
} from './kernels-wasm.ts';

export interface KernelExports {
  /** x [nBlocks*32] f32 → xq [nBlocks*32] i16, xs [nBlocks] f32 (per-block scale). */
  quantize_q16(x: number, xq: number, xs: number, nBlocks: number): void;
  /** x [nBlocks*32] f32 → xq [nBlocks*32] i8, xs [nBlocks] × {f32 scale, i32 8·Σq} (q4_0's activations). */
  quantize_q8x(x: number, xq: number, xs: number, nBlocks: number): void;
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
  /** Same for q4_0 (ggml's nibble bytes u8 [n, k/2], scales [n, k/32]) on q8x activations (quantize_q8x). */
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

/** How the q4_0 block dot runs: relaxed SIMD (pmaddubsw on x64) or plain SIMD (build-kernels.ts). */
export type U4Flavour = 'relaxed' | 'plain';

const BINARIES: Record<U4Flavour, { shared: string; unshared: string }> = {
  plain: { shared: KERNELS_WASM_SHARED_BASE64, unshared: KERNELS_WASM_BASE64 },
  relaxed: { shared: KERNELS_WASM_RELAXED_SHARED_BASE64, unshared: KERNELS_WASM_RELAXED_BASE64 },
};

let relaxedSupported: boolean | undefined;

/**
 * The q4_0 dot this engine runs: on relaxed SIMD where it validates (Chromium ≥ 114, Node ≥ 22;
 * Node 20 only behind --experimental-wasm-relaxed-simd), else on plain SIMD. Both give the
 * same bits (build-kernels.ts), so the choice changes speed only.
 */
export function preferredU4Flavour(): U4Flavour {
  if (relaxedSupported === undefined) {
    try {
      relaxedSupported = WebAssembly.validate(decodeBase64(KERNELS_WASM_RELAXED_BASE64) as BufferSource);
    } catch {
      relaxedSupported = false;
    }
  }
  return relaxedSupported ? 'relaxed' : 'plain';
}

const compiled = new Map<string, Promise<WebAssembly.Module>>();

/** Modules are immutable, so each build is compiled once per key and shared. */
function compileOnce(key: string, bytes: () => Uint8Array | Promise<Uint8Array>): Promise<WebAssembly.Module> {
  let module = compiled.get(key);
  if (!module) {
    module = Promise.resolve(bytes()).then((b) => WebAssembly.compile(b as BufferSource));
    compiled.set(key, module);
  }
  return module;
}

/** Compiles once per memory kind and flavour. */
export function compileKernels(
  shared: boolean,
  flavour: U4Flavour = preferredU4Flavour(),
): Promise<WebAssembly.Module> {
  const binaries = BINARIES[flavour];
  return compileOnce(`${shared}:${flavour}`, () => decodeBase64(shared ? binaries.shared : binaries.unshared));
}

/** True when this JS engine validates our SIMD module (Chromium ≥ 91, Node ≥ 16.4). */
export function wasmSimdSupported(): boolean {
  try {
    return WebAssembly.validate(decodeBase64(KERNELS_WASM_BASE64) as BufferSource);
  } catch {
    return false;
  }
}

/** The matmuls of a bank instance (kernels.wat's header): its weights in the bank's memory, x and y in the main one. */
export type BankKernelExports = Pick<KernelExports, 'matmul_q8' | 'matmul_q4' | 'matmul_f32'>;

type BankBinaries = typeof import('./kernels-bank-wasm.ts');
let bankBinaries: Promise<BankBinaries> | undefined;
/** The bank builds live in their own module, fetched only by a session that needs a second memory. */
function loadBankBinaries(): Promise<BankBinaries> {
  bankBinaries ??= import('./kernels-bank-wasm.ts');
  return bankBinaries;
}

/** Compiles the bank build once per memory kind and flavour (see compileKernels). */
export function compileBankKernels(
  shared: boolean,
  flavour: U4Flavour = preferredU4Flavour(),
): Promise<WebAssembly.Module> {
  return compileOnce(`bank:${shared}:${flavour}`, async () => {
    const b = await loadBankBinaries();
    const binaries = {
      plain: { shared: b.BANK_KERNELS_WASM_SHARED_BASE64, unshared: b.BANK_KERNELS_WASM_BASE64 },
      relaxed: { shared: b.BANK_KERNELS_WASM_RELAXED_SHARED_BASE64, unshared: b.BANK_KERNELS_WASM_RELAXED_BASE64 },
    }[flavour];
    return decodeBase64(shared ? binaries.shared : binaries.unshared);
  });
}

/** One bank instance: the matmuls over `weights`, with activations in `memory`. */
export async function instantiateBankKernels(
  module: WebAssembly.Module,
  memory: WebAssembly.Memory,
  weights: WebAssembly.Memory,
): Promise<BankKernelExports> {
  const instance = await WebAssembly.instantiate(module, { env: { memory, weights } });
  return instance.exports as unknown as BankKernelExports;
}

export async function instantiateKernels(
  memory: WebAssembly.Memory,
  shared: boolean,
  flavour: U4Flavour = preferredU4Flavour(),
): Promise<KernelExports> {
  if (!wasmSimdSupported()) throw new BackendError('wasm: this engine does not support WebAssembly SIMD');
  const module = await compileKernels(shared, flavour);
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
