/**
 * The engine worker's API as the UI sees it through comlink (workers/engine.worker.ts).
 * Only plain data crosses: no tensors, no class instances. Errors keep their kind in `name`.
 */
import type { LoadProgress } from '../../src/core/io/progress.ts';
import type {
  AnalyzedText,
  BackendName,
  RoutingOverrides,
  SamplerOptions,
  TokenRouting,
} from '../../src/core/runtime/types.ts';
import type { ChatMessage } from '../../src/core/tokenizer/types.ts';
import type { TokenizerCallEvent } from '../../src/core/tokenizer/guard.ts';
import type { ModelRef } from '../model-ref.ts';
import type { GgufExportQuant } from '../../src/core/model/gguf-names.ts';
import type { StoredQuant } from '../../src/core/store/manifest.ts';

export type { AnalyzedText } from '../../src/core/runtime/types.ts';
export type { ModelRef } from '../model-ref.ts';

export type BackendChoice = 'auto' | 'webgpu' | 'wasm' | 'cpu';

/** Explicit lifecycle (STYLE: a union, not boolean flags). */
export type EngineState =
  | { kind: 'empty' }
  | { kind: 'loading'; modelId: string }
  | { kind: 'ready'; modelId: string }
  | { kind: 'generating'; modelId: string }
  | { kind: 'failed'; modelId?: string; errorName: string; message: string };

export interface ModelSummary {
  id: string;
  title: string;
  arch: string;
  layers: number;
  hidden: number;
  vocab: number;
  experts: number;
  expertsPerToken: number;
  hasChatTemplate: boolean;
  /** Bytes of weights held by the engine. */
  weightBytes: number;
  /** Tokens the session's KV cache holds at most (prompt + answer). */
  contextLength: number;
}

/** How a model is opened, besides its backend. */
export interface LoadOptions {
  /** WASM backend threads (default: this platform's choice). */
  threads?: number;
  /** KV cache length in tokens, at most the model's own context (default: the engine's). */
  contextLength?: number;
}

export interface BackendReport {
  name: BackendName;
  /** Why this backend runs (chosen, or a fallback and what failed). */
  reason: string;
}

export interface GenerateRequest {
  messages: ChatMessage[];
  sampling: SamplerOptions & { maxTokens: number; stopIds?: number[]; stop?: string[] };
  routing?: RoutingOverrides;
  /**
   * A prompt longer than the context: drop the oldest turns after the system prompt (also when
   * the answer fills the context: it goes on with fewer of them), or refuse it with a
   * ContextFullError (the library API's default: never a silent cut).
   */
  overflow?: 'drop-oldest-turns' | 'refuse';
  /** The last message is an assistant answer to continue (its text is the start of this answer). */
  continueFinal?: boolean;
}

export type EngineEvent =
  /** Sent once, unbatched, as soon as the prompt is rendered and encoded (before prefill). */
  | { type: 'prompt'; tokens: number }
  | { type: 'token'; id: number; text: string; routing?: TokenRouting }
  | { type: 'backend'; backend: BackendReport };

export interface GenerateSummary {
  tokens: number;
  promptTokens: number;
  /** Prompt tokens whose keys and values were reused from the previous turn (not prefilled again). */
  cachedTokens: number;
  /** eos: an end token or a stop string; contextFull: the KV cache filled before maxTokens. */
  stoppedBy: 'eos' | 'maxTokens' | 'contextFull' | 'abort';
  /** Messages left out to fit the context (overflow drop-oldest-turns); absent in answers saved before it existed. */
  droppedMessages?: number;
  prefillTokPerSec: number;
  decodeTokPerSec: number;
  backend: BackendReport;
}

export interface EngineStats {
  state: EngineState;
  backend?: BackendReport;
  model?: ModelSummary;
  prefillTokPerSec?: number;
  decodeTokPerSec?: number;
  weightBytes?: number;
  /** The session's own memory, where its backend reports it (Session.memory: wasm linear memory). */
  sessionMemory?: { weightBytes: number; totalBytes: number };
}

export interface EngineApi {
  /**
   * Prepares what any load needs before a model is chosen (the WASM kernels compiled, the
   * pool's workers started), so the page calls it at boot; never throws (a failure shows at load).
   * With `preload`, that model starts loading too: a `load` of the same ref and choice then
   * takes it (a returning user's "Chat with" the model of last time), any other load waits for
   * it to settle first.
   */
  warmUp(preload?: { ref: ModelRef; choice: BackendChoice }): Promise<void>;
  load(
    ref: ModelRef,
    choice: BackendChoice,
    onProgress?: (p: LoadProgress) => void,
    options?: LoadOptions,
  ): Promise<{ model: ModelSummary; backend: BackendReport }>;
  setBackend(choice: BackendChoice): Promise<BackendReport>;
  generate(request: GenerateRequest, onEvents: (events: EngineEvent[]) => void): Promise<GenerateSummary>;
  stop(): void;
  reset(): void;
  /**
   * `onTokenizerCall` hears the start and end of each call of an HF tokenizer (the text, then
   * its pieces): the page's deadline, engineTokenizerDeadline.
   */
  analyze(
    text: string,
    routing?: RoutingOverrides,
    onTokenizerCall?: (event: TokenizerCallEvent) => void,
  ): Promise<AnalyzedText>;
  stats(): EngineStats;
  quantizeStored(
    id: string,
    quant: StoredQuant,
    dbName?: string,
    onProgress?: (p: LoadProgress) => void,
  ): Promise<string>;
  /**
   * The loaded model as GGUF written into `out` tensor by tensor (its back-pressure paces the
   * export: a save picker's file takes it chunk by chunk, so no copy of the file is held); a
   * failure aborts `out`. Answers the bytes written.
   */
  exportGguf(quant: GgufExportQuant, out: WritableStream<Uint8Array>): Promise<{ bytes: number }>;
}
