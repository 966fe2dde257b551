/**
 * Tensor names of the dense Llama family in HF layout: llama, mistral, qwen2.
 *
 * Source: transformers `modeling_llama.py` / `modeling_mistral.py` / `modeling_qwen2.py`
 * module paths (LlamaModel.embed_tokens, layers[i].self_attn.{q,k,v,o}_proj,
 * layers[i].mlp.{gate,up,down}_proj, input_layernorm, post_attention_layernorm, norm;
 * LlamaForCausalLM.lm_head), the same list as mergekit's `_data/architectures/llama.json`,
 * `mistral.json` and `qwen2.json`. Qwen2 adds q/k/v biases (`Qwen2Attention` uses
 * `bias=True` for q_proj, k_proj, v_proj and `bias=False` for o_proj).
 */
import type { ArchNameTable, AttentionNames, GlobalNames, MlpNames } from './names-types.ts';

/** model.embed_tokens / model.norm / lm_head: shared by every architecture here. */
export const LLAMA_GLOBAL_NAMES: GlobalNames = {
  embed: 'model.embed_tokens.weight',
  finalNorm: 'model.norm.weight',
  lmHead: 'lm_head.weight',
};

/** Attention and norms of one decoder layer: shared by llama, mistral, qwen2, mixtral, qwen2_moe. */
export const LLAMA_ATTENTION_NAMES: AttentionNames = {
  attnNorm: 'model.layers.{layer}.input_layernorm.weight',
  wq: 'model.layers.{layer}.self_attn.q_proj.weight',
  wk: 'model.layers.{layer}.self_attn.k_proj.weight',
  wv: 'model.layers.{layer}.self_attn.v_proj.weight',
  wo: 'model.layers.{layer}.self_attn.o_proj.weight',
  bq: 'model.layers.{layer}.self_attn.q_proj.bias',
  bk: 'model.layers.{layer}.self_attn.k_proj.bias',
  bv: 'model.layers.{layer}.self_attn.v_proj.bias',
  qNorm: 'model.layers.{layer}.self_attn.q_norm.weight',
  kNorm: 'model.layers.{layer}.self_attn.k_norm.weight',
  ffnNorm: 'model.layers.{layer}.post_attention_layernorm.weight',
};

/** LlamaMLP: down_proj(act_fn(gate_proj(x)) * up_proj(x)). */
export const LLAMA_MLP_NAMES: MlpNames = {
  gate: 'model.layers.{layer}.mlp.gate_proj.weight',
  up: 'model.layers.{layer}.mlp.up_proj.weight',
  down: 'model.layers.{layer}.mlp.down_proj.weight',
};

/** llama and mistral (identical names; biases are never present). */
export const LLAMA_NAMES: ArchNameTable = {
  id: 'llama',
  global: LLAMA_GLOBAL_NAMES,
  attention: LLAMA_ATTENTION_NAMES,
  ffn: { kind: 'dense', mlp: LLAMA_MLP_NAMES },
};

/** qwen2: llama names plus q/k/v biases (spec.qkvBias). */
export const QWEN2_NAMES: ArchNameTable = { ...LLAMA_NAMES, id: 'qwen2' };

/** qwen3 (`modeling_qwen3.py` Qwen3Attention.q_norm / k_norm): llama names plus per-head q/k RMSNorm (spec.qkNorm). */
export const QWEN3_NAMES: ArchNameTable = { ...LLAMA_NAMES, id: 'qwen3' };
