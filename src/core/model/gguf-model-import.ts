/**
 * GGUF → ModelWeights (+ tokenizer.json rebuilt from tokenizer.ggml.*), for
 * `moe-studio generate file.gguf` and the UI. Tensors keep their stored dtype.
 * loadGgufModelLazy checks every tensor's shape against the header and reads no tensor
 * data: each role is a LazyTensor over its byte range (one expert of a stacked
 * [E, rows, cols] tensor is its own range), read when a backend uploads it, so a session
 * holds the weights once (in wasm memory or on the GPU), not also as JS buffers.
 * loadGgufModel reads them all (the same LazyTensors, each read once).
 * llama-arch wq/wk rows are un-permuted (the inverse of convert_hf_to_gguf.py's permute),
 * so the result is an ordinary HF-layout model with ropeStyle 'half' — mathematically the
 * same model llama.cpp runs with interleaved RoPE, and exportable to HF as is.
 */
import { FormatError } from '../errors.ts';
import type { ByteSource } from '../io/byte-source.ts';
import type { RawTensor } from '../tensor.ts';
import { tensorByteLength } from '../quant/dtype-traits.ts';
import { readGguf } from '../formats/gguf.ts';
import type { GgufFile } from '../formats/gguf-types.ts';
import { metaNumber, requireNumber, requireString } from '../formats/gguf-meta.ts';
import type { ArchName, ModelSpec, MoeSpec } from './spec.ts';
import { type LazyModelWeights, type LazyTensor, loadedWeights, type ModelWeights } from './weights.ts';
import {
  GGUF_ARCH_NORM_TOPK,
  GGUF_ARCH_ROPE,
  ggufTensorName,
  interleaveRowPermutation,
  invertPermutation,
  permuteRows,
  type GgufArch,
  type GgufTensorRole,
} from './gguf-names.ts';
import { ggufToTokenizer } from './gguf-tokenizer-import.ts';
import { validateForLlamaCpp } from './gguf-validate.ts';
import { checkSpecLimits } from './spec-limits.ts';
import { checkTensorValues } from './check-values.ts';
import type { TokenizerJson } from '../tokenizer/types.ts';

export interface LoadedGgufModel<W = ModelWeights> {
  weights: W;
  tokenizerJson?: TokenizerJson;
  chatTemplate?: string;
}

type LazyLayer = LazyModelWeights['layers'][number];
type LazyMlp = NonNullable<LazyLayer['mlp']>;

const ARCH_OF_GGUF = {
  llama: (isMoe: boolean): ArchName => (isMoe ? 'mixtral' : 'llama'),
  qwen2: (): ArchName => 'qwen2',
  qwen2moe: (): ArchName => 'qwen2_moe',
  qwen3: (): ArchName => 'qwen3',
  qwen3moe: (): ArchName => 'qwen3_moe',
} as const satisfies Record<GgufArch, (isMoe: boolean) => ArchName>;

function isGgufArch(arch: string): arch is GgufArch {
  return Object.hasOwn(ARCH_OF_GGUF, arch);
}

/**
 * The shape (PyTorch order, as readGguf reports it) each GGUF tensor role must have under
 * `spec`: checked before a tensor is read, so a file whose tensors disagree with its own
 * metadata fails at load naming the file and the tensor, not at the first forward pass.
 * `undefined`: checked by element count only (the shared-expert gate is [hidden] or [1, hidden]).
 */
function expectedGgufShape(spec: ModelSpec, role: GgufTensorRole): number[] | undefined {
  const { hidden, vocab } = spec;
  const q = spec.heads * spec.headDim;
  const kv = spec.kvHeads * spec.headDim;
  const e = spec.moe?.experts ?? 0;
  const ei = spec.moe?.expertIntermediate ?? 0;
  const si = spec.moe?.sharedExpert?.intermediate ?? 0;
  const shapes = {
    embed: [vocab, hidden],
    finalNorm: [hidden],
    lmHead: [vocab, hidden],
    ropeFreqs: [spec.headDim / 2],
    attnNorm: [hidden],
    wq: [q, hidden],
    wk: [kv, hidden],
    wv: [kv, hidden],
    wo: [hidden, q],
    bq: [q],
    bk: [kv],
    bv: [kv],
    qNorm: [spec.headDim],
    kNorm: [spec.headDim],
    ffnNorm: [hidden],
    gate: [spec.intermediate, hidden],
    up: [spec.intermediate, hidden],
    down: [hidden, spec.intermediate],
    router: [e, hidden],
    gateExps: [e, ei, hidden],
    upExps: [e, ei, hidden],
    downExps: [e, hidden, ei],
    gateUpExps: [e, 2 * ei, hidden],
    gateExpert: [ei, hidden],
    upExpert: [ei, hidden],
    downExpert: [hidden, ei],
    sharedRouter: undefined,
    sharedGate: [si, hidden],
    sharedUp: [si, hidden],
    sharedDown: [hidden, si],
  } satisfies Record<GgufTensorRole, number[] | undefined>;
  return shapes[role];
}

