/**
 * The engine behind the worker: one loaded model, one session on the chosen backend, a
 * streamed generate with routing records, stop, analysis of any text. Pure wiring of the
 * core (no React, no DOM beyond IndexedDB/fetch/navigator); workers/engine.worker.ts exposes
 * it with comlink, and browser tests drive it directly.
 */
import { markPhase } from '../../src/core/io/marks.ts';
import type { LoadProgress } from '../../src/core/io/progress.ts';
import type { ExportableModel } from '../../src/core/model/load.ts';
import { loadModelLazy } from '../../src/core/model/load.ts';
import { HfTokenizer } from '../../src/core/tokenizer/hf.ts';
import { type TokenizerCallEvent, watchedTokenizer } from '../../src/core/tokenizer/guard.ts';
import { quantizeStoredModel } from './quantize-stored.ts';
import { generate, yieldToEventLoop } from '../../src/core/runtime/generate.ts';
import { exportGguf } from '../../src/core/model/gguf-model.ts';
import { readText, writableStreamSink } from '../../src/core/io/byte-source.ts';
import type { GeneratedToken, RoutingOverrides, Session } from '../../src/core/runtime/types.ts';
import { idbKvStore } from '../../src/core/store/kv.ts';
import { openModelRef } from '../model-ref.ts';
import { browserPlatform, openCpuSession, openSessionWithFallback } from './backend-choice.ts';
import { rolledPromptIds, requestPromptIds } from './prompt.ts';
import { sessionContextLength, summarize } from './model-summary.ts';
import type { FileSet } from '../../src/core/io/byte-source.ts';
import type { LoadModelOptions } from '../../src/core/model/load.ts';
import type { PlatformOptions } from '../../src/core/runtime/backends.ts';
import { SparePool } from './spare-pool.ts';
import type {
  AnalyzedText,
  BackendChoice,
  BackendReport,
  EngineApi,
  EngineEvent,
  ModelRef,
  EngineState,
  EngineStats,
  GenerateRequest,
  GenerateSummary,
  LoadOptions,
  ModelSummary,
} from './api.ts';
import type { GgufExportQuant } from '../../src/core/model/gguf-names.ts';
import type { StoredQuant } from '../../src/core/store/manifest.ts';

const EVENT_BATCH_MS = 40;

function errorState(e: unknown, modelId?: string): EngineState {
  const err = e as Error;
  return { kind: 'failed', modelId, errorName: err?.name ?? 'Error', message: err?.message ?? String(e) };
}

/** How the host opens sessions; tests inject a backend that fails mid-generation. */
export interface EngineHostOptions {
  openSession?: typeof openSessionWithFallback;
  /** This thread's platform options for `threads` WASM threads (default: a tab's or a worker's). */
  platform?: (threads: number | undefined) => PlatformOptions | Promise<PlatformOptions>;
}

export class EngineHost implements EngineApi {
  private readonly openSession: typeof openSessionWithFallback;
  /** Kernels compiled and pool workers started by warmUp, taken by the next session. */
  private readonly spares: SparePool;
  constructor(options: EngineHostOptions = {}) {
    this.openSession = options.openSession ?? openSessionWithFallback;
    this.spares = new SparePool(options.platform ?? browserPlatform);
  }

  private state: EngineState = { kind: 'empty' };
  private model?: ExportableModel;
  private summary?: ModelSummary;
  private session?: Session;
  private backend?: BackendReport;
  private abort?: AbortController;
  private speeds: { prefill?: number; decode?: number } = {};
  /** The ids whose keys and values the session's KV cache holds, in order ([] after any doubt). */
  private cachedIds: number[] = [];
  /** warmUp's preload in flight, keyed by the ref and choice it loads. */
  private preloading?: { key: string; loading: Promise<{ model: ModelSummary; backend: BackendReport }> };

  async warmUp(preload?: { ref: ModelRef; choice: BackendChoice }): Promise<void> {
    // The preload reads and parses the model while the kernels compile and the pool starts
    // (its session waits for them in platformFor), so the two waits overlap.
    const prepared = this.spares.prepare();
    if (preload) {
      const loading = this.load(preload.ref, preload.choice);
      loading.catch(() => {}); // a failed preload is only a lost head start: the page's load runs again
      this.preloading = { key: JSON.stringify([preload.ref, preload.choice]), loading };
    }
    await prepared;
  }

