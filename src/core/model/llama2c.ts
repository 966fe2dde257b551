/**
 * llama2.c "legacy" (version 0) checkpoints → ModelWeights (karpathy/llama2.c, run.c).
 *
 * Byte layout, all little-endian:
 *
 *   header  int32 × 7: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
 *           vocab_size > 0: the classifier is the token embedding (tied, no wcls);
 *           vocab_size < 0: |vocab_size| tokens and a separate wcls at the end.
 *   then float32 tensors, row-major, matrices [out, in] (run.c computes W·x):
 *     token_embedding_table [vocab, dim]
 *     rms_att_weight        [layers, dim]
 *     wq                    [layers, dim, dim]           (n_heads · head_size = dim)
 *     wk                    [layers, kv_dim, dim]        kv_dim = dim · n_kv_heads / n_heads
 *     wv                    [layers, kv_dim, dim]
 *     wo                    [layers, dim, dim]
 *     rms_ffn_weight        [layers, dim]
 *     w1                    [layers, hidden_dim, dim]    gate
 *     w2                    [layers, dim, hidden_dim]    down
 *     w3                    [layers, hidden_dim, dim]    up
 *     rms_final_weight      [dim]
 *     freq_cis_real         [seq_len, head_size/2]       legacy RoPE tables, unused
 *     freq_cis_imag         [seq_len, head_size/2]       legacy RoPE tables, unused
 *     wcls                  [vocab, dim]                 only when vocab_size < 0
 *
 * Version 1 (export.py `version1_export`, f32 with a header) is read too:
 *
 *   header  256 bytes: uint32 magic 0x616b3432 ("ak42"), int32 version = 1, the same 7 int32
 *           fields (vocab_size positive), uint8 shared_classifier, zero padding
 *   then float32 tensors: rms_att_weight [layers, dim], rms_ffn_weight [layers, dim],
 *           rms_final_weight [dim], token_embedding_table, wq, wk, wv, wo, w1, w2, w3
 *           (shapes as above; no RoPE tables), then wcls only when shared_classifier is 0.
 *
 * Version 2 (llama2.c's own int8 groups, runq.c) is refused with a FormatError.
 * RoPE pairs adjacent dims (2i, 2i+1): ropeStyle 'interleaved', theta 10000; RMSNorm eps 1e-5.
 */
import { FormatError } from '../errors.ts';
import type { ByteSource } from '../io/byte-source.ts';
import type { RawTensor } from '../tensor.ts';
import type { ModelSpec } from './spec.ts';
import { checkSpecLimits } from './spec-limits.ts';
import { checkTensorValues } from './check-values.ts';

/** The header field behind each ModelSpec field, for checkSpecLimits' messages. */
const LLAMA2C_FIELD_NAMES = {
  hidden: 'dim',
  intermediate: 'hidden_dim',
  layers: 'n_layers',
  heads: 'n_heads',
  kvHeads: 'n_kv_heads',
  vocab: 'vocab_size',
  contextLength: 'seq_len',
};
import type { LayerWeights, ModelWeights } from './weights.ts';

const HEADER_FIELDS = ['dim', 'hidden_dim', 'n_layers', 'n_heads', 'n_kv_heads', 'vocab_size', 'seq_len'] as const;
type HeaderField = (typeof HEADER_FIELDS)[number];
const LEGACY_HEADER_BYTES = HEADER_FIELDS.length * 4;
/** "ak42" as a little-endian uint32: the magic of llama2.c's export versions 1 and 2. */
const AK42_MAGIC = 0x616b3432;
const V1_HEADER_BYTES = 256;
const V1_FIELDS_OFFSET = 8;
const V1_SHARED_CLASSIFIER_OFFSET = V1_FIELDS_OFFSET + HEADER_FIELDS.length * 4;

/**
 * Caps on header fields, each with its reason: values past them are corrupt files, and
 * checking first keeps a bad header from asking for a huge allocation.
 */
const HEADER_LIMITS: Record<HeaderField, number> = {
  dim: 65536, // larger than any released llama (8192)
  hidden_dim: 262144, // 4 × the dim cap
  n_layers: 1024, // larger than any released llama (126)
  n_heads: 1024,
  n_kv_heads: 1024,
  vocab_size: 1 << 20, // 1M tokens; abs value (negative = untied)
  seq_len: 1 << 20, // 1M positions
};

export type Llama2cHeader = Record<HeaderField, number>;

interface ParsedHeader {
  header: Llama2cHeader; // vocab_size < 0 ⇔ untied classifier, in every version
  version: 0 | 1;
  headerBytes: number;
}