const fmtShape = (shape: readonly number[]) => `[${shape.join(', ')}]`;

class TensorReader {
  private readonly infos: Map<string, GgufFile['tensors'][number]>;
  /** Set once the spec is known; from then on every get() checks the shape first. */
  spec?: ModelSpec;
  constructor(private readonly file: GgufFile) {
    this.infos = new Map(file.tensors.map((t) => [t.name, t]));
  }
  has(role: GgufTensorRole, layer?: number, expert?: number): boolean {
    return this.infos.has(ggufTensorName(role, layer, expert));
  }
  shape(role: GgufTensorRole, layer?: number, expert?: number): number[] | undefined {
    return this.infos.get(ggufTensorName(role, layer, expert))?.shape;
  }
  /** The tensor of `role`, shape checked now; its bytes (values checked) are read at each read(). */
  get(role: GgufTensorRole, layer?: number, expert?: number): LazyTensor {
    const name = ggufTensorName(role, layer, expert);
    const info = this.infos.get(name);
    if (!info) throw new FormatError(`gguf: ${this.file.name}: required tensor '${name}' is missing`);
    if (this.spec) this.checkShape(role, name, info.shape);
    return { name, dtype: info.dtype, shape: [...info.shape], read: () => this.read(name, info.dtype, info.shape) };
  }
  optional(role: GgufTensorRole, layer?: number): LazyTensor | undefined {
    return this.has(role, layer) ? this.get(role, layer) : undefined;
  }
  /** Bytes [from, from + length) of tensor `name` (the whole tensor by default), values checked. */
  async read(name: string, dtype: RawTensor['dtype'], shape: number[], from = 0, length?: number): Promise<Uint8Array> {
    const data = await this.file.readTensorSlice(name, from, length ?? this.infos.get(name)!.byteLength);
    checkTensorValues({ name, dtype, shape, data }, `gguf: ${this.file.name}`);
    return data;
  }
  private checkShape(role: GgufTensorRole, name: string, shape: number[]): void {
    const expected = expectedGgufShape(this.spec!, role);
    const ok = expected
      ? shape.length === expected.length && shape.every((d, i) => d === expected[i])
      : shape.reduce((a, b) => a * b, 1) === this.spec!.hidden;
    if (!ok) {
      throw new FormatError(
        `gguf: ${this.file.name}: tensor '${name}' has shape ${fmtShape(shape)}, the metadata implies ${expected ? fmtShape(expected) : `${this.spec!.hidden} elements`}`,
      );
    }
  }
}

/** The GGUF metadata key behind each ModelSpec field, for checkSpecLimits' messages. */
function ggufKeys(arch: GgufArch): Record<string, string> {
  return {
    layers: `${arch}.block_count`,
    hidden: `${arch}.embedding_length`,
    intermediate: `${arch}.feed_forward_length`,
    heads: `${arch}.attention.head_count`,
    kvHeads: `${arch}.attention.head_count_kv`,
    headDim: `${arch}.attention.key_length`,
    vocab: `token_embd.weight rows`,
    contextLength: `${arch}.context_length`,
    rmsEps: `${arch}.attention.layer_norm_rms_epsilon`,
    ropeTheta: `${arch}.rope.freq_base`,
    bosTokenId: 'tokenizer.ggml.bos_token_id',
    experts: `${arch}.expert_count`,
    expertsPerToken: `${arch}.expert_used_count`,
    expertIntermediate: `expert tensor rows`,
    sharedIntermediate: `ffn_up_shexp rows`,
  };
}

