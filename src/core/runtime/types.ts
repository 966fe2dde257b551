/**
 * The runtime contract shared by every backend (cpu reference, webgpu, wasm) and by
 * generate(). Names of routing intermediates (moeProbs, expertIds, expertWeights) are a
 * public contract shared by the trace, the tests and the heatmap (STYLE habit 8).
 */
import type { ExportableWeights } from '../model/weights.ts';

export type BackendName = 'cpu' | 'webgpu' | 'wasm';

/** Routing of one token at one MoE layer. */
export interface LayerRouting {
  expertIds: number[]; // [chosen]   chosen experts, highest weight first (chosen = k, or fewer under top-p)
  expertWeights: number[]; // [chosen]   the weights the expert outputs were mixed with
  moeProbs: number[]; // [experts] full softmax over router logits (before top-k)
  sharedGate?: number; // Qwen2-MoE: sigmoid(shared_expert_gate · x)
}

/** Routing of one token: one entry per layer (empty for dense models). */
export interface TokenRouting {
  layers: LayerRouting[];
}

/** A text as the engine and the routing preview analyse it: its tokens and their routing. */
export interface AnalyzedText {
  /** [nTokens] piece text of each token. */
  pieces: string[];
  /** [nTokens] routing of each token (empty layers for a dense model). */
  routing: TokenRouting[];
}

/**
 * Dynamic routing (top-p over experts): per token, the fewest experts whose router probabilities
 * sum to at least `p`, never fewer than `minExperts` nor more than `maxExperts`. Banned experts
 * are out before the cut; forced experts take slots first and their probability counts towards p.
 */
export interface ExpertsTopP {
  /** Probability mass to reach, in (0, 1]; 1 routes to maxExperts experts. */
  p: number;
  /** Fewest experts per token (default 1). */
  minExperts?: number;
  /** Most experts per token (default: every expert); also the size of each routing record. */
  maxExperts?: number;
  /** Layers routed by top-p (undefined = every layer); the others keep a fixed expertsPerToken. */
  layers?: number[];
}

/**
 * Per-request routing interventions. Every backend honours them through planRouting.
 * - expertsPerToken: override of the model's experts per token (1 ≤ n ≤ experts).
 * - expertsPerTokenByLayer: the same, one value per layer ([layers]); not with expertsPerToken.
 * - expertsTopP: dynamic routing (ExpertsTopP) instead of a fixed count at its layers; setting
 *   expertsPerToken(ByLayer) as well is allowed only when expertsTopP names its layers (the others use it).
 * - ban: those experts get router logit −∞ (never chosen; excluded from moeProbs' softmax).
 * - force: those experts are always chosen (they take top-k slots first; remaining slots go
 *   to the highest-probability others). Weights are then the chosen experts' probabilities,
 *   renormalized if the model renormalizes.
 * `layers` undefined = every layer.
 */
export interface RoutingOverrides {
  expertsPerToken?: number;
  expertsPerTokenByLayer?: number[]; // [layers]
  expertsTopP?: ExpertsTopP;
  ban?: { experts: number[]; layers?: number[] };
  force?: { experts: number[]; layers?: number[] };
}

export interface ForwardOptions {
  routing?: RoutingOverrides;
  /** Return TokenRouting for every input token. */
  trace?: boolean;
  /** Return the residual-stream input of every layer at the last input token (merge `hidden` gates). */
  captureLayerInputs?: boolean;
}

export interface ForwardResult {
  /** Logits of the last input token, [vocab]. */
  logits: Float32Array;
  /** [nTokens] when trace was asked for. */
  routing?: TokenRouting[];
  /** [layers] × [hidden] when captureLayerInputs was asked for. */
  layerInputs?: Float32Array[];
}

/** One model loaded on one backend with its KV cache. */
export interface Session {
  readonly backend: BackendName;
  /** Tokens currently in the KV cache. */
  readonly position: number;
  readonly maxContext: number;
  /**
   * The backend's own memory for this session, where it reports it (wasm: linear memory):
   * `weightBytes` the packed weights, `totalBytes` everything (weights, KV cache, scratch).
   */
  readonly memory?: { weightBytes: number; totalBytes: number };
  /** Appends `tokenIds` at positions position..position+n-1 and runs them (prefill when n>1). */
  forward(tokenIds: number[], options?: ForwardOptions): Promise<ForwardResult>;
  /** Drops the KV cache back to `position` tokens (0 = reset). */
  truncate(position: number): void;
  dispose(): void;
}

export interface Backend {
  readonly name: BackendName;
  /**
   * Builds the backend's own copy of `weights` (f32 arrays, wasm memory, GPU buffers) one
   * tensor at a time: a lazy tensor (loadModelLazy) is read, converted and dropped before
   * the next, so the session never holds a second, JS copy of the model.
   */
  createSession(weights: ExportableWeights, options?: { maxContext?: number }): Promise<Session>;
}

export interface SamplerOptions {
  /** 0 = greedy (argmax). */
  temperature?: number;
  topK?: number;
  topP?: number;
  /** >1 penalizes tokens already in the context (CTRL-style, as llama.cpp/HF). */
  repetitionPenalty?: number;
  seed?: number;
}

export interface GenerateOptions extends SamplerOptions {
  maxTokens?: number;
  /** Token ids that end generation (default: the model's EOS ids). Not yielded. */
  stopIds?: number[];
  /**
   * Texts that end generation (OpenAI's `stop`): the answer ends just before the first one, which
   * is never yielded; text that could be the start of one is held back until it is decided.
   */
  stop?: string[];
  routing?: RoutingOverrides;
  trace?: boolean;
  signal?: AbortSignal;
}

export interface GeneratedToken {
  id: number;
  /** Text added by this token (may be '' while a multi-byte character is incomplete). */
  text: string;
  routing?: TokenRouting;
}