function readHeader(bytes: Uint8Array, name: string): ParsedHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== AK42_MAGIC) {
    return { header: readFields(view, 0, name), version: 0, headerBytes: LEGACY_HEADER_BYTES };
  }
  const version = view.getInt32(4, true);
  if (version !== 1) {
    throw new FormatError(
      `llama2c: ${name} has magic "ak42" with version ${version}; only the legacy format and version 1 (f32) are supported`,
    );
  }
  if (bytes.byteLength < V1_HEADER_BYTES) {
    throw new FormatError(
      `llama2c: ${name} has ${bytes.byteLength} bytes, less than the ${V1_HEADER_BYTES}-byte version-1 header`,
    );
  }
  const header = readFields(view, V1_FIELDS_OFFSET, name);
  if (header.vocab_size < 0)
    throw new FormatError(`llama2c: ${name} version-1 header field vocab_size = ${header.vocab_size} must be positive`);
  const shared = view.getUint8(V1_SHARED_CLASSIFIER_OFFSET);
  if (shared > 1)
    throw new FormatError(`llama2c: ${name} version-1 header field shared_classifier = ${shared} must be 0 or 1`);
  if (!shared) header.vocab_size = -header.vocab_size;
  return { header, version: 1, headerBytes: V1_HEADER_BYTES };
}

function readFields(view: DataView, offset: number, name: string): Llama2cHeader {
  const header = {} as Llama2cHeader;
  HEADER_FIELDS.forEach((field, i) => {
    const value = view.getInt32(offset + i * 4, true);
    const magnitude = field === 'vocab_size' ? Math.abs(value) : value;
    if (magnitude < 1 || magnitude > HEADER_LIMITS[field]) {
      throw new FormatError(
        `llama2c: ${name} header field ${field} = ${value} is outside [1, ${HEADER_LIMITS[field]}]`,
      );
    }
    header[field] = value;
  });
  const { dim, n_heads, n_kv_heads } = header;
  if (dim % n_heads !== 0) throw new FormatError(`llama2c: ${name} dim ${dim} is not a multiple of n_heads ${n_heads}`);
  if (n_heads % n_kv_heads !== 0)
    throw new FormatError(`llama2c: ${name} n_heads ${n_heads} is not a multiple of n_kv_heads ${n_kv_heads}`);
  if ((dim / n_heads) % 2 !== 0)
    throw new FormatError(`llama2c: ${name} head size ${dim / n_heads} must be even for RoPE`);
  return header;
}

/** The tensors in file order, with their shapes (row-major, [out, in]). */
function tensorLayout(h: Llama2cHeader, version: 0 | 1): { field: string; shape: number[] }[] {
  const vocab = Math.abs(h.vocab_size);
  const headSize = h.dim / h.n_heads;
  const kvDim = (h.dim * h.n_kv_heads) / h.n_heads;
  const L = h.n_layers;
  let layout = [
    { field: 'token_embedding_table', shape: [vocab, h.dim] },
    { field: 'rms_att_weight', shape: [L, h.dim] },
    { field: 'wq', shape: [L, h.dim, h.dim] },
    { field: 'wk', shape: [L, kvDim, h.dim] },
    { field: 'wv', shape: [L, kvDim, h.dim] },
    { field: 'wo', shape: [L, h.dim, h.dim] },
    { field: 'rms_ffn_weight', shape: [L, h.dim] },
    { field: 'w1', shape: [L, h.hidden_dim, h.dim] },
    { field: 'w2', shape: [L, h.dim, h.hidden_dim] },
    { field: 'w3', shape: [L, h.hidden_dim, h.dim] },
    { field: 'rms_final_weight', shape: [h.dim] },
    { field: 'freq_cis_real', shape: [h.seq_len, headSize / 2] },
    { field: 'freq_cis_imag', shape: [h.seq_len, headSize / 2] },
  ];
  if (version === 1) {
    const shapeOf = (field: string) => layout.find((t) => t.field === field)!.shape;
    const V1_ORDER = [
      'rms_att_weight',
      'rms_ffn_weight',
      'rms_final_weight',
      'token_embedding_table',
      'wq',
      'wk',
      'wv',
      'wo',
      'w1',
      'w2',
      'w3',
    ];
    layout = V1_ORDER.map((field) => ({ field, shape: shapeOf(field) }));
  }
  if (h.vocab_size < 0) layout.push({ field: 'wcls', shape: [vocab, h.dim] });
  return layout;
}

