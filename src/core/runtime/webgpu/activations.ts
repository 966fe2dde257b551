/**
 * Per-session GPU activation buffers and the KV cache. Prefill runs in chunks of at most
 * `chunkTokens` tokens so scratch buffers stay bounded whatever the prompt length.
 */
import { BUFFER_USAGE } from './gpu-constants.ts';
import type { ModelSpec } from '../../model/spec.ts';
import type { GpuContext } from './gpu-context.ts';
import { routeRecordWords } from './kernels/router.ts';
import { moeGroupsWords } from './kernels/moe-grouped.ts';
import { ropeTable } from './kernels/rope.ts';
import { uploadBuffer } from './dispatch.ts';

/** Most tokens per prefill chunk. */
export const MAX_CHUNK_TOKENS = 64;
/** Cap on the attention score scratch [chunkTokens, heads, maxContext] (bounds chunkTokens). */
export const MAX_SCORE_SCRATCH_BYTES = 64 * 1024 * 1024;

export interface Activations {
  chunkTokens: number;
  tokenIds: GPUBuffer; // [chunk] u32
  x: GPUBuffer; // [chunk, hidden]  residual stream
  xb: GPUBuffer; // [chunk, hidden]  normed x
  q: GPUBuffer; // [chunk, heads*headDim]
  attnOut: GPUBuffer; // [chunk, heads*headDim]
  scores: GPUBuffer; // [chunk, heads, maxContext]
  keyCache: GPUBuffer[]; // [layers] × [maxContext, kvHeads*headDim]
  valueCache: GPUBuffer[]; // [layers] × [maxContext, kvHeads*headDim]
  gate: GPUBuffer; // [chunk, intermediate]   dense MLP
  up: GPUBuffer; // [chunk, intermediate]
  h: GPUBuffer; // [chunk, experts, expertIntermediate] (or [chunk, sharedIntermediate])
  routerLogits: GPUBuffer; // [chunk, experts]
  route: GPUBuffer; // [chunk, layers, routeRecordWords(experts, experts)] routing records
  groups: GPUBuffer; // [experts] counts + [experts, chunk] assignment lists (prefill)
  yExpert: GPUBuffer; // [chunk*experts, hidden] weighted expert outputs (prefill)
  logits: GPUBuffer; // [vocab]
  ropeTable: GPUBuffer; // [maxContext, headDim/2, 2]
  empty: GPUBuffer; // 16 bytes bound where a kernel's optional input is absent
  kvBytes: number;
  bytes: number;
  all: GPUBuffer[];
}

export function createActivations(context: GpuContext, spec: ModelSpec, maxContext: number): Activations {
  const { hidden, heads, kvHeads, headDim, layers, vocab } = spec;
  const qDim = heads * headDim;
  const kvDim = kvHeads * headDim;
  const experts = spec.moe?.experts ?? 0;
  const scoreBytesPerToken = heads * maxContext * 4;
  const chunkTokens = Math.max(
    1,
    Math.min(MAX_CHUNK_TOKENS, maxContext, Math.floor(MAX_SCORE_SCRATCH_BYTES / scoreBytesPerToken)),
  );
  const all: GPUBuffer[] = [];
  let bytes = 0;
  const usage = BUFFER_USAGE.STORAGE | BUFFER_USAGE.COPY_SRC | BUFFER_USAGE.COPY_DST;
  const make = (label: string, floats: number): GPUBuffer => {
    const buffer = context.createBuffer(label, Math.max(4, floats * 4), usage);
    all.push(buffer);
    bytes += buffer.size;
    return buffer;
  };
  const hWidth = Math.max(experts * (spec.moe?.expertIntermediate ?? 0), spec.moe?.sharedExpert?.intermediate ?? 0);
  const keyCache = Array.from({ length: layers }, (_, l) => make(`keyCache.${l}`, maxContext * kvDim));
  const valueCache = Array.from({ length: layers }, (_, l) => make(`valueCache.${l}`, maxContext * kvDim));
  const kvBytes = bytes;
  const table = uploadBuffer(context, 'ropeTable', ropeTable(maxContext, headDim, spec.ropeTheta, spec.ropeScaling));
  all.push(table);
  bytes += table.size;
  return {
    chunkTokens,
    tokenIds: make('tokenIds', chunkTokens),
    x: make('x', chunkTokens * hidden),
    xb: make('xb', chunkTokens * hidden),
    q: make('q', chunkTokens * qDim),
    attnOut: make('attnOut', chunkTokens * qDim),
    scores: make('scores', chunkTokens * heads * maxContext),
    keyCache,
    valueCache,
    gate: make('gate', spec.moe ? 1 : chunkTokens * spec.intermediate),
    up: make('up', spec.moe ? 1 : chunkTokens * spec.intermediate),
    h: make('h', chunkTokens * Math.max(1, hWidth)),
    routerLogits: make('routerLogits', Math.max(1, chunkTokens * experts)),
    route: make('route', Math.max(1, chunkTokens * layers * routeRecordWords(experts, experts))),
    groups: make('groups', Math.max(1, moeGroupsWords(experts, chunkTokens))),
    yExpert: make('yExpert', Math.max(1, chunkTokens * experts * hidden)),
    logits: make('logits', vocab),
    ropeTable: table,
    empty: make('empty', 4),
    kvBytes,
    get bytes() {
      return bytes;
    },
    all,
  };
}

export function destroyActivations(context: GpuContext, a: Activations): void {
  for (const b of a.all) context.destroyBuffer(b);
}