function specFromGguf(file: GgufFile, arch: GgufArch, reader: TensorReader): ModelSpec {
  const key = (k: string) => `${arch}.${k}`;
  const hidden = requireNumber(file, key('embedding_length'));
  const heads = requireNumber(file, key('attention.head_count'));
  const embedShape = reader.shape('embed');
  if (embedShape?.length !== 2)
    throw new FormatError(`gguf: ${file.name}: tensor 'token_embd.weight' is missing or not 2-D`);
  const isMoe = reader.has('router', 0);
  const spec: ModelSpec = {
    arch: ARCH_OF_GGUF[arch](isMoe),
    hidden,
    intermediate: requireNumber(file, key('feed_forward_length')),
    layers: requireNumber(file, key('block_count')),
    heads,
    kvHeads: metaNumber(file, key('attention.head_count_kv')) ?? heads,
    headDim: metaNumber(file, key('attention.key_length')) ?? hidden / heads,
    vocab: embedShape[0]!,
    contextLength: requireNumber(file, key('context_length')),
    ropeTheta: metaNumber(file, key('rope.freq_base')) ?? 10000,
    rmsEps: requireNumber(file, key('attention.layer_norm_rms_epsilon')),
    tieEmbeddings: false, // decided when output.weight is read
    qkvBias: reader.has('bq', 0),
    ...(reader.has('qNorm', 0) ? { qkNorm: true } : {}),
    ropeStyle: 'half',
  };
  if (isMoe) spec.moe = moeSpecFromGguf(file, arch, reader);
  const window = metaNumber(file, key('attention.sliding_window'));
  if (window !== undefined && window < spec.contextLength) spec.slidingWindow = window;
  const bos = metaNumber(file, 'tokenizer.ggml.bos_token_id');
  const eos = metaNumber(file, 'tokenizer.ggml.eos_token_id');
  if (bos !== undefined) spec.bosTokenId = bos;
  if (eos !== undefined && Number.isInteger(eos) && eos >= 0) spec.eosTokenIds = [eos];
  checkSpecLimits(spec, ggufKeys(arch), (message) => {
    throw new FormatError(`gguf: ${file.name}: ${message}`);
  });
  return spec;
}

function moeSpecFromGguf(file: GgufFile, arch: GgufArch, reader: TensorReader): MoeSpec {
  const moe: MoeSpec = {
    experts: requireNumber(file, `${arch}.expert_count`),
    expertsPerToken: requireNumber(file, `${arch}.expert_used_count`),
    // What llama.cpp computes for the arch (qwen2moe ignores expert_weights_norm), so both agree.
    normTopK: GGUF_ARCH_NORM_TOPK[arch],
    expertIntermediate: expertIntermediateOf(file, reader),
  };
  const sharedShape = reader.shape('sharedUp', 0);
  if (sharedShape) moe.sharedExpert = { intermediate: sharedShape[0]!, gated: reader.has('sharedRouter', 0) };
  return moe;
}

/** From whichever expert layout the file uses: stacked, fused gate+up, or per expert. */
function expertIntermediateOf(file: GgufFile, reader: TensorReader): number {
  const stacked = reader.shape('gateExps', 0);
  if (stacked) return stacked[1]!;
  const fused = reader.shape('gateUpExps', 0);
  if (fused) return fused[1]! / 2;
  const single = reader.shape('gateExpert', 0, 0);
  if (single) return single[0]!;
  throw new FormatError(
    `gguf: ${file.name}: MoE layer 0 has a router but no expert tensors (ffn_gate_exps, ffn_gate_up_exps or ffn_gate.0)`,
  );
}

/**
 * Rows [from, to) of every expert of a stacked [E, rows, cols] tensor, as E tensors: each
 * reads only its own byte range (a whole expert when [from, to) = [0, rows)).
 */
function expertSlices(reader: TensorReader, t: LazyTensor, experts: number, from: number, to: number): LazyTensor[] {
  if (t.shape.length !== 3 || t.shape[0] !== experts)
    throw new FormatError(
      `gguf: tensor '${t.name}' has shape [${t.shape.join(', ')}], expected [${experts}, rows, cols]`,
    );
  const [, rows, cols] = t.shape as [number, number, number];
  const rowBytes = tensorByteLength(t.dtype, [cols]);
  const whole = from === 0 && to === rows;
  return Array.from({ length: experts }, (_, e) => {
    const shape = [to - from, cols];
    const at = (e * rows + from) * rowBytes;
    return {
      name: whole ? `${t.name}[${e}]` : `${t.name}[${e}][${from}:${to}]`,
      dtype: t.dtype,
      shape,
      read: () => reader.read(t.name, t.dtype, shape, at, (to - from) * rowBytes),
    };
  });
}

