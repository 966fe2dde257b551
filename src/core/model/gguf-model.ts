/**
 * ModelWeights (+ tokenizer.json / tokenizer_config.json) → a GGUF file llama.cpp runs, and
 * back (loadGgufModel, in gguf-model-import.ts).
 *
 * - Architectures: llama / mistral / mixtral → "llama" (Mixtral = llama with expert_count,
 *   expert_used_count and stacked blk.N.ffn_{gate,up,down}_exps [E, …] + ffn_gate_inp);
 *   qwen2 → "qwen2"; qwen2_moe → "qwen2moe" (with the shared expert).
 * - RoPE: llama.cpp's "llama" pairs dims (2i, 2i+1); HF checkpoints ('half') rotate (i, i+d/2).
 *   As convert_hf_to_gguf.py does, wq/wk (and their biases) rows are permuted on export so
 *   llama.cpp computes the same thing; qwen2 archs use rotate_half and are written as is.
 * - Which tensors are quantized by `quant`: 2-D/3-D matrices (embeddings, attention, MLP and
 *   expert weights, lm_head) whose row length is a multiple of 32. These stay f32:
 *     · 1-D tensors (norms, biases): tiny, and llama.cpp's kernels expect f32 there;
 *     · routers (ffn_gate_inp, ffn_gate_inp_shexp): llama.cpp's converter and llama-quantize
 *       keep them f32 because top-k routing flips on small errors;
 *   and a matrix whose rows are not whole 32-blocks falls back to f16 for q8_0/q4_0.
 * Tensors are read (lazy weights, loadModelLazy) and converted one at a time while writing:
 * one tensor, or one layer's stack of expert parts, is resident at a time.
 */
import { ConfigError } from '../errors.ts';
import type { ByteSink } from '../io/byte-source.ts';
import type { DType, RawTensor } from '../tensor.ts';
import { dequantize, quantize } from '../quant/convert.ts';
import { writeGguf } from '../formats/gguf.ts';
import type { GgufWriteInput, GgufWriteTensor } from '../formats/gguf-types.ts';
import type { GgufMetadataValue } from '../formats/gguf-types.ts';
import { ggufValue } from '../formats/gguf-meta.ts';
import type { ModelSpec } from './spec.ts';
import { ropeInverseFrequency } from './rope.ts';
import { type ExportableTensor, type ExportableWeights, loadedTensor, type MlpOf } from './weights.ts';
import { tensorByteLength } from '../quant/dtype-traits.ts';
import {
  GGUF_ARCH_NORM_TOPK,
  GGUF_ARCH_OF,
  GGUF_ARCH_OUTPUT_OPTIONAL,
  GGUF_ARCH_ROPE,
  GGUF_FILE_TYPE,
  ggufTensorName,
  interleaveRowPermutation,
  invertPermutation,
  permuteRows,
  type GgufArch,
  type GgufExportQuant,
  type GgufTensorRole,
} from './gguf-names.ts';
import { tokenizerToGgufMetadata } from './gguf-tokenizer.ts';
import { validateForLlamaCpp } from './gguf-validate.ts';
import type { TokenizerJson } from '../tokenizer/types.ts';

export { loadGgufModel, type LoadedGgufModel } from './gguf-model-import.ts';

type TensorKind = 'matrix' | 'vector' | 'router';

/** The dtype a tensor is written in (see the module comment for the reasons). */
export function exportDtype(kind: TensorKind, shape: number[], quant: GgufExportQuant): DType {
  if (kind !== 'matrix' || shape.length < 2) return 'f32';
  if ((quant === 'q8_0' || quant === 'q4_0') && shape[shape.length - 1]! % 32 !== 0) return 'f16';
  return quant;
}

/** Bytes of `t` as `dtype`, rows reordered by `perm` (perm[newRow] = oldRow) first. */
function convertTensor(t: RawTensor, dtype: DType, perm?: number[]): Uint8Array {
  const data = perm ? permuteRows(t.data, perm) : t.data;
  if (t.dtype === dtype) return data;
  return quantize(t.name, dequantize({ ...t, data }), t.shape, dtype).data;
}

/** The parts converted one by one into the stacked tensor's buffer (one part's source resident at a time). */
async function stackParts(parts: ExportableTensor[], dtype: DType): Promise<Uint8Array> {
  const out = new Uint8Array(parts.reduce((n, p) => n + tensorByteLength(dtype, p.shape), 0));
  let at = 0;
  for (const p of parts) {
    const bytes = convertTensor(await loadedTensor(p), dtype);
    out.set(bytes, at);
    at += bytes.byteLength;
  }
  return out;
}

