/**
 * Tensor names of Mixtral in HF layout, both layouts found in the wild.
 *
 * classic — transformers 4.x `modeling_mixtral.py` (MixtralSparseMoeBlock as
 *   `block_sparse_moe`, its `gate` Linear and `experts[e].w1/w2/w3`), written by every
 *   mergekit-moe release up to v0.1.4 and read by llama.cpp's convert_hf_to_gguf.py.
 *   w1 = gate_proj, w2 = down_proj, w3 = up_proj: MixtralBlockSparseTop2MLP computes
 *   w2(act(w1 x) * w3 x).
 * fused — transformers v5 `MixtralExperts` (mergekit main since PR #692, 2026-06-17):
 *   `mlp.experts.gate_up_proj` [E, 2I, H] = stack_e(cat(w1_e, w3_e)), `mlp.experts.down_proj`
 *   [E, H, I] = stack_e(w2_e) (both WITHOUT a `.weight` suffix), router `mlp.gate.weight`.
 *   See specs/mergekit-moe.md §6.2 and gguf-moe.md "Input layouts".
 */
import type { ArchNameTable } from './names-types.ts';
import { LLAMA_ATTENTION_NAMES, LLAMA_GLOBAL_NAMES } from './names-llama.ts';

export const MIXTRAL_CLASSIC_NAMES: ArchNameTable = {
  id: 'mixtral (classic)',
  global: LLAMA_GLOBAL_NAMES,
  attention: LLAMA_ATTENTION_NAMES,
  ffn: {
    kind: 'moe',
    router: 'model.layers.{layer}.block_sparse_moe.gate.weight',
    experts: {
      gate: 'model.layers.{layer}.block_sparse_moe.experts.{expert}.w1.weight',
      down: 'model.layers.{layer}.block_sparse_moe.experts.{expert}.w2.weight',
      up: 'model.layers.{layer}.block_sparse_moe.experts.{expert}.w3.weight',
    },
  },
};

export const MIXTRAL_FUSED_NAMES: ArchNameTable = {
  id: 'mixtral (fused)',
  global: LLAMA_GLOBAL_NAMES,
  attention: LLAMA_ATTENTION_NAMES,
  ffn: {
    kind: 'moe-fused',
    router: 'model.layers.{layer}.mlp.gate.weight',
    gateUp: 'model.layers.{layer}.mlp.experts.gate_up_proj',
    down: 'model.layers.{layer}.mlp.experts.down_proj',
  },
};
