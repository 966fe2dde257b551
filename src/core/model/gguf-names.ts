/**
 * GGUF architecture facts as tables (STYLE habit 7). Tensor names come from gguf-py
 * `constants.py` TENSOR_NAMES (MODEL_TENSOR.TOKEN_EMBD → "token_embd", FFN_GATE_EXP →
 * "blk.{bid}.ffn_gate_exps", …); `{layer}` is the block index.
 */
import type { ArchName } from './spec.ts';

export type GgufArch = 'llama' | 'qwen2' | 'qwen2moe' | 'qwen3' | 'qwen3moe';

/** Our architectures → llama.cpp's. Mixtral is stored as `llama` with experts (spec gguf-moe.md). */
export const GGUF_ARCH_OF = {
  llama: 'llama',
  mistral: 'llama',
  mixtral: 'llama',
  qwen2: 'qwen2',
  qwen2_moe: 'qwen2moe',
  qwen3: 'qwen3',
  qwen3_moe: 'qwen3moe',
} as const satisfies Record<ArchName, GgufArch>;

/**
 * RoPE pairing llama.cpp applies per architecture: `llama` uses LLAMA_ROPE_TYPE_NORM
 * (interleaved pairs 2i, 2i+1), which is why convert_hf_to_gguf.py permutes wq/wk rows of HF
 * (rotate_half) checkpoints; qwen2/qwen2moe use NEOX (rotate_half) and need no permute.
 */
export const GGUF_ARCH_ROPE = {
  llama: 'interleaved',
  qwen2: 'half',
  qwen2moe: 'half',
  qwen3: 'half',
  qwen3moe: 'half',
} as const satisfies Record<GgufArch, 'half' | 'interleaved'>;

/**
 * Whether llama.cpp can run the arch without output.weight (it then reuses token_embd, i.e.
 * tied embeddings). qwen2moe's loader requires output.weight, so tied models write a copy.
 */
export const GGUF_ARCH_OUTPUT_OPTIONAL = {
  llama: true,
  qwen2: true,
  qwen2moe: false,
  qwen3: true,
  qwen3moe: false, // a copy for tied models: works whether or not this llama.cpp's loader falls back
} as const satisfies Record<GgufArch, boolean>;

/**
 * Whether llama.cpp renormalizes the chosen experts' weights (build_moe_ffn's norm_w) per arch:
 * always for `llama` (Mixtral), never for `qwen2moe` — it ignores `qwen2moe.expert_weights_norm`,
 * checked against node-llama-cpp 3.22.1 by tools/llamacpp/agreement.test.ts. The exporter refuses
 * a model that differs (ggufExportRefusal); the importer reads the arch's rule, not the key.
 */
export const GGUF_ARCH_NORM_TOPK = {
  llama: true,
  qwen2: false, // dense
  qwen2moe: false,
  qwen3: false, // dense
  qwen3moe: true, // build_moe_ffn with norm_w: checked by tools/llamacpp/agreement.test.ts
} as const satisfies Record<GgufArch, boolean>;

export const GGUF_TENSOR_NAMES = {
  embed: 'token_embd.weight',
  finalNorm: 'output_norm.weight',
  lmHead: 'output.weight',
  ropeFreqs: 'rope_freqs.weight', // [headDim / 2] f32: Llama 3's RoPE scaling as one divisor per pair
  attnNorm: 'blk.{layer}.attn_norm.weight',
  wq: 'blk.{layer}.attn_q.weight',
  wk: 'blk.{layer}.attn_k.weight',
  wv: 'blk.{layer}.attn_v.weight',
  wo: 'blk.{layer}.attn_output.weight',
  bq: 'blk.{layer}.attn_q.bias',
  bk: 'blk.{layer}.attn_k.bias',
  bv: 'blk.{layer}.attn_v.bias',
  qNorm: 'blk.{layer}.attn_q_norm.weight', // [headDim]  qwen3
  kNorm: 'blk.{layer}.attn_k_norm.weight',
  ffnNorm: 'blk.{layer}.ffn_norm.weight',
  gate: 'blk.{layer}.ffn_gate.weight', // [intermediate, hidden]
  up: 'blk.{layer}.ffn_up.weight', // [intermediate, hidden]
  down: 'blk.{layer}.ffn_down.weight', // [hidden, intermediate]
  router: 'blk.{layer}.ffn_gate_inp.weight', // [experts, hidden]
  gateExps: 'blk.{layer}.ffn_gate_exps.weight', // [experts, expertIntermediate, hidden]
  upExps: 'blk.{layer}.ffn_up_exps.weight', // [experts, expertIntermediate, hidden]
  downExps: 'blk.{layer}.ffn_down_exps.weight', // [experts, hidden, expertIntermediate]
  // Read-only alternatives (import): the fused gate+up stack of newer llama.cpp (PR #18740,
  // gate rows first), and the per-expert tensors of pre-#6387 Mixtral files.
  gateUpExps: 'blk.{layer}.ffn_gate_up_exps.weight', // [experts, 2·expertIntermediate, hidden]
  gateExpert: 'blk.{layer}.ffn_gate.{expert}.weight',
  upExpert: 'blk.{layer}.ffn_up.{expert}.weight',
  downExpert: 'blk.{layer}.ffn_down.{expert}.weight',
  sharedRouter: 'blk.{layer}.ffn_gate_inp_shexp.weight', // [1, hidden]  Qwen2-MoE shared-expert gate
  sharedGate: 'blk.{layer}.ffn_gate_shexp.weight',
  sharedUp: 'blk.{layer}.ffn_up_shexp.weight',
  sharedDown: 'blk.{layer}.ffn_down_shexp.weight',
} as const;
export type GgufTensorRole = keyof typeof GGUF_TENSOR_NAMES;

export function ggufTensorName(role: GgufTensorRole, layer?: number, expert?: number): string {
  return GGUF_TENSOR_NAMES[role].replace('{layer}', String(layer ?? '')).replace('{expert}', String(expert ?? ''));
}

/** llama.cpp `enum llama_ftype` values for general.file_type. */
export const GGUF_FILE_TYPE = { f32: 0, f16: 1, q4_0: 2, q8_0: 7 } as const;
export type GgufExportQuant = keyof typeof GGUF_FILE_TYPE;

/**
 * wq/wk row order for RoPE pairing (convert_hf_to_gguf.py `LlamaModel.permute`): within each
 * head, rotate_half pairs (i, i + headDim/2) become adjacent rows (2i, 2i+1).
 * Returns perm with perm[newRow] = oldRow, for rows = heads·headDim.
 */
export function interleaveRowPermutation(heads: number, headDim: number): number[] {
  const half = headDim / 2;
  const perm: number[] = [];
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) perm.push(h * headDim + j * half + i);
    }
  }
  return perm;
}

export function invertPermutation(perm: number[]): number[] {
  const inverse = new Array<number>(perm.length);
  perm.forEach((old, row) => {
    inverse[old] = row;
  });
  return inverse;
}

/** Reorders whole rows of any dtype (blocks never cross rows). out[row] = data[perm[row]]. */
export function permuteRows(data: Uint8Array, perm: number[]): Uint8Array {
  const rowBytes = data.byteLength / perm.length;
  const out = new Uint8Array(data.byteLength);
  perm.forEach((old, row) => out.set(data.subarray(old * rowBytes, (old + 1) * rowBytes), row * rowBytes));
  return out;
}