interface Plan {
  quant: GgufExportQuant;
  qPerm?: number[];
  kPerm?: number[];
}

function single(
  plan: Plan,
  role: GgufTensorRole,
  layer: number | undefined,
  t: ExportableTensor,
  kind: TensorKind,
  perm?: number[],
): GgufWriteTensor {
  const dtype = exportDtype(kind, t.shape, plan.quant);
  return {
    name: ggufTensorName(role, layer),
    dtype,
    shape: [...t.shape],
    getData: async () => convertTensor(await loadedTensor(t), dtype, perm),
  };
}

/** Experts stacked along a new leading dim: [E, rows, cols]. */
function stacked(plan: Plan, role: GgufTensorRole, layer: number, parts: ExportableTensor[]): GgufWriteTensor {
  const shape = [parts.length, ...parts[0]!.shape];
  const dtype = exportDtype('matrix', shape, plan.quant);
  return {
    name: ggufTensorName(role, layer),
    dtype,
    shape,
    getData: () => stackParts(parts, dtype),
  };
}

function mlpTensors(
  plan: Plan,
  layer: number,
  mlp: MlpOf<ExportableTensor>,
  roles: [GgufTensorRole, GgufTensorRole, GgufTensorRole],
): GgufWriteTensor[] {
  return [
    single(plan, roles[0], layer, mlp.gate, 'matrix'),
    single(plan, roles[1], layer, mlp.up, 'matrix'),
    single(plan, roles[2], layer, mlp.down, 'matrix'),
  ];
}

function layerTensors(plan: Plan, layer: number, w: ExportableWeights['layers'][number]): GgufWriteTensor[] {
  const out = [
    single(plan, 'attnNorm', layer, w.attnNorm, 'vector'),
    single(plan, 'wq', layer, w.wq, 'matrix', plan.qPerm),
    single(plan, 'wk', layer, w.wk, 'matrix', plan.kPerm),
    single(plan, 'wv', layer, w.wv, 'matrix'),
    single(plan, 'wo', layer, w.wo, 'matrix'),
  ];
  if (w.bq) out.push(single(plan, 'bq', layer, w.bq, 'vector', plan.qPerm));
  if (w.bk) out.push(single(plan, 'bk', layer, w.bk, 'vector', plan.kPerm));
  if (w.bv) out.push(single(plan, 'bv', layer, w.bv, 'vector'));
  // per-head norms act on head dims, which llama.cpp's qwen3 (NEOX RoPE) keeps unpermuted
  if (w.qNorm) out.push(single(plan, 'qNorm', layer, w.qNorm, 'vector'));
  if (w.kNorm) out.push(single(plan, 'kNorm', layer, w.kNorm, 'vector'));
  out.push(single(plan, 'ffnNorm', layer, w.ffnNorm, 'vector'));
  if (w.mlp) out.push(...mlpTensors(plan, layer, w.mlp, ['gate', 'up', 'down']));
  if (w.moe) {
    out.push(single(plan, 'router', layer, w.moe.router, 'router'));
    out.push(
      stacked(
        plan,
        'gateExps',
        layer,
        w.moe.experts.map((e) => e.gate),
      ),
    );
    out.push(
      stacked(
        plan,
        'upExps',
        layer,
        w.moe.experts.map((e) => e.up),
      ),
    );
    out.push(
      stacked(
        plan,
        'downExps',
        layer,
        w.moe.experts.map((e) => e.down),
      ),
    );
    if (w.moe.sharedGate) out.push(single(plan, 'sharedRouter', layer, w.moe.sharedGate, 'router'));
    if (w.moe.shared) out.push(...mlpTensors(plan, layer, w.moe.shared, ['sharedGate', 'sharedUp', 'sharedDown']));
  }
  return out;
}

