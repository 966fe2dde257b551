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
import { arenaTopAfter } from './arena.ts';
import { packedMatrixAllocations } from './layout.ts';
import { MAILBOX } from './threads.ts';

function matrixAllocations(t: ExportableTensor): number[] {
  const [n, k] = t.shape.length === 1 ? [1, t.shape[0]!] : [t.shape[0]!, t.shape[1]!];
  return packedMatrixAllocations(t.dtype, n, k);
}

/** packModel's allocations, in its order (layers: attention, then the MLP or the experts and shared expert; lmHead last). */
function* weightAllocations(weights: ExportableWeights): Generator<number> {
  for (const layer of weights.layers) {
    for (const t of [layer.wq, layer.wk, layer.wv, layer.wo]) yield* matrixAllocations(t);
    const mlps = [...(layer.mlp ? [layer.mlp] : []), ...(layer.moe?.experts ?? [])];
    if (layer.moe?.shared) mlps.push(layer.moe.shared);
    for (const m of mlps) for (const t of [m.gate, m.up, m.down]) yield* matrixAllocations(t);
  }
  yield* matrixAllocations(weights.lmHead ?? weights.embed);
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

/** Linear memory of a wasm session on `threads` threads (1: no pool): `weightBytes` after packing, `totalBytes` with the scratch and KV cache. */
export function wasmSessionBytes(
  weights: ExportableWeights,
  options: { maxContext: number; chunk: number; threads: number },
): { weightBytes: number; totalBytes: number } {
  const weightBytes = arenaTopAfter(weightAllocations(weights));
  const chunk = Math.min(options.chunk, options.maxContext);
  const state = stateAllocations(weights.spec, maxIntermediateOf(weights), chunk, options.maxContext, options.threads);
  const mailbox = options.threads > 1 ? [MAILBOX.SLOTS * 4] : []; // the thread pool's, between packing and the scratch
  const totalBytes = arenaTopAfter(state, arenaTopAfter(mailbox, weightBytes));
  return { weightBytes, totalBytes };
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
