/**
 * The library API's contract (`import { createEngine } from 'moe-studio'`), the same in Node
 * and in a page: OpenAI's chat.completions shapes, plus an `moe` request field (routing
 * controls) and an `moe` field on every response (each generated token's routing).
 */
import type { BackendChoice, BackendReport, ModelSummary } from '../../workers/engine/api.ts';

export type { BackendChoice, BackendReport, ModelSummary } from '../../workers/engine/api.ts';

export interface ChatCompletionMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** Experts to force or ban: these ids at every MoE layer, or only at the listed layers (0-based). */
export type ExpertSelection = number[] | { experts: number[]; layers?: number[] };

/** Routing controls (MoE models only): how many experts each token uses, and which must or must not be chosen. */
export interface MoeRequest {
  /** Experts per token, the same at every layer or one per layer (an array with one value per layer). */
  experts_per_token?: number | number[];
  /**
   * Dynamic routing: each token goes to the fewest experts whose router probabilities reach `p`
   * (between `min_experts`, default 1, and `max_experts`, default every expert), at every layer
   * or only at `layers` (the others keep experts_per_token). A number is `{ p }`.
   */
  experts_top_p?: number | { p: number; min_experts?: number; max_experts?: number; layers?: number[] };
  force?: ExpertSelection;
  ban?: ExpertSelection;
  /** true: each layer's routing also carries `router_probs`, the router's full softmax (the Chat page's routing picture). */
  router_probs?: boolean;
}

/**
 * A prompt that does not fit the context: 'error' (default) refuses it with a ContextFullError;
 * 'drop_oldest_turns' leaves out the oldest messages after the system prompt until the prompt and
 * room for the answer fit (the response's `engine.dropped_messages` counts them), and an answer
 * that reaches the end of the context drops more of them and goes on.
 */
export type ContextOverflow = 'error' | 'drop_oldest_turns';

export interface ChatCompletionCreateParams {
  /** The loaded model's id, or omitted (the engine holds one model). */
  model?: string;
  messages: ChatCompletionMessage[];
  stream?: boolean;
  /** Accepted for OpenAI clients; usage is always in the last chunk. */
  stream_options?: { include_usage?: boolean };
  /** Accepted for OpenAI clients; not used. */
  user?: string;
  /** Tokens to generate at most (default: until the end token or the context fills). */
  max_tokens?: number;
  /** 0 = greedy; default 1. */
  temperature?: number;
  top_p?: number;
  top_k?: number;
  /** Texts that end the answer (not included in it): one string or up to 16. */
  stop?: string | string[];
  seed?: number;
  /** > 1 makes tokens already in the context less likely (as llama.cpp's repeat_penalty); default 1. */
  repetition_penalty?: number;
  context_overflow?: ContextOverflow;
  /**
   * true: the last message is an assistant answer to go on with (vLLM's name): the model
   * continues its text instead of starting a new turn; the response holds only the new text.
   */
  continue_final_message?: boolean;
  moe?: MoeRequest;
}

/** The second argument of create, as in OpenAI's client: `signal` stops the generation. */
export interface RequestOptions {
  /**
   * Aborting ends the answer where it is: the stream's last chunk (or the completion) has
   * finish_reason 'abort', the usage and `engine` of the tokens made so far.
   */
  signal?: AbortSignal;
  /**
   * Called once the prompt is rendered and encoded, before prefill, with its token count: a
   * host's deadline on a tokenizer that may hang (the studio's Chat ends the worker after
   * ENCODE_DEADLINE_MS) is met here. Not part of OpenAI's client.
   */
  onPrompt?: (tokens: number) => void;
}

/** 'abort': the request's signal stopped it (WebLLM's value for an interrupted answer). */
export type FinishReason = 'stop' | 'length' | 'abort';

/** How an answer was made (beyond OpenAI's shape): on the completion and on a stream's last chunk. */
export interface EngineReport {
  /** The backend that made the answer (after a fallback: the one fallen back to, and why). */
  backend: BackendReport;
  /** Prompt tokens run per second (those not reused from the KV cache). */
  prefill_tokens_per_second: number;
  /** Answer tokens per second after the first. */
  decode_tokens_per_second: number;
  /** The answer stopped because the context was full (finish_reason 'length' before max_tokens). */
  context_full: boolean;
  /** Messages left out to fit the context (context_overflow 'drop_oldest_turns'); 0 otherwise. */
  dropped_messages: number;
}

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: {
    /** Prompt tokens whose keys and values were kept from the previous call (not prefilled again). */
    cached_tokens: number;
  };
}

/** One MoE layer's routing of one token: the chosen experts, highest weight first, and their mixing weights. */
export interface MoeLayerRouting {
  expert_ids: number[];
  expert_weights: number[];
  /** [experts] the router's softmax over every expert, with `moe.router_probs: true` only. */
  router_probs?: number[];
}

/** The routing of one generated token: one entry per MoE layer (empty for a dense model). */
export interface MoeTokenRouting {
  token_id: number;
  layers: MoeLayerRouting[];
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  /** Unix seconds. */
  created: number;
  model: string;
  choices: {
    index: 0;
    message: { role: 'assistant'; content: string };
    finish_reason: FinishReason;
  }[];
  usage: CompletionUsage;
  /** Every generated token's routing, in order. */
  moe: { tokens: MoeTokenRouting[] };
  engine: EngineReport;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: {
    index: 0;
    delta: { role?: 'assistant'; content?: string };
    finish_reason: FinishReason | null;
  }[];
  /** Set on the last chunk only. */
  usage?: CompletionUsage;
  /** The routing of the tokens this chunk carries (those whose text is in delta.content). */
  moe: { tokens: MoeTokenRouting[] };
  /** Set on the last chunk only. */
  engine?: EngineReport;
  /** Set on the first chunk after the engine fell back to another backend mid-answer (reason: what failed). */
  fallback?: BackendReport;
}

export interface ChatCompletions {
  create(
    params: ChatCompletionCreateParams & { stream: true },
    options?: RequestOptions,
  ): Promise<AsyncIterable<ChatCompletionChunk>>;
  create(params: ChatCompletionCreateParams & { stream?: false }, options?: RequestOptions): Promise<ChatCompletion>;
  create(
    params: ChatCompletionCreateParams,
    options?: RequestOptions,
  ): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>>;
}

export interface Engine {
  /** The loaded model (its id is what `model` in a request must name). */
  readonly model: ModelSummary;
  /** The backend that runs it, and why. */
  readonly backend: BackendReport;
  readonly chat: { completions: ChatCompletions };
  /** Forgets the conversation held in the KV cache (the next call prefills everything). */
  reset(): Promise<void>;
  /** Stops the workers and frees the model. */
  dispose(): Promise<void>;
}

/** Options common to both platforms. */
export interface EngineOptionsBase {
  /** auto (default): WebGPU on a real GPU, else WASM SIMD; cpu: the TypeScript reference. */
  backend?: BackendChoice;
  /** WASM backend threads (Node default: every core; browser default: up to two). */
  threads?: number;
  /** KV cache length in tokens, at most the model's context (default: the model's, at most 1024). */
  contextLength?: number;
  /**
   * How long the model's tokenizer and chat template may take on a request (default
   * ENCODE_DEADLINE_MS, 10 s): Node runs each encode, decode and render in a worker thread it
   * ends past this; a page ends the engine worker when the prompt is not encoded in time
   * (not with `worker: false`). The request fails with a FormatError naming the file, and so
   * does every later one (create the engine again): a regex that backtracks on a text never
   * leaves a request pending for ever.
   */
  encodeDeadlineMs?: number;
}
