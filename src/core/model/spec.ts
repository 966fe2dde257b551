/**
 * ModelSpec: the one normalized description of a decoder-only model that every other
 * module uses (DESIGN.md, model/). Built from an HF config.json (model/hf-config.ts), a
 * GGUF's metadata (formats/gguf.ts), or a llama2.c header (model/llama2c.ts).
 */

/** Architectures we read. Dense: llama, mistral, qwen2, qwen3. MoE: mixtral, qwen2_moe, qwen3_moe. */
export type ArchName = 'llama' | 'mistral' | 'qwen2' | 'qwen3' | 'mixtral' | 'qwen2_moe' | 'qwen3_moe';

export interface MoeSpec {
  /** Routed experts per layer. */
  experts: number;
  /** Experts used per token (num_experts_per_tok; mergekit's experts_per_token). */
  expertsPerToken: number;
  /**
   * Renormalize the top-k weights to sum to 1 (Mixtral: always; Qwen2-MoE: norm_topk_prob).
   */
  normTopK: boolean;
  /** Intermediate size of each routed expert (moe_intermediate_size, else intermediate). */
  expertIntermediate: number;
  /** Qwen2-MoE / DeepSeek shared expert, always active. `gated`: sigmoid(shared_expert_gate · x). */
  sharedExpert?: { intermediate: number; gated: boolean };
}

export interface ModelSpec {
  arch: ArchName;
  /** d_model. */
  hidden: number;
  /** Dense MLP width (for MoE models: the dense width from config, may be unused). */
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  /** Per-head dim; hidden / heads unless the config says otherwise. */
  headDim: number;
  vocab: number;
  /** Max positions the KV cache may hold by default. */
  contextLength: number;
  /**
   * Sliding-window attention (Mistral, Mixtral: config.json `sliding_window`; Qwen2 with
   * `use_sliding_window`): each query sees only the last `slidingWindow` positions, itself
   * included. Undefined: full causal attention.
   */
  slidingWindow?: number;
  /**
   * The first layer that attends within slidingWindow (Qwen2's `max_window_layers`: the layers
   * before it attend to everything). Undefined: every layer. See attentionWindow.
   */
  slidingWindowFirstLayer?: number;
  ropeTheta: number;
  /** RoPE frequency scaling (config.json `rope_scaling`); undefined = plain theta^(−2j/headDim). */
  ropeScaling?: RopeScaling;
  rmsEps: number;
  /** lm_head shares the token embedding matrix. */
  tieEmbeddings: boolean;
  /** q/k/v projections carry a bias (qwen2, qwen2_moe). */
  qkvBias: boolean;
  /** Each head of q and k is RMS-normalized (weights [headDim]) before RoPE (qwen3, qwen3_moe). */
  qkNorm?: boolean;
  /**
   * RoPE pairing. 'half' = HF rotate_half (dims i and i+headDim/2 rotate together);
   * 'interleaved' = llama2.c / GGUF-llama pairs (2i, 2i+1). Checkpoints in HF layout are
   * 'half'; llama2.c checkpoints are 'interleaved'.
   */
  ropeStyle: 'half' | 'interleaved';
  moe?: MoeSpec;
  bosTokenId?: number;
  eosTokenIds?: number[];
}

/**
 * RoPE frequency scaling. 'llama3': Llama 3.1+ (transformers `_compute_llama3_parameters`,
 * config.json rope_scaling rope_type 'llama3'): pairs whose wavelength is longer than
 * originalContext / lowFreqFactor turn `factor` times slower, those shorter than
 * originalContext / highFreqFactor stay, and those between blend the two; the attention scale
 * is unchanged (llama3 has no mscale). 'factors': one divisor per pair, as a GGUF stores the
 * same scaling (llama.cpp's rope_freqs.weight [headDim / 2]).
 */
export type RopeScaling = Llama3RopeScaling | { type: 'factors'; factors: number[] };

export interface Llama3RopeScaling {
  type: 'llama3';
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  /** original_max_position_embeddings: the context the model was pretrained at (8192 for Llama 3). */
  originalContext: number;
}

/** The sliding window layer `layer` attends within, or undefined for full causal attention. */
export function attentionWindow(
  spec: Pick<ModelSpec, 'slidingWindow' | 'slidingWindowFirstLayer'>,
  layer: number,
): number | undefined {
  if (spec.slidingWindow === undefined) return undefined;
  return layer >= (spec.slidingWindowFirstLayer ?? 0) ? spec.slidingWindow : undefined;
}