/** Per-expert gate/up/down from any of the three GGUF expert layouts. */
function expertMlps(reader: TensorReader, layer: number, experts: number, intermediate: number): LazyMlp[] {
  if (reader.has('gateExps', layer) || reader.has('gateUpExps', layer)) {
    let gates: LazyTensor[];
    let ups: LazyTensor[];
    if (reader.has('gateExps', layer)) {
      gates = expertSlices(reader, reader.get('gateExps', layer), experts, 0, intermediate);
      ups = expertSlices(reader, reader.get('upExps', layer), experts, 0, intermediate);
    } else {
      const fused = reader.get('gateUpExps', layer); // gate rows first, then up
      gates = expertSlices(reader, fused, experts, 0, intermediate);
      ups = expertSlices(reader, fused, experts, intermediate, 2 * intermediate);
    }
    const down = reader.get('downExps', layer);
    const downs = expertSlices(reader, down, experts, 0, down.shape[1]!);
    return gates.map((gate, e) => ({ gate, up: ups[e]!, down: downs[e]! }));
  }
  return Array.from({ length: experts }, (_, e) => ({
    gate: reader.get('gateExpert', layer, e),
    up: reader.get('upExpert', layer, e),
    down: reader.get('downExpert', layer, e),
  }));
}

function mlp(reader: TensorReader, layer: number, roles: [GgufTensorRole, GgufTensorRole, GgufTensorRole]): LazyMlp {
  return { gate: reader.get(roles[0], layer), up: reader.get(roles[1], layer), down: reader.get(roles[2], layer) };
}

function moeLayer(reader: TensorReader, spec: ModelSpec, layer: number): LazyLayer['moe'] {
  const moe: NonNullable<LazyLayer['moe']> = {
    router: reader.get('router', layer),
    experts: expertMlps(reader, layer, spec.moe!.experts, spec.moe!.expertIntermediate),
  };
  if (spec.moe!.sharedExpert) moe.shared = mlp(reader, layer, ['sharedGate', 'sharedUp', 'sharedDown']);
  const sharedRouter = reader.optional('sharedRouter', layer);
  if (sharedRouter) moe.sharedGate = { ...sharedRouter, shape: [1, spec.hidden] }; // count checked by get()
  return moe;
}

/** Bytes compared per read when telling a copied output.weight from token_embd (SAME_TENSOR_STEP). */
const SAME_TENSOR_STEP = 1 << 20;

/** Whether two tensors hold the same bytes, read a slice at a time (a random pair differs in the first slice). */
async function sameTensor(file: GgufFile, a: LazyTensor, b: LazyTensor): Promise<boolean> {
  const bytes = tensorByteLength(a.dtype, a.shape);
  if (a.dtype !== b.dtype || bytes !== tensorByteLength(b.dtype, b.shape)) return false;
  for (let at = 0; at < bytes; at += SAME_TENSOR_STEP) {
    const length = Math.min(SAME_TENSOR_STEP, bytes - at);
    const [x, y] = [await file.readTensorSlice(a.name, at, length), await file.readTensorSlice(b.name, at, length)];
    for (let i = 0; i < length; i++) if (x[i] !== y[i]) return false;
  }
  return true;
}

function unpermuted(t: LazyTensor, perm: number[] | undefined): LazyTensor {
  return perm ? { ...t, read: async () => permuteRows(await t.read(), perm) } : t;
}

