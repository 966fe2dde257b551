/**
 * GGUF → ModelWeights (+ tokenizer.json rebuilt from tokenizer.ggml.*), for
 * `moe-studio generate file.gguf` and the UI. Tensors keep their stored dtype.
 * llama-arch wq/wk rows are un-permuted (the inverse of convert_hf_to_gguf.py's permute),
 * so the result is an ordinary HF-layout model with ropeStyle 'half' — mathematically the
 * same model llama.cpp runs with interleaved RoPE, and exportable to HF as is.
 */
import { FormatError } from '../errors.ts';
import type { ByteSource } from '../io/byte-source.ts';
import type { RawTensor } from '../tensor.ts';
import { readGguf } from '../formats/gguf.ts';
import type { GgufFile } from '../formats/gguf-types.ts';
import { metaNumber, requireNumber, requireString } from '../formats/gguf-meta.ts';
import type { ArchName, ModelSpec, MoeSpec } from './spec.ts';
import type { LayerWeights, MlpWeights, ModelWeights } from './weights.ts';
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

export interface LoadedGgufModel {
  weights: ModelWeights;
  tokenizerJson?: TokenizerJson;
  chatTemplate?: string;
}

const ARCH_OF_GGUF = {
  llama: (isMoe: boolean): ArchName => (isMoe ? 'mixtral' : 'llama'),
  qwen2: (): ArchName => 'qwen2',
  qwen2moe: (): ArchName => 'qwen2_moe',
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
    attnNorm: [hidden],
    wq: [q, hidden],
    wk: [kv, hidden],
    wv: [kv, hidden],
    wo: [hidden, q],
    bq: [q],
    bk: [kv],
    bv: [kv],
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
  async get(role: GgufTensorRole, layer?: number, expert?: number): Promise<RawTensor> {
    const name = ggufTensorName(role, layer, expert);
    const info = this.infos.get(name);
    if (!info) throw new FormatError(`gguf: ${this.file.name}: required tensor '${name}' is missing`);
    if (this.spec) this.checkShape(role, name, info.shape);
    const tensor = await this.file.readTensor(name);
    checkTensorValues(tensor, `gguf: ${this.file.name}`);
    return tensor;
  }
  async optional(role: GgufTensorRole, layer?: number): Promise<RawTensor | undefined> {
    return this.has(role, layer) ? this.get(role, layer) : undefined;
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

/** Rows [from, to) of every expert of a stacked [E, rows, cols] tensor, as E tensors. */
function rowSlices(t: RawTensor, experts: number, from: number, to: number): RawTensor[] {
  const [, rows, cols] = t.shape as [number, number, number];
  const rowBytes = t.data.byteLength / experts / rows;
  return Array.from({ length: experts }, (_, e) => ({
    name: `${t.name}[${e}][${from}:${to}]`,
    dtype: t.dtype,
    shape: [to - from, cols],
    data: t.data.subarray((e * rows + from) * rowBytes, (e * rows + to) * rowBytes),
  }));
}

/** Per-expert gate/up/down from any of the three GGUF expert layouts. */
async function expertMlps(
  reader: TensorReader,
  layer: number,
  experts: number,
  intermediate: number,
): Promise<MlpWeights[]> {
  if (reader.has('gateExps', layer) || reader.has('gateUpExps', layer)) {
    let gates: RawTensor[];
    let ups: RawTensor[];
    if (reader.has('gateExps', layer)) {
      gates = unstack(await reader.get('gateExps', layer), experts);
      ups = unstack(await reader.get('upExps', layer), experts);
    } else {
      const fused = await reader.get('gateUpExps', layer); // gate rows first, then up
      unstack(fused, experts); // validates [E, rows, cols]
      gates = rowSlices(fused, experts, 0, intermediate);
      ups = rowSlices(fused, experts, intermediate, 2 * intermediate);
    }
    const downs = unstack(await reader.get('downExps', layer), experts);
    return gates.map((gate, e) => ({ gate, up: ups[e]!, down: downs[e]! }));
  }
  const mlps: MlpWeights[] = [];
  for (let e = 0; e < experts; e++) {
    mlps.push({
      gate: await reader.get('gateExpert', layer, e),
      up: await reader.get('upExpert', layer, e),
      down: await reader.get('downExpert', layer, e),
    });
  }
  return mlps;
}

/** [E, rows, cols] → E tensors [rows, cols] (zero-copy views). */
function unstack(t: RawTensor, experts: number): RawTensor[] {
  if (t.shape.length !== 3 || t.shape[0] !== experts)
    throw new FormatError(
      `gguf: tensor '${t.name}' has shape [${t.shape.join(', ')}], expected [${experts}, rows, cols]`,
    );
  const bytes = t.data.byteLength / experts;
  return Array.from({ length: experts }, (_, e) => ({
    name: `${t.name}[${e}]`,
    dtype: t.dtype,
    shape: t.shape.slice(1),
    data: t.data.subarray(e * bytes, (e + 1) * bytes),
  }));
}

async function mlp(
  reader: TensorReader,
  layer: number,
  roles: [GgufTensorRole, GgufTensorRole, GgufTensorRole],
): Promise<MlpWeights> {
  return {
    gate: await reader.get(roles[0], layer),
    up: await reader.get(roles[1], layer),
    down: await reader.get(roles[2], layer),
  };
}

async function moeLayer(reader: TensorReader, spec: ModelSpec, layer: number): Promise<LayerWeights['moe']> {
  const moe: NonNullable<LayerWeights['moe']> = {
    router: await reader.get('router', layer),
    experts: await expertMlps(reader, layer, spec.moe!.experts, spec.moe!.expertIntermediate),
  };
  if (spec.moe!.sharedExpert) moe.shared = await mlp(reader, layer, ['sharedGate', 'sharedUp', 'sharedDown']);
  const sharedRouter = await reader.optional('sharedRouter', layer);
  if (sharedRouter) moe.sharedGate = { ...sharedRouter, shape: [1, spec.hidden] }; // count checked by get()
  return moe;
}

function sameTensor(a: RawTensor, b: RawTensor): boolean {
  if (a.dtype !== b.dtype || a.data.byteLength !== b.data.byteLength) return false;
  for (let i = 0; i < a.data.byteLength; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}

function unpermuted(t: RawTensor, perm: number[] | undefined): RawTensor {
  return perm ? { ...t, data: permuteRows(t.data, perm) } : t;
}

async function layerWeights(
  reader: TensorReader,
  spec: ModelSpec,
  layer: number,
  qPerm?: number[],
  kPerm?: number[],
): Promise<LayerWeights> {
  const w: LayerWeights = {
    attnNorm: await reader.get('attnNorm', layer),
    wq: unpermuted(await reader.get('wq', layer), qPerm),
    wk: unpermuted(await reader.get('wk', layer), kPerm),
    wv: await reader.get('wv', layer),
    wo: await reader.get('wo', layer),
    ffnNorm: await reader.get('ffnNorm', layer),
  };
  const [bq, bk, bv] = [
    await reader.optional('bq', layer),
    await reader.optional('bk', layer),
    await reader.optional('bv', layer),
  ];
  if (bq) w.bq = unpermuted(bq, qPerm);
  if (bk) w.bk = unpermuted(bk, kPerm);
  if (bv) w.bv = bv;
  if (spec.moe) w.moe = await moeLayer(reader, spec, layer);
  else w.mlp = await mlp(reader, layer, ['gate', 'up', 'down']);
  return w;
}

/** The ModelSpec a parsed GGUF header describes (architecture and llama.cpp keys checked); reads no tensor data. */
export function ggufModelSpec(file: GgufFile): { arch: GgufArch; spec: ModelSpec } {
  const arch = requireString(file, 'general.architecture');
  if (!isGgufArch(arch))
    throw new FormatError(
      `gguf: ${file.name}: general.architecture '${arch}' is not supported (llama, qwen2, qwen2moe)`,
    );
  validateForLlamaCpp(file);
  return { arch, spec: specFromGguf(file, arch, new TensorReader(file)) };
}

/** Reads a GGUF written by exportGguf or llama.cpp's converter (llama, Mixtral-as-llama, qwen2, qwen2moe). */
export async function loadGgufModel(src: ByteSource): Promise<LoadedGgufModel> {
  const file = await readGguf(src);
  const { arch, spec } = ggufModelSpec(file);
  const reader = new TensorReader(file);
  reader.spec = spec;
  // Stored rows are in llama.cpp's pairing; go back to rotate_half order (inverse permutation).
  const interleaved = GGUF_ARCH_ROPE[arch] === 'interleaved';
  const qPerm = interleaved ? invertPermutation(interleaveRowPermutation(spec.heads, spec.headDim)) : undefined;
  const kPerm = interleaved ? invertPermutation(interleaveRowPermutation(spec.kvHeads, spec.headDim)) : undefined;
  const layers: LayerWeights[] = [];
  for (let i = 0; i < spec.layers; i++) layers.push(await layerWeights(reader, spec, i, qPerm, kPerm));
  const weights: ModelWeights = {
    spec,
    embed: await reader.get('embed'),
    layers,
    finalNorm: await reader.get('finalNorm'),
  };
  const lmHead = await reader.optional('lmHead');
  if (lmHead && !sameTensor(lmHead, weights.embed)) weights.lmHead = lmHead;
  else spec.tieEmbeddings = true; // no output.weight, or a copy of token_embd (qwen2moe needs one)
  const tokenizer = ggufToTokenizer(file);
  return { weights, ...(tokenizer ?? {}) };
}
