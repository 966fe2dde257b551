/**
 * Tensor names of Qwen2-MoE in HF layout.
 *
 * Source: transformers `modeling_qwen2_moe.py` (Qwen2MoeSparseMoeBlock as `mlp`, with `gate`
 * Linear(H, E), `experts[e]` Qwen2MoeMLP, `shared_expert` Qwen2MoeMLP and
 * `shared_expert_gate` Linear(H, 1)), the same names mergekit's `moe/qwen.py` writes
 * (specs/mergekit-moe.md §6.4: singular `shared_expert`, shared gate shape [1, H]).
 * Attention as qwen2 (q/k/v biases).
 */
import type { ArchNameTable, MlpNames } from './names-types.ts';
import { LLAMA_ATTENTION_NAMES, LLAMA_GLOBAL_NAMES } from './names-llama.ts';
import { MIXTRAL_FUSED_NAMES } from './names-mixtral.ts';

/** Routed expert e of a layer (Qwen2MoeMLP / Qwen3MoeMLP): the same names in both. */
const QWEN_EXPERT_NAMES: MlpNames = {
  gate: 'model.layers.{layer}.mlp.experts.{expert}.gate_proj.weight',
  up: 'model.layers.{layer}.mlp.experts.{expert}.up_proj.weight',
  down: 'model.layers.{layer}.mlp.experts.{expert}.down_proj.weight',
};

export const QWEN2_MOE_NAMES: ArchNameTable = {
  id: 'qwen2_moe',
  global: LLAMA_GLOBAL_NAMES,
  attention: LLAMA_ATTENTION_NAMES,
  ffn: {
    kind: 'moe',
    router: 'model.layers.{layer}.mlp.gate.weight',
    experts: QWEN_EXPERT_NAMES,
    shared: {
      gate: 'model.layers.{layer}.mlp.shared_expert.gate_proj.weight',
      up: 'model.layers.{layer}.mlp.shared_expert.up_proj.weight',
      down: 'model.layers.{layer}.mlp.shared_expert.down_proj.weight',
    },
    sharedGate: 'model.layers.{layer}.mlp.shared_expert_gate.weight',
  },
};

/**
 * Qwen3-MoE (`modeling_qwen3_moe.py` Qwen3MoeSparseMoeBlock: `gate` Linear(H, E), `experts[e]`,
 * no shared expert), the per-expert names mergekit v0.1.4's qwen3 output writes; attention with
 * per-head q_norm / k_norm and no biases.
 */
export const QWEN3_MOE_NAMES: ArchNameTable = {
  id: 'qwen3_moe',
  global: LLAMA_GLOBAL_NAMES,
  attention: LLAMA_ATTENTION_NAMES,
  ffn: {
    kind: 'moe',
    router: 'model.layers.{layer}.mlp.gate.weight',
    experts: QWEN_EXPERT_NAMES,
  },
};

/**
 * Qwen3-MoE in the transformers v5 fused layout (mergekit main since #692, the layout our merge
 * writes with layout 'fused'; specs/mergekit-moe.md §6.5): `mlp.experts.gate_up_proj` [E, 2I, H]
 * = stack_e(cat(gate_e, up_e)) and `mlp.experts.down_proj` [E, H, I], both without a `.weight`
 * suffix, router `mlp.gate.weight`, as fused Mixtral.
 */
export const QWEN3_MOE_FUSED_NAMES: ArchNameTable = {
  id: 'qwen3_moe (fused)',
  global: LLAMA_GLOBAL_NAMES,
  attention: LLAMA_ATTENTION_NAMES,
  ffn: MIXTRAL_FUSED_NAMES.ffn, // transformers v5 fuses both the same way
};