function rotationPlan(spec: ModelSpec, arch: GgufArch, quant: GgufExportQuant): Plan {
  if (spec.ropeStyle === GGUF_ARCH_ROPE[arch]) return { quant };
  if (spec.headDim % 2 !== 0) throw new ConfigError(`gguf export: headDim ${spec.headDim} is odd; RoPE needs pairs`);
  const q = interleaveRowPermutation(spec.heads, spec.headDim);
  const k = interleaveRowPermutation(spec.kvHeads, spec.headDim);
  // 'half' → interleaved arch: permute; 'interleaved' → rotate_half arch: undo the permutation.
  return spec.ropeStyle === 'half'
    ? { quant, qPerm: q, kPerm: k }
    : { quant, qPerm: invertPermutation(q), kPerm: invertPermutation(k) };
}

/** general.* and {arch}.* keys. */
export function architectureMetadata(
  spec: ModelSpec,
  arch: GgufArch,
  quant: GgufExportQuant,
): [string, GgufMetadataValue][] {
  const a = arch;
  const moe = spec.moe;
  const entries: [string, GgufMetadataValue][] = [
    ['general.architecture', ggufValue.string(arch)],
    ['general.name', ggufValue.string(`moe-studio ${spec.arch}`)],
    ['general.file_type', ggufValue.u32(GGUF_FILE_TYPE[quant])],
    ['general.quantization_version', ggufValue.u32(2)],
    [`${a}.vocab_size`, ggufValue.u32(spec.vocab)],
    [`${a}.context_length`, ggufValue.u32(spec.contextLength)],
    [`${a}.embedding_length`, ggufValue.u32(spec.hidden)],
    [`${a}.block_count`, ggufValue.u32(spec.layers)],
    // llama.cpp's llama arch sizes expert tensors with feed_forward_length (Mixtral convention).
    [`${a}.feed_forward_length`, ggufValue.u32(moe && arch === 'llama' ? moe.expertIntermediate : spec.intermediate)],
    [`${a}.attention.head_count`, ggufValue.u32(spec.heads)],
    [`${a}.attention.head_count_kv`, ggufValue.u32(spec.kvHeads)],
    [`${a}.attention.key_length`, ggufValue.u32(spec.headDim)],
    [`${a}.attention.value_length`, ggufValue.u32(spec.headDim)],
    [`${a}.attention.layer_norm_rms_epsilon`, ggufValue.f32(spec.rmsEps)],
    // Mistral's window (llama.cpp's LLM_KV_ATTENTION_SLIDING_WINDOW key), so it is not lost on a round trip.
    ...(spec.slidingWindow === undefined
      ? []
      : [[`${a}.attention.sliding_window`, ggufValue.u32(spec.slidingWindow)] as [string, GgufMetadataValue]]),
    [`${a}.rope.freq_base`, ggufValue.f32(spec.ropeTheta)],
    [`${a}.rope.dimension_count`, ggufValue.u32(spec.headDim)],
  ];
  if (moe) {
    entries.push(
      [`${a}.expert_count`, ggufValue.u32(moe.experts)],
      [`${a}.expert_used_count`, ggufValue.u32(moe.expertsPerToken)],
    );
    entries.push([`${a}.expert_feed_forward_length`, ggufValue.u32(moe.expertIntermediate)]);
    if (moe.sharedExpert)
      entries.push([`${a}.expert_shared_feed_forward_length`, ggufValue.u32(moe.sharedExpert.intermediate)]);
  }
  return entries;
}

/**
 * What to do instead of a refused GGUF export: formats that honour the model's routing as is,
 * or a merge llama.cpp runs (docs/merge.md, README "Exports").
 */
const GGUF_REFUSAL_INSTEAD =
  'export it as an HF folder instead (transformers and vLLM read the routing from config.json), or merge the same experts as a Mixtral (no shared expert), which llama.cpp runs';

/**
 * Why llama.cpp would compute `spec` differently from us (undefined when it would not), naming
 * the config field and the way out. exportGguf refuses such a model; `merge --gguf` asks first,
 * before any tensor is merged.
 */
