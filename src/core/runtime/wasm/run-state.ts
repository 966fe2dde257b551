/**
 * Activation buffers and the KV cache of one wasm session, all inside the session's arena,
 * sized for prefill chunks of up to `chunk` tokens. Each buffer is a pointer (for kernels)
 * plus an f32 view (for the JS steps); views are taken once, after the arena is frozen.
 */
import type { WasmArena } from './arena.ts';
import type { PackedModel } from './packed-model.ts';

/** A [rows, cols] f32 buffer in wasm memory. */
export interface F32Buffer {
  ptr: number; // byte offset
  cols: number;
  view: Float32Array; // [rows * cols]
}

export interface WasmRunState {
  chunk: number; // max tokens per forward chunk
  maxContext: number;
  x: F32Buffer; // [chunk, hidden]    residual stream
  xb: F32Buffer; // [chunk, hidden]    normed x
  out: F32Buffer; // [chunk, hidden]    attention / ffn output before the residual add
  q: F32Buffer; // [chunk, qDim]
  k: F32Buffer; // [chunk, kvDim]
  v: F32Buffer; // [chunk, kvDim]
  att: F32Buffer; // [chunk, qDim]      attention output (pre wo)
  hGate: F32Buffer; // [chunk, maxIntermediate]
  hUp: F32Buffer; // [chunk, maxIntermediate]
  xe: F32Buffer; // [chunk, hidden]    rows of xb gathered for one expert
  ye: F32Buffer; // [chunk, hidden]    that expert's outputs
  scores: F32Buffer; // [threads × heads, maxContext] attention scores: per thread, one scratch row per query head
  logits: F32Buffer; // [vocab]
  keyCache: F32Buffer[]; // [layers] × [maxContext, kvDim]
  valueCache: F32Buffer[]; // [layers] × [maxContext, kvDim]
  ropeCos: Float64Array; // [chunk, headDim / 2]  the chunk's rotations (JS only, f64 like the reference)
  ropeSin: Float64Array; // [chunk, headDim / 2]
  /** [chunk, slots, hidden] prefill MoE outputs per token and slot (JS only); grown on demand, kept across layers. */
  expertOut: Float32Array;
}

export function createRunState(
  arena: WasmArena,
  model: PackedModel,
  chunk: number,
  maxContext: number,
  threads = 1,
): WasmRunState {
  const s = model.spec;
  const qDim = s.heads * s.headDim;
  const kvDim = s.kvHeads * s.headDim;
  const pending: { buffer: F32Buffer; rows: number }[] = [];
  const buffer = (rows: number, cols: number, what: string): F32Buffer => {
    const b: F32Buffer = { ptr: arena.alloc(rows * cols * 4, what), cols, view: new Float32Array(0) };
    pending.push({ buffer: b, rows });
    return b;
  };
  const state: WasmRunState = {
    chunk,
    maxContext,
    x: buffer(chunk, s.hidden, 'x'),
    xb: buffer(chunk, s.hidden, 'xb'),
    out: buffer(chunk, s.hidden, 'out'),
    q: buffer(chunk, qDim, 'q'),
    k: buffer(chunk, kvDim, 'k'),
    v: buffer(chunk, kvDim, 'v'),
    att: buffer(chunk, qDim, 'att'),
    hGate: buffer(chunk, Math.max(1, model.maxIntermediate), 'hGate'),
    hUp: buffer(chunk, Math.max(1, model.maxIntermediate), 'hUp'),
    xe: buffer(chunk, s.hidden, 'xe'),
    ye: buffer(chunk, s.hidden, 'ye'),
    scores: buffer(threads * s.heads, maxContext, 'scores'),
    logits: buffer(1, s.vocab, 'logits'),
    keyCache: Array.from({ length: s.layers }, (_, l) => buffer(maxContext, kvDim, `key cache ${l}`)),
    valueCache: Array.from({ length: s.layers }, (_, l) => buffer(maxContext, kvDim, `value cache ${l}`)),
    ropeCos: new Float64Array(chunk * (s.headDim / 2)),
    ropeSin: new Float64Array(chunk * (s.headDim / 2)),
    expertOut: new Float32Array(0),
  };
  arena.freeze();
  for (const { buffer: b, rows } of pending) b.view = arena.f32(b.ptr, rows * b.cols);
  return state;
}

/** Row `row` of a buffer as a view: [cols]. */
export function rowView(buffer: F32Buffer, row: number, cols = buffer.cols): Float32Array {
  return buffer.view.subarray(row * buffer.cols, row * buffer.cols + cols);
}

/** Byte offset of element (row, col). */
export function rowPtr(buffer: F32Buffer, row: number, col = 0): number {
  return buffer.ptr + (row * buffer.cols + col) * 4;
}
