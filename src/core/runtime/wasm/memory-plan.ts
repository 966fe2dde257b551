/**
 * wasmSessionBytes: the linear memory a wasm session of `weights` will need, from shapes and
 * dtypes alone (no tensor is read), so a model that cannot fit wasm32's 4 GiB is refused
 * before loading instead of failing after gigabytes were read. Weights are exact (the same
 * allocations packModel makes, in its order, with the arena's rounding); the activations,
 * the matmul scratch and the KV cache follow createRunState's and WasmMatmul's buffers
 * (a test checks both against real sessions, byte for byte).
 */
import type { ModelSpec } from '../../model/spec.ts';
import type { ExportableTensor, ExportableWeights } from '../../model/weights.ts';
import { ALIGN, arenaTopAfter, WASM32_MAX_BYTES } from './arena.ts';
import { packedMatrixAllocations } from './layout.ts';
import { MAILBOX } from './threads.ts';

function matrixAllocations(t: ExportableTensor): number[] {
  const [n, k] = t.shape.length === 1 ? [1, t.shape[0]!] : [t.shape[0]!, t.shape[1]!];
  return packedMatrixAllocations(t.dtype, n, k);
}

/** packModel's matrices' allocations, one list per matrix, in its order (layers: attention, then the MLP or the experts and shared expert; lmHead last). */
function* matrixAllocationLists(weights: ExportableWeights): Generator<number[]> {
  for (const layer of weights.layers) {
    for (const t of [layer.wq, layer.wk, layer.wv, layer.wo]) yield matrixAllocations(t);
    const mlps = [...(layer.mlp ? [layer.mlp] : []), ...(layer.moe?.experts ?? [])];
    if (layer.moe?.shared) mlps.push(layer.moe.shared);
    for (const m of mlps) for (const t of [m.gate, m.up, m.down]) yield matrixAllocations(t);
  }
  yield matrixAllocations(weights.lmHead ?? weights.embed);
}

function* weightAllocations(weights: ExportableWeights): Generator<number> {
  for (const list of matrixAllocationLists(weights)) yield* list;
}

function maxIntermediateOf(weights: ExportableWeights): number {
  let widest = 0;
  for (const layer of weights.layers) {
    const mlps = [...(layer.mlp ? [layer.mlp] : []), ...(layer.moe?.experts ?? [])];
    if (layer.moe?.shared) mlps.push(layer.moe.shared);
    for (const m of mlps) widest = Math.max(widest, m.gate.shape[0]!);
  }
  return widest;
}

/** WasmMatmul's activation scratch, then createRunState's buffers (f32 [rows, cols] each), in allocation order. */
function* stateAllocations(
  spec: ModelSpec,
  maxIntermediate: number,
  chunk: number,
  maxContext: number,
  threads: number,
) {
  const qDim = spec.heads * spec.headDim;
  const kvDim = spec.kvHeads * spec.headDim;
  const blocks = chunk * Math.ceil(Math.max(spec.hidden, qDim, maxIntermediate) / 32);
  yield blocks * 64; // q16 activations
  yield blocks * 4; // q16 scales
  yield blocks * 32; // q8x activations
  yield blocks * 8; // q8x scales and sums
  const hidden = spec.hidden;
  const inter = Math.max(1, maxIntermediate);
  for (const cols of [hidden, hidden, hidden, qDim, kvDim, kvDim, qDim, inter, inter, hidden, hidden])
    yield chunk * cols * 4;
  yield threads * spec.heads * maxContext * 4; // scores
  yield spec.vocab * 4; // logits
  for (let i = 0; i < 2 * spec.layers; i++) yield maxContext * kvDim * 4; // key and value caches
}

type SessionShape = { maxContext: number; chunk: number; threads: number };

/** The main memory's allocations after the weights: the pool's mailbox (between packing and the scratch), then the scratch and KV cache. */
function* afterWeights(weights: ExportableWeights, options: SessionShape): Generator<number> {
  if (options.threads > 1) yield MAILBOX.SLOTS * 4;
  const chunk = Math.min(options.chunk, options.maxContext);
  yield* stateAllocations(weights.spec, maxIntermediateOf(weights), chunk, options.maxContext, options.threads);
}