export function ggufExportRefusal(spec: ModelSpec): string | undefined {
  const arch = GGUF_ARCH_OF[spec.arch];
  const moe = spec.moe;
  if (spec.slidingWindowFirstLayer !== undefined)
    return `this model attends within a ${spec.slidingWindow}-token window only from layer ${spec.slidingWindowFirstLayer} on (config.json max_window_layers), which a GGUF cannot say: its ${arch}.attention.sliding_window is one window for every layer; export it as an HF folder instead (transformers and vLLM read the windowed layers from config.json)`;
  if (arch === 'llama' && moe?.sharedExpert)
    return `llama.cpp's llama arch has no shared expert (model is ${spec.arch}); ${GGUF_REFUSAL_INSTEAD}`;
  if (!moe || moe.normTopK === GGUF_ARCH_NORM_TOPK[arch]) return undefined;
  if (GGUF_ARCH_NORM_TOPK[arch])
    return `llama.cpp renormalizes top-k weights for ${arch}-arch MoE; this model does not (normTopK false, config.json norm_topk_prob: false); ${GGUF_REFUSAL_INSTEAD}`;
  return `llama.cpp's ${arch} never renormalizes the top-k expert weights, and this model does (config.json norm_topk_prob: true, what mergekit writes for a Qwen MoE), so llama.cpp would compute a different model; ${GGUF_REFUSAL_INSTEAD}`;
}

/**
 * RoPE scaling as llama.cpp reads it (convert_hf_to_gguf.py LlamaModel.generate_extra_tensors):
 * rope_freqs.weight [headDim / 2] f32, pair j's divisor = its plain frequency ÷ its scaled one.
 */
function ropeFreqsTensor(spec: ModelSpec): GgufWriteTensor {
  const half = spec.headDim / 2;
  const factors = Float32Array.from({ length: half }, (_, j) => {
    const plain = ropeInverseFrequency(j, spec.headDim, spec.ropeTheta);
    return plain / ropeInverseFrequency(j, spec.headDim, spec.ropeTheta, spec.ropeScaling);
  });
  return { name: ggufTensorName('ropeFreqs'), dtype: 'f32', shape: [half], data: new Uint8Array(factors.buffer) };
}

/** The tensor list of a GGUF export, in llama.cpp's usual order. */
export function exportTensors(weights: ExportableWeights, quant: GgufExportQuant): GgufWriteTensor[] {
  const spec = weights.spec;
  const arch = GGUF_ARCH_OF[spec.arch];
  const plan = rotationPlan(spec, arch, quant);
  const tensors = [single(plan, 'embed', undefined, weights.embed, 'matrix')];
  weights.layers.forEach((w, i) => tensors.push(...layerTensors(plan, i, w)));
  tensors.push(single(plan, 'finalNorm', undefined, weights.finalNorm, 'vector'));
  if (spec.ropeScaling) tensors.push(ropeFreqsTensor(spec));
  if (weights.lmHead && !spec.tieEmbeddings) tensors.push(single(plan, 'lmHead', undefined, weights.lmHead, 'matrix'));
  else if (!GGUF_ARCH_OUTPUT_OPTIONAL[arch]) tensors.push(single(plan, 'lmHead', undefined, weights.embed, 'matrix')); // tied: a copy
  return tensors;
}

/**
 * The GGUF `weights` export to, checked (architecture refusals, llama.cpp's required keys) and
 * laid out, with each tensor's bytes still to come (`getData`): encodeGgufHeader(input).fileBytes
 * is the file's size before anything is converted.
 */
export function ggufExportInput(
  weights: ExportableWeights,
  tokenizer: { tokenizerJson: TokenizerJson; tokenizerConfig?: TokenizerJson },
  quant: GgufExportQuant,
): GgufWriteInput {
  const spec = weights.spec;
  const arch = GGUF_ARCH_OF[spec.arch];
  const refusal = ggufExportRefusal(spec);
  if (refusal) throw new ConfigError(`gguf export: ${refusal}`);
  const tensors = exportTensors(weights, quant);
  const metadata = new Map([
    ...architectureMetadata(spec, arch, quant),
    ...tokenizerToGgufMetadata(tokenizer.tokenizerJson, tokenizer.tokenizerConfig ?? {}, {
      vocabSize: spec.vocab,
      ggufArch: arch,
      bosTokenId: spec.bosTokenId,
      eosTokenId: spec.eosTokenIds?.[0],
    }),
  ]);
  validateForLlamaCpp({ name: 'export', metadata, tensors });
  return { metadata, tensors };
}

/** Writes `weights` (loaded or lazy: each tensor is read when written) as a GGUF llama.cpp can run. Closes the sink. */
export async function exportGguf(
  sink: ByteSink,
  weights: ExportableWeights,
  tokenizer: { tokenizerJson: TokenizerJson; tokenizerConfig?: TokenizerJson },
  quant: GgufExportQuant,
): Promise<void> {
  await writeGguf(sink, ggufExportInput(weights, tokenizer, quant));
}