  async load(ref: ModelRef, choice: BackendChoice, onProgress?: (p: LoadProgress) => void, options: LoadOptions = {}) {
    const preloading = this.preloading;
    this.preloading = undefined;
    if (preloading) {
      // Never two loads at once: the preload settles first, and is the answer when it is this one.
      const preloaded = await preloading.loading.catch(() => undefined);
      const same = preloading.key === JSON.stringify([ref, choice]) && !options.threads && !options.contextLength;
      if (preloaded && same) return preloaded;
    }
    this.unload(ref.id);
    try {
      const { files, title } = await openModelRef(ref, onProgress);
      return await this.loadFiles(files, { id: ref.id, title, fromCache: ref.kind === 'store' }, choice, {
        ...options,
        onProgress,
      });
    } catch (e) {
      this.state = errorState(e, ref.id);
      throw e;
    }
  }

  /**
   * Loads a model from files this thread opened itself (the library API in Node: a folder or
   * a .gguf through node:fs). Not part of EngineApi: a FileSet cannot cross comlink.
   */
  async loadFiles(
    files: FileSet,
    source: { id: string; title: string; fromCache?: boolean },
    choice: BackendChoice,
    options: LoadOptions & { onProgress?: (p: LoadProgress) => void; model?: LoadModelOptions } = {},
  ): Promise<{ model: ModelSummary; backend: BackendReport }> {
    this.unload(source.id);
    try {
      const model = await loadModelLazy(files, options.model);
      markPhase('moe:model-read');
      const maxContext = sessionContextLength(model.spec.contextLength, options.contextLength);
      const platform = await this.spares.platformFor(options.threads);
      const opened = await this.openSession(model.weights, choice, maxContext, platform);
      markPhase('moe:session-open');
      this.model = model;
      this.session = opened.session;
      this.backend = opened.report;
      this.summary = summarize(source.id, source.title, model, maxContext);
      this.state = { kind: 'ready', modelId: source.id };
      options.onProgress?.({
        phase: 'done',
        file: '',
        bytesDone: 0,
        bytesTotal: 0,
        fromCache: source.fromCache ?? false,
        totalDone: 0,
        totalBytes: 0,
      });
      return { model: this.summary, backend: this.backend };
    } catch (e) {
      this.state = errorState(e, source.id);
      throw e;
    }
  }

  private unload(nextId: string): void {
    this.stop();
    this.session?.dispose();
    this.session = undefined;
    this.cachedIds = [];
    this.model = undefined;
    this.summary = undefined;
    this.state = { kind: 'loading', modelId: nextId };
  }

  async setBackend(choice: BackendChoice): Promise<BackendReport> {
    const model = this.requireModel();
    this.stop();
    const opened = await this.openSession(
      model.weights,
      choice,
      this.session!.maxContext,
      await this.spares.platformFor(undefined),
    );
    this.session?.dispose();
    this.session = opened.session;
    this.cachedIds = [];
    this.backend = opened.report;
    return opened.report;
  }