/** Linear memory of a wasm session on `threads` threads (1: no pool): `weightBytes` after packing, `totalBytes` with the scratch and KV cache. */
export function wasmSessionBytes(
  weights: ExportableWeights,
  options: SessionShape,
): { weightBytes: number; totalBytes: number } {
  const weightBytes = arenaTopAfter(weightAllocations(weights));
  const totalBytes = arenaTopAfter(afterWeights(weights, options), weightBytes);
  return { weightBytes, totalBytes };
}

/**
 * The most linear memories one session may spread over (main + weight banks): 16 GiB, four
 * times wasm32's limit, which is more than a tab can hold beside the page on most machines.
 */
export const MAX_WASM_MEMORIES = 4;

/** Where a session's bytes go when they pass one memory (createWasmBackend sizes each memory from it). */
export interface WasmMemoryPlan {
  /** Bytes of each memory, each ≤ the per-memory limit: [main (weights that fit, then scratch and KV cache), bank 1, …]. */
  memoryBytes: number[];
  /** The memory of each matrix packModel packs, in its order (0: main). */
  placement: number[];
  /** All weight bytes, every memory's weight part (as wasmSessionBytes' weightBytes when one memory holds them). */
  weightBytes: number;
  /** All bytes, every memory. */
  totalBytes: number;
}

/**
 * The session's memories: one while everything fits `limitBytes` (the layout of
 * wasmSessionBytes, byte for byte), else the main memory keeps room for the scratch and KV
 * cache and takes matrices in pack order while they fit, and the rest go, in the same order,
 * to weight banks of up to `limitBytes` each (a matrix's quants and scales share a memory,
 * since a bank instance's matmul reads both from its own). Undefined when a single matrix,
 * or the main memory's scratch alone, passes the limit.
 */
export function planWasmMemories(
  weights: ExportableWeights,
  options: SessionShape,
  limitBytes = WASM32_MAX_BYTES,
): WasmMemoryPlan | undefined {
  const lists = [...matrixAllocationLists(weights)];
  const single = wasmSessionBytes(weights, options);
  if (single.totalBytes <= limitBytes) {
    return { memoryBytes: [single.totalBytes], placement: lists.map(() => 0), ...single };
  }
  // The scratch starts wherever the main memory's weights end; at most ALIGN bytes of rounding ride on that.
  const mainReserve = arenaTopAfter(afterWeights(weights, options), ALIGN) + ALIGN;
  const tops = [ALIGN]; // an arena keeps its first ALIGN bytes as a null pointer
  const placement: number[] = [];
  for (const list of lists) {
    let memory = tops.length - 1;
    const cap = () => (memory === 0 ? limitBytes - mainReserve : limitBytes);
    let top = arenaTopAfter(list, tops[memory]);
    if (top > cap()) {
      memory = tops.length;
      tops.push(ALIGN);
      top = arenaTopAfter(list, ALIGN);
      if (top > cap()) return undefined;
    }
    tops[memory] = top;
    placement.push(memory);
  }
  const mainBytes = arenaTopAfter(afterWeights(weights, options), tops[0]);
  if (mainBytes > limitBytes) return undefined;
  const memoryBytes = [mainBytes, ...tops.slice(1)];
  const weightBytes = tops.reduce((sum, top) => sum + top, 0);
  return { memoryBytes, placement, weightBytes, totalBytes: memoryBytes.reduce((a, b) => a + b, 0) };
}

/**
 * Bytes per weight a wasm session packs `dtype` into (packMatrix's allocations: q8_0 and q4_0
 * keep their quants with an f32 scale per 32, every other dtype widens to f32), for a model
 * known only by its summary (parameters and dtype, e.g. in the Library before loading).
 */
export function wasmBytesPerParam(dtype: string): number {
  const packed = dtype === 'q8_0' || dtype === 'q4_0' ? dtype : 'f32';
  return packedMatrixAllocations(packed, 1, 32).reduce((a, b) => a + b, 0) / 32;
}