function layerWeights(
  reader: TensorReader,
  spec: ModelSpec,
  layer: number,
  qPerm?: number[],
  kPerm?: number[],
): LazyLayer {
  const w: LazyLayer = {
    attnNorm: reader.get('attnNorm', layer),
    wq: unpermuted(reader.get('wq', layer), qPerm),
    wk: unpermuted(reader.get('wk', layer), kPerm),
    wv: reader.get('wv', layer),
    wo: reader.get('wo', layer),
    ffnNorm: reader.get('ffnNorm', layer),
  };
  const [bq, bk, bv] = [reader.optional('bq', layer), reader.optional('bk', layer), reader.optional('bv', layer)];
  if (bq) w.bq = unpermuted(bq, qPerm);
  if (bk) w.bk = unpermuted(bk, kPerm);
  if (bv) w.bv = bv;
  if (spec.qkNorm) {
    w.qNorm = reader.get('qNorm', layer);
    w.kNorm = reader.get('kNorm', layer);
  }
  if (spec.moe) w.moe = moeLayer(reader, spec, layer);
  else w.mlp = mlp(reader, layer, ['gate', 'up', 'down']);
  return w;
}

/** The ModelSpec a parsed GGUF header describes (architecture and llama.cpp keys checked); reads no tensor data. */
export function ggufModelSpec(file: GgufFile): { arch: GgufArch; spec: ModelSpec } {
  const arch = requireString(file, 'general.architecture');
  if (!isGgufArch(arch))
    throw new FormatError(
      `gguf: ${file.name}: general.architecture '${arch}' is not supported (llama, qwen2, qwen2moe, qwen3, qwen3moe)`,
    );
  validateForLlamaCpp(file);
  return { arch, spec: specFromGguf(file, arch, new TensorReader(file)) };
}

/**
 * A GGUF written by exportGguf or llama.cpp's converter (llama, Mixtral-as-llama, qwen2,
 * qwen2moe), its tensors checked against the header but not read (see the module comment).
 */
export async function loadGgufModelLazy(src: ByteSource): Promise<LoadedGgufModel<LazyModelWeights>> {
  const file = await readGguf(src);
  const { arch, spec } = ggufModelSpec(file);
  const reader = new TensorReader(file);
  reader.spec = spec;
  // Stored rows are in llama.cpp's pairing; go back to rotate_half order (inverse permutation).
  const interleaved = GGUF_ARCH_ROPE[arch] === 'interleaved';
  const qPerm = interleaved ? invertPermutation(interleaveRowPermutation(spec.heads, spec.headDim)) : undefined;
  const kPerm = interleaved ? invertPermutation(interleaveRowPermutation(spec.kvHeads, spec.headDim)) : undefined;
  const layers = Array.from({ length: spec.layers }, (_, i) => layerWeights(reader, spec, i, qPerm, kPerm));
  const weights: LazyModelWeights = { spec, embed: reader.get('embed'), layers, finalNorm: reader.get('finalNorm') };
  const lmHead = reader.optional('lmHead');
  if (lmHead && !(await sameTensor(file, lmHead, weights.embed))) weights.lmHead = lmHead;
  else spec.tieEmbeddings = true; // no output.weight, or a copy of token_embd (qwen2moe needs one)
  await readRopeFreqs(file, reader, spec, arch);
  const tokenizer = ggufToTokenizer(file);
  return { weights, ...(tokenizer ?? {}) };
}

/**
 * Llama 3's RoPE scaling as llama.cpp's converter stores it: rope_freqs.weight, one f32 divisor
 * per pair (ggml_rope_ext's freq_factors), into spec.ropeScaling (shape and limits checked;
 * all ones is no scaling). Without it RoPE would run unscaled and every long position drift.
 */
async function readRopeFreqs(file: GgufFile, reader: TensorReader, spec: ModelSpec, arch: GgufArch): Promise<void> {
  const tensor = reader.optional('ropeFreqs');
  if (!tensor) return;
  if (tensor.dtype !== 'f32')
    throw new FormatError(`gguf: ${file.name}: tensor 'rope_freqs.weight' is ${tensor.dtype}, expected f32`);
  const bytes = await tensor.read();
  const factors = Array.from(
    new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)),
  );
  if (factors.every((f) => f === 1)) return;
  spec.ropeScaling = { type: 'factors', factors };
  checkSpecLimits(spec, { ...ggufKeys(arch), ropeScaling: 'rope_freqs.weight' }, (message) => {
    throw new FormatError(`gguf: ${file.name}: ${message}`);
  });
}

/** loadGgufModelLazy with every tensor read (each once, values checked). */
export async function loadGgufModel(src: ByteSource): Promise<LoadedGgufModel> {
  const loaded = await loadGgufModelLazy(src);
  return { ...loaded, weights: await loadedWeights(loaded.weights) };
}