  async generate(request: GenerateRequest, onEvents: (events: EngineEvent[]) => void): Promise<GenerateSummary> {
    const model = this.requireModel();
    this.stop();
    const abort = new AbortController();
    this.abort = abort;
    this.state = { kind: 'generating', modelId: this.summary!.id };
    const batcher = createBatcher(onEvents);
    const generated: number[] = [];
    let stoppedBy: GenerateSummary['stoppedBy'] = 'maxTokens';
    let cachedTokens = 0;
    const started = performance.now();
    let firstTokenAt = 0;
    let prompt = { ids: [] as number[], dropped: 0 };
    const onToken = (t: GeneratedToken) => {
      if (!firstTokenAt) {
        firstTokenAt = performance.now();
        markPhase('moe:first-token-out');
      }
      generated.push(t.id);
      batcher.push({ type: 'token', id: t.id, text: t.text, routing: t.routing });
    };
    try {
      prompt = requestPromptIds(model, request, this.session!.maxContext, 0);
      // the prompt is encoded: the host's deadline on a hanging tokenizer (src/state/prompt-deadline.ts) stops here
      markPhase('moe:prompt-encoded');
      onEvents([{ type: 'prompt', tokens: prompt.ids.length }]);
      for (let attempt = 0; ; attempt++) {
        try {
          cachedTokens = attempt === 0 ? this.reusableTokens(prompt.ids) : 0;
          stoppedBy = await this.runGeneration(model, prompt.ids, generated, request, abort.signal, onToken);
          // drop-oldest-turns: an answer that fills the context goes on with fewer of the oldest messages.
          while (stoppedBy === 'contextFull' && request.overflow !== 'refuse') {
            const rolled = rolledPromptIds(model, request, this.session!.maxContext, generated.length, prompt.dropped);
            if (!rolled) break;
            prompt = rolled;
            stoppedBy = await this.runGeneration(model, prompt.ids, generated, request, abort.signal, onToken);
          }
          break;
        } catch (e) {
          if (abort.signal.aborted || (e as Error).name === 'CancelledError') {
            stoppedBy = 'abort';
            break;
          }
          if (attempt > 0 || this.backend?.name === 'cpu' || isInputError(e)) throw e;
          const opened = await openCpuSession(
            model.weights,
            this.session!.maxContext,
            `${this.backend?.name} failed: ${(e as Error).message}`,
          );
          this.session?.dispose();
          this.session = opened.session;
          this.cachedIds = [];
          this.backend = opened.report;
          batcher.push({ type: 'backend', backend: opened.report });
        }
      }
    } finally {
      batcher.flush();
      if (this.abort === abort) this.abort = undefined;
      this.state = { kind: 'ready', modelId: this.summary!.id };
    }
    const ended = performance.now();
    const prefillMs = Math.max(1e-3, (firstTokenAt || ended) - started);
    const decodeMs = Math.max(1e-3, ended - (firstTokenAt || ended));
    this.speeds = {
      prefill: ((prompt.ids.length - cachedTokens) / prefillMs) * 1000,
      decode: generated.length > 1 ? ((generated.length - 1) / decodeMs) * 1000 : undefined,
    };
    return {
      tokens: generated.length,
      promptTokens: prompt.ids.length,
      cachedTokens,
      stoppedBy,
      droppedMessages: prompt.dropped,
      prefillTokPerSec: this.speeds.prefill ?? 0,
      decodeTokPerSec: this.speeds.decode ?? 0,
      backend: this.backend!,
    };
  }

  /** How many leading ids of `ids` the KV cache already holds (at least one id is always run, for its logits). */
  private reusableTokens(ids: number[]): number {
    const limit = Math.min(this.cachedIds.length, ids.length - 1);
    let n = 0;
    while (n < limit && this.cachedIds[n] === ids[n]) n++;
    return n;
  }

  /**
   * One pass of generate(): the longest prefix the KV cache already holds is kept (a turn that
   * extends the last one prefills only its new tokens; an edit or a regenerate forks where the
   * ids first differ) and the rest is prefilled; continues after `already` generated tokens.
   */
  private async runGeneration(
    model: ExportableModel,
    promptIds: number[],
    already: number[],
    request: GenerateRequest,
    signal: AbortSignal,
    onToken: (t: GeneratedToken) => void,
  ): Promise<GenerateSummary['stoppedBy']> {
    const session = this.session!;
    const ids = [...promptIds, ...already];
    const reuse = this.reusableTokens(ids);
    session.truncate(reuse);
    this.cachedIds = ids.slice(0, reuse);
    const room = session.maxContext - ids.length;
    const wanted = request.sampling.maxTokens - already.length;
    const maxTokens = Math.min(wanted, room);
    const full: GenerateSummary['stoppedBy'] = room < wanted ? 'contextFull' : 'maxTokens';
    if (maxTokens <= 0) return full;
    let count = 0;
    const stream = generate(session, model.tokenizer, ids.slice(reuse), {
      ...request.sampling,
      maxTokens,
      routing: request.routing,
      trace: true,
      signal,
      cachedIds: this.cachedIds,
    });
    let prefilled = false;
    try {
      for await (const token of stream) {
        if (!prefilled) this.cachedIds.push(...ids.slice(reuse));
        prefilled = true;
        this.cachedIds.push(token.id); // generate yields a token after running it through the model
        onToken(token);
        count++;
        await yieldToEventLoop(); // lets stop() (a comlink message) in between tokens
      }
    } catch (e) {
      // A cancel lands between steps (the cache holds what was recorded); anything else may
      // have left the cache half-written: trust none of it.
      if ((e as Error).name !== 'CancelledError' || !prefilled) this.cachedIds = [];
      throw e;
    }
    // An answer of no tokens (the first sample was a stop) still prefilled the prompt: keep it
    // when the session holds exactly that, so the next turn prefills only what is new.
    if (!prefilled) this.cachedIds = session.position === ids.length ? ids.slice() : [];
    if (signal.aborted) return 'abort';
    return count >= maxTokens ? full : 'eos';
  }

