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
}

export type EngineEvent =
  | { type: 'token'; id: number; text: string; routing?: TokenRouting }
  | { type: 'backend'; backend: BackendReport };

export interface GenerateSummary {
  tokens: number;
  promptTokens: number;
  /** Prompt tokens whose keys and values were reused from the previous turn (not prefilled again). */
  cachedTokens: number;
  stoppedBy: 'eos' | 'maxTokens' | 'abort';
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
}

export interface EngineApi {
  load(
    ref: ModelRef,
    choice: BackendChoice,
    onProgress?: (p: LoadProgress) => void,
  ): Promise<{ model: ModelSummary; backend: BackendReport }>;
  setBackend(choice: BackendChoice): Promise<BackendReport>;
  generate(request: GenerateRequest, onEvents: (events: EngineEvent[]) => void): Promise<GenerateSummary>;
  stop(): void;
  reset(): void;
  analyze(text: string, routing?: RoutingOverrides): Promise<AnalyzedText>;
  stats(): EngineStats;
  quantizeStored(
    id: string,
    quant: StoredQuant,
    dbName?: string,
    onProgress?: (p: LoadProgress) => void,
  ): Promise<string>;
  exportGguf(quant: GgufExportQuant): Promise<Uint8Array>;
}