export function llama2cSpec(h: Llama2cHeader): ModelSpec {
  return {
    arch: 'llama',
    hidden: h.dim,
    intermediate: h.hidden_dim,
    layers: h.n_layers,
    heads: h.n_heads,
    kvHeads: h.n_kv_heads,
    headDim: h.dim / h.n_heads,
    vocab: Math.abs(h.vocab_size),
    contextLength: h.seq_len,
    ropeTheta: 10000,
    rmsEps: 1e-5,
    tieEmbeddings: h.vocab_size > 0,
    qkvBias: false,
    ropeStyle: 'interleaved',
    bosTokenId: 1,
    eosTokenIds: [2],
  };
}

/** Slices `count` f32 values at float index `at` of a stacked tensor into a RawTensor. */
function f32Slice(floats: Uint8Array, name: string, shape: number[], atFloat: number): RawTensor {
  const count = shape.reduce((a, b) => a * b, 1);
  return { name, dtype: 'f32', shape, data: floats.subarray(atFloat * 4, (atFloat + count) * 4) };
}

/** Reads a legacy llama2.c checkpoint. Throws FormatError naming the field on any mismatch. */
export async function loadLlama2cCheckpoint(src: ByteSource): Promise<ModelWeights> {
  if (src.size < LEGACY_HEADER_BYTES) {
    throw new FormatError(
      `llama2c: ${src.name} has ${src.size} bytes, less than the ${LEGACY_HEADER_BYTES}-byte header`,
    );
  }
  const { header, version, headerBytes } = readHeader(await src.read(0, Math.min(src.size, V1_HEADER_BYTES)), src.name);
  const layout = tensorLayout(header, version);
  const offsets = new Map<string, number>(); // field → float index in the body
  let floats = 0;
  for (const t of layout) {
    offsets.set(t.field, floats);
    floats += t.shape.reduce((a, b) => a * b, 1);
  }
  const expected = headerBytes + floats * 4; // ≤ 2^53: every factor is capped above
  if (src.size !== expected) {
    const which = src.size < expected ? 'truncated' : 'longer than its header says';
    throw new FormatError(
      `llama2c: ${src.name} (version ${version}) is ${which}: ${src.size} bytes, header (${HEADER_FIELDS.map((f) => `${f}=${header[f]}`).join(', ')}) needs ${expected}`,
    );
  }
  // Tensors are views on the body; copy only if it is not 4-aligned (f32 views need it).
  const read = await src.read(headerBytes, floats * 4);
  const body = read.byteOffset % 4 === 0 ? read : read.slice();
  checkTensorValues({ name: 'weights (body)', dtype: 'f32', shape: [floats], data: body }, `llama2c: ${src.name}`);
  const spec = llama2cSpec(header);
  checkSpecLimits(spec, LLAMA2C_FIELD_NAMES, (message) => {
    throw new FormatError(`llama2c: ${src.name}: ${message}`);
  });
  const { dim, hidden_dim: hiddenDim, n_layers: nLayers } = header;
  const kvDim = spec.kvHeads * spec.headDim;
  const at = (field: string) => offsets.get(field)!;
  const layers: LayerWeights[] = [];
  for (let l = 0; l < nLayers; l++) {
    const p = `layers.${l}`;
    layers.push({
      attnNorm: f32Slice(body, `${p}.rms_att_weight`, [dim], at('rms_att_weight') + l * dim),
      wq: f32Slice(body, `${p}.wq`, [dim, dim], at('wq') + l * dim * dim),
      wk: f32Slice(body, `${p}.wk`, [kvDim, dim], at('wk') + l * kvDim * dim),
      wv: f32Slice(body, `${p}.wv`, [kvDim, dim], at('wv') + l * kvDim * dim),
      wo: f32Slice(body, `${p}.wo`, [dim, dim], at('wo') + l * dim * dim),
      ffnNorm: f32Slice(body, `${p}.rms_ffn_weight`, [dim], at('rms_ffn_weight') + l * dim),
      mlp: {
        gate: f32Slice(body, `${p}.w1`, [hiddenDim, dim], at('w1') + l * hiddenDim * dim),
        down: f32Slice(body, `${p}.w2`, [dim, hiddenDim], at('w2') + l * dim * hiddenDim),
        up: f32Slice(body, `${p}.w3`, [hiddenDim, dim], at('w3') + l * hiddenDim * dim),
      },
    });
  }
  const weights: ModelWeights = {
    spec,
    embed: f32Slice(body, 'token_embedding_table', [spec.vocab, dim], at('token_embedding_table')),
    layers,
    finalNorm: f32Slice(body, 'rms_final_weight', [dim], at('rms_final_weight')),
  };
  if (!spec.tieEmbeddings) weights.lmHead = f32Slice(body, 'wcls', [spec.vocab, dim], at('wcls'));
  return weights;
}