  stop(): void {
    this.abort?.abort();
  }

  /** Frees the model and its session (the library API's engine.dispose in Node). */
  dispose(): void {
    this.unload('');
    this.state = { kind: 'empty' };
  }

  reset(): void {
    this.stop();
    this.session?.truncate(0);
    this.cachedIds = [];
  }

  async analyze(
    text: string,
    routing?: RoutingOverrides,
    onTokenizerCall?: (event: TokenizerCallEvent) => void,
  ): Promise<AnalyzedText> {
    const model = this.requireModel();
    if (!model.tokenizer)
      throw Object.assign(new Error('engine: this model has no tokenizer'), { name: 'ConfigError' });
    // an HF tokenizer runs the file's code: each call is reported to the page's deadline
    const tokenizer =
      onTokenizerCall && model.tokenizer instanceof HfTokenizer
        ? await watchedTokenizer((event) => void onTokenizerCall(event))(model.tokenizer)
        : model.tokenizer;
    const ids = tokenizer.encode(text, { addSpecialTokens: false }).slice(0, this.session!.maxContext);
    if (ids.length === 0) return { pieces: [], routing: [] };
    this.stop();
    this.session!.truncate(0);
    this.cachedIds = [];
    const result = await this.session!.forward(ids, { trace: true, routing });
    this.session!.truncate(0);
    return {
      pieces: ids.map((id) => tokenizer.decode([id])),
      routing: result.routing ?? ids.map(() => ({ layers: [] })),
    };
  }

  /** Import-time quantization of a stored HF model (f16 / q8_0 / q4_0 via GGUF); returns the new id. */
  async quantizeStored(
    id: string,
    quant: StoredQuant,
    dbName?: string,
    onProgress?: (p: LoadProgress) => void,
  ): Promise<string> {
    return (await quantizeStoredModel(idbKvStore(dbName), id, quant, onProgress)).id;
  }

  /** The loaded model as GGUF (exportGguf, with its tokenizer files) streamed into `out` tensor by tensor. */
  async exportGguf(quant: GgufExportQuant, out: WritableStream<Uint8Array>): Promise<{ bytes: number }> {
    const sink = writableStreamSink(out);
    try {
      const model = this.requireModel();
      const list = await model.files.list();
      const readJson = async (name: string) =>
        list.includes(name) ? JSON.parse(await readText(await model.files.open(name))) : undefined;
      const tokenizerJson = await readJson('tokenizer.json');
      if (!tokenizerJson)
        throw Object.assign(new Error("export: GGUF needs the model's tokenizer.json"), { name: 'ConfigError' });
      await exportGguf(
        sink,
        model.weights,
        { tokenizerJson, tokenizerConfig: await readJson('tokenizer_config.json') },
        quant,
      );
    } catch (error) {
      await sink.abort(error);
      throw error;
    }
    return { bytes: sink.bytes };
  }

  stats(): EngineStats {
    return {
      state: this.state,
      backend: this.backend,
      model: this.summary,
      prefillTokPerSec: this.speeds.prefill,
      decodeTokPerSec: this.speeds.decode,
      weightBytes: this.summary?.weightBytes,
      sessionMemory: this.session?.memory,
    };
  }

  /** For the routing preview and tests: the loaded model (stays inside the worker). */
  loadedModel(): ExportableModel | undefined {
    return this.model;
  }

  private requireModel(): ExportableModel {
    if (!this.model || !this.session)
      throw Object.assign(new Error('engine: no model is loaded'), { name: 'ConfigError' });
    return this.model;
  }
}

function isInputError(e: unknown): boolean {
  const name = (e as Error)?.name;
  return name === 'ConfigError' || name === 'ContextFullError' || name === 'FormatError';
}

/** Groups token events into one message per EVENT_BATCH_MS (fewer comlink round trips). */
function createBatcher(send: (events: EngineEvent[]) => void) {
  let queue: EngineEvent[] = [];
  let last = 0;
  const flush = () => {
    if (queue.length) {
      const out = queue;
      queue = [];
      send(out);
    }
    last = performance.now();
  };
  return {
    push(e: EngineEvent) {
      queue.push(e);
      if (performance.now() - last >= EVENT_BATCH_MS || e.type === 'backend') flush();
    },
    flush,
  };
}
