/**
 * Compose's worker side: live checks (parse → validate → plan, headers only), the routing
 * preview (gates recomputed from the base model; experts not needed), the build (runMerge
 * streamed into the model store as an HF folder, tensor by tensor), and the export-only build (the
 * same folder streamed as a zip into a stream the page writes to disk).
 */
import { CancelledError, ConfigError } from '../../src/core/errors.ts';
import { parseMergeYaml, type MoeMergeConfig } from '../../src/core/formats/mergekit-yaml.ts';
import type { FileSet } from '../../src/core/io/byte-source.ts';
import { lazyHfFolder } from '../../src/core/model/export-hf.ts';
import { exportOnlyReason } from '../../src/core/merge/architecture.ts';
import { createMergeRuntime } from '../../src/core/merge/default-runtime.ts';
import { planMerge } from '../../src/core/merge/plan.ts';
import { runMerge } from '../../src/core/merge/run.ts';
import { openMergeInputs, type MergeInputs, type ModelResolver } from '../../src/core/merge/sources.ts';
import { folderWriter } from '../../src/core/merge/writer.ts';
import { zipSinks } from '../../src/core/formats/zip.ts';
import { idbKvStore } from '../../src/core/store/kv.ts';
import { modelStoreCommitChecked } from '../../src/core/store/commit-checked.ts';
import { roomRefusal } from '../../src/core/store/room.ts';
import { modelStoreBeginWrite, modelStoreList, streamedFileOpener } from '../../src/core/store/model-store.ts';
import { type ModelRef, openModelRef } from '../model-ref.ts';
import { QUANTIZED_FILE, loadModelLazy } from '../../src/core/model/load.ts';
import { previewRouting } from './preview.ts';
import { hfModelCard, mergeModelCardFacts } from '../../src/core/merge/model-card.ts';
import { calibrationModelCard } from '../../src/core/calibrate/merged.ts';
import { calibrationKey, calibrationSummary, type CachedCalibration } from './calibration.ts';
import { calibrateMerge } from '../../src/core/calibrate/calibrate-merge.ts';
import type { MergePlan } from '../../src/core/merge/plan.ts';
import type { MergeRuntime, RunOptions } from '../../src/core/merge/run.ts';
import { cpuBackend } from '../../src/core/runtime/cpu/backend.ts';
import { type TokenizerCallEvent, watchedTokenizer } from '../../src/core/tokenizer/guard.ts';
import type {
  MergeApi,
  MergeCalibrationProgress,
  MergeCalibrationRequest,
  MergeCalibrationSummary,
  MergeBuildProgress,
  MergeBuildRequest,
  MergeBuildResult,
  MergeCheck,
  MergeExportRequest,
  MergeExportResult,
  ModelSources,
} from './api.ts';

/** Before/after is scored on the first 8 texts of each expert: a scoring pass over all of them costs more than the fit. */
export const COMPOSE_SCORED_TEXTS_PER_EXPERT = 8;

interface OpenedSource {
  files: FileSet;
  /** Said with every check and build that reads this source. */
  warning?: string;
}

async function openRef(ref: ModelRef): Promise<OpenedSource> {
  const { files, manifest } = await openModelRef(ref);
  if (!manifest) return { files };
  const list = await files.list();
  if (!list.includes(QUANTIZED_FILE) || list.some((f) => f.endsWith('.safetensors'))) return { files };
  return {
    files: await dequantizedFolder(files),
    warning: `'${manifest.title}' is stored quantized (${manifest.importQuant ?? 'gguf'}): it is merged from its dequantized weights, which carry that quantization's rounding`,
  };
}

/**
 * A quantized import (model.gguf + the original config and tokenizer files) as the HF folder
 * mergekit expects: q8_0/q4_0 dequantized to f32 (exact; f16 could not hold every q4_0 value),
 * tensor by tensor as the merge reads them. The GGUF's tensors are read from the store only
 * then (loadModelLazy), so a donor costs one tensor in memory, not its quantized size: four
 * q4_0 TinyLlama donors held whole were 2.5 GB.
 */
async function dequantizedFolder(files: FileSet): Promise<FileSet> {
  const { weights, config } = await loadModelLazy(files);
  // Every tensor f32 (a GGUF keeps some in f16) and torch_dtype float32 over the original
  // config's: as a base, it yields an f32 merge rather than rounding the dequantized values again.
  return lazyHfFolder(weights, files.name, {
    baseConfig: config as Record<string, unknown>,
    sidecarFiles: files,
    dtype: 'f32',
  });
}

/** The merge's runtime, its base tokenizer's every call reported to the page (its deadline) when it listens. */
function mergeRuntime(onTokenizerCall?: (event: TokenizerCallEvent) => void): MergeRuntime {
  return createMergeRuntime(cpuBackend, onTokenizerCall && watchedTokenizer((event) => void onTokenizerCall(event)));
}

export class MergeHost implements MergeApi {
  private folders = new Map<string, Promise<OpenedSource>>();
  private abort?: AbortController;
  /** The last calibration (one: a person calibrates the composition in front of them). */
  private calibrated?: CachedCalibration;

  /**
   * Cached per source (a URL folder keeps its files under RANGE_READ_MIN_BYTES whole and reads
   * bigger ones by Range windows; a stored one reads chunk records). Source warnings go to `warnings`.
   */
  private resolver(sources: ModelSources, warnings: string[]): ModelResolver {
    // Keep only the folders of the current composition: a person trying donors one after
    // another must not pin every source's open files and caches.
    const current = new Set(Object.values(sources).map((source) => JSON.stringify(source)));
    for (const key of [...this.folders.keys()]) if (!current.has(key)) this.folders.delete(key);
    return async (ref) => {
      const source = sources[ref.path];
      if (!source)
        throw Object.assign(new Error(`merge: model '${ref.path}' is not in the library`), { name: 'ConfigError' });
      const key = JSON.stringify(source);
      let folder = this.folders.get(key);
      if (!folder) {
        folder = openRef(source);
        this.folders.set(key, folder);
        folder.catch(() => this.folders.delete(key));
      }
      const opened = await folder;
      if (opened.warning && !warnings.includes(opened.warning)) warnings.push(opened.warning);
      return opened.files;
    };
  }

  private async parseAndOpen(
    yaml: string,
    sources: ModelSources,
  ): Promise<{ config: MoeMergeConfig; inputs: MergeInputs; sourceWarnings: string[] } | MergeCheck> {
    const parsed = parseMergeYaml(yaml);
    if (!parsed.ok) return { ok: false, issues: parsed.issues, warnings: [] };
    const sourceWarnings: string[] = [];
    try {
      return {
        config: parsed.config,
        inputs: await openMergeInputs(parsed.config, this.resolver(sources, sourceWarnings)),
        sourceWarnings,
      };
    } catch (e) {
      return { ok: false, issues: [{ field: '', message: (e as Error).message, severity: 'error' }], warnings: [] };
    }
  }

  async check(yaml: string, sources: ModelSources, layout?: 'classic' | 'fused'): Promise<MergeCheck> {
    const opened = await this.parseAndOpen(yaml, sources);
    if ('ok' in opened) return opened;
    const planned = planMerge(opened.config, opened.inputs, { layout });
    if (!planned.ok) return { ok: false, issues: planned.issues, warnings: [] };
    return {
      ok: true,
      issues: [],
      arch: planned.plan.arch,
      totalBytes: planned.plan.totalBytes,
      warnings: [...opened.sourceWarnings, ...planned.plan.warnings],
      exportOnly: exportOnlyReason(planned.plan.arch),
    };
  }

  async preview(
    yaml: string,
    sources: ModelSources,
    text: string,
    onTokenizerCall?: (event: TokenizerCallEvent) => void,
  ) {
    const opened = await this.parseAndOpen(yaml, sources);
    if ('ok' in opened)
      throw Object.assign(new Error(opened.issues.map((i) => i.message).join('; ')), { name: 'ConfigError' });
    return previewRouting(opened.config, opened.inputs, text, mergeRuntime(onTokenizerCall));
  }

  /** Parse, open and plan, or a ConfigError listing the issues. */
  private async planned(yaml: string, sources: ModelSources, layout?: 'classic' | 'fused') {
    const opened = await this.parseAndOpen(yaml, sources);
    if ('ok' in opened)
      throw Object.assign(new Error(opened.issues.map((i) => `${i.field}: ${i.message}`).join('; ')), {
        name: 'ConfigError',
      });
    const planned = planMerge(opened.config, opened.inputs, { layout });
    if (!planned.ok)
      throw Object.assign(new Error(planned.issues.map((i) => i.message).join('; ')), { name: 'ConfigError' });
    return { ...opened, plan: planned.plan };
  }

  private newAbort(): AbortController {
    this.abort?.abort();
    const abort = new AbortController();
    this.abort = abort;
    return abort;
  }

  /** Fits the routers (calibrateMerge with before/after evaluation); the result waits for a build. */
  private async fit(
    key: string,
    plan: MergePlan,
    inputs: MergeInputs,
    request: MergeCalibrationRequest,
    signal: AbortSignal,
    runtime: MergeRuntime,
    onProgress?: (p: MergeCalibrationProgress) => void,
  ): Promise<CachedCalibration> {
    const started = performance.now();
    const run = await calibrateMerge(plan, inputs, request.texts, {
      runtime,
      method: request.method,
      // absent: the CLI's windows (DEFAULT_CALIBRATION), so a model calibrated in the tab routes as ROUTING.md reports
      windowTokens: request.windowTokens,
      evaluate: true,
      evaluateTextsPerExpert: COMPOSE_SCORED_TEXTS_PER_EXPERT,
      signal,
      onProgress: (p) =>
        onProgress?.({ phase: p.phase, layer: 'layer' in p ? p.layer : undefined, done: p.done, total: p.total }),
    });
    const cached = {
      key,
      run,
      summary: calibrationSummary(
        run,
        request.texts,
        plan.experts,
        COMPOSE_SCORED_TEXTS_PER_EXPERT,
        (performance.now() - started) / 1000,
      ),
    };
    this.calibrated = cached;
    return cached;
  }

  async calibrate(
    yaml: string,
    sources: ModelSources,
    calibration: MergeCalibrationRequest,
    onProgress: (p: MergeCalibrationProgress) => void,
    onTokenizerCall?: (event: TokenizerCallEvent) => void,
  ): Promise<MergeCalibrationSummary> {
    const abort = this.newAbort();
    try {
      const { plan, inputs } = await this.planned(yaml, sources);
      const key = calibrationKey(yaml, sources, calibration);
      if (this.calibrated?.key === key) return this.calibrated.summary;
      const runtime = mergeRuntime(onTokenizerCall);
      return (await this.fit(key, plan, inputs, calibration, abort.signal, runtime, onProgress)).summary;
    } finally {
      if (this.abort === abort) this.abort = undefined;
    }
  }

  async build(
    request: MergeBuildRequest,
    onProgress: (p: MergeBuildProgress) => void,
    onTokenizerCall?: (event: TokenizerCallEvent) => void,
  ): Promise<MergeBuildResult> {
    const abort = this.newAbort();
    const opened = await this.planned(request.yaml, request.sources, request.layout);
    // Refused up front, before any tensor is read: the library keeps only models the engine opens.
    const exportOnly = exportOnlyReason(opened.plan.arch);
    if (exportOnly) throw new ConfigError(`merge: ${exportOnly}`);
    const kv = idbKvStore(request.dbName);
    // So is a merge the browser's storage plainly has no room for.
    const noRoom = roomRefusal(
      `the merged model '${request.title}'`,
      opened.plan.totalBytes,
      request.storage,
      await modelStoreList(kv).catch(() => []),
    );
    if (noRoom) throw noRoom;
    const runtime = mergeRuntime(onTokenizerCall);
    const calibration = request.calibration && (await this.calibrationFor(request, opened, abort.signal, runtime));
    const calibrationCard = calibration && calibrationModelCard(calibration.run.record);
    // The merge streams into the store: each file joins the pending record as the writer opens
    // it, its bytes go into chunk records as the tensors come, and the manifest is written last
    // (modelStoreCommitChecked), so the worker holds a tensor and a chunk, never the model
    // (a 4×1.1B bf16 merge is 6.8 GB). An id that names a ready model is refused here, before
    // any tensor is read, and that model stays as it was.
    const store = await modelStoreBeginWrite(kv, {
      id: request.outputId,
      title: request.title,
      source: { kind: 'merge', yaml: request.yaml },
      files: [],
      chunkBytes: request.chunkBytes,
    });
    const writer = folderWriter(streamedFileOpener(store));
    let result: Awaited<ReturnType<typeof runMerge>>;
    try {
      result = await runMerge(opened.plan, opened.inputs, writer, {
        ...calibration?.run.runOptions,
        // The card the Export page and the CLI's merge write for this model (hfModelCard).
        modelCard: hfModelCard(
          mergeModelCardFacts(request.title, opened.plan.config, request.yaml, opened.plan.arch, calibrationCard),
        ),
        runtime,
        signal: abort.signal,
        onProgress: buildProgress(onProgress),
      });
      if (abort.signal.aborted) throw new CancelledError('merge: cancelled');
    } catch (error) {
      // A cancelled or failed merge leaves no chunks behind (they are not a download to resume).
      await store.abort();
      throw error;
    }
    // Checked on the stored bytes, then the manifest; a refusal deletes what was written.
    await modelStoreCommitChecked(kv, store, {
      ...request.notes,
      arch: opened.plan.arch,
      warnings: [...opened.sourceWarnings, ...result.warnings],
      ...(calibration && { calibration: calibration.summary, calibrationRecord: calibration.run.record }),
    });
    if (this.abort === abort) this.abort = undefined;
    return { id: request.outputId, warnings: [...opened.sourceWarnings, ...result.warnings], files: result.files };
  }

  async buildExport(
    request: MergeExportRequest,
    out: WritableStream<Uint8Array>,
    onProgress: (p: MergeBuildProgress) => void,
    onTokenizerCall?: (event: TokenizerCallEvent) => void,
  ): Promise<MergeExportResult> {
    const abort = this.newAbort();
    const zip = zipSinks(request.folder);
    // The archive streams into `out` from the first file on; if `out` fails (disk full, the page
    // gave up), the merge stops at its next chunk.
    let failure: { error: unknown } | undefined;
    const piping = zip.stream.pipeTo(out).catch((error: unknown) => {
      if (failure) return; // the merge failed first and aborted the archive
      failure = { error };
      zip.abort(error);
      abort.abort();
    });
    // A cancel also fails the chunk waiting for the disk (a slow disk, or a save picker still open).
    abort.signal.addEventListener('abort', () => zip.abort(new CancelledError('merge: cancelled')));
    try {
      const opened = await this.planned(request.yaml, request.sources, request.layout);
      if (!exportOnlyReason(opened.plan.arch))
        throw new ConfigError(`merge: a ${opened.plan.arch} model opens here: build it into the library instead`);
      const result = await runMerge(opened.plan, opened.inputs, folderWriter(zip.openSink), {
        modelCard: hfModelCard(mergeModelCardFacts(request.title, opened.plan.config, request.yaml, opened.plan.arch)),
        runtime: mergeRuntime(onTokenizerCall),
        signal: abort.signal,
        onProgress: buildProgress(onProgress),
      });
      zip.close();
      await piping;
      if (failure) throw failure.error; // `out` failed after the last chunk (its close)
      return { arch: opened.plan.arch, warnings: [...opened.sourceWarnings, ...result.warnings], files: result.files };
    } catch (error) {
      failure ??= { error };
      zip.abort(error); // errors the archive, so `out` is aborted: a picked file keeps nothing of it
      await piping;
      throw failure.error;
    } finally {
      if (this.abort === abort) this.abort = undefined;
    }
  }

  /** The kept calibration of this yaml, sources and texts, or a fit now (progress reported as the 'gates' phase). */
  private async calibrationFor(
    request: MergeBuildRequest,
    opened: { plan: MergePlan; inputs: MergeInputs },
    signal: AbortSignal,
    runtime: MergeRuntime,
  ): Promise<CachedCalibration> {
    const calibration = request.calibration!;
    const key = calibrationKey(request.yaml, request.sources, calibration);
    if (this.calibrated?.key === key) return this.calibrated;
    return this.fit(key, opened.plan, opened.inputs, calibration, signal, runtime);
  }

  cancel(): void {
    this.abort?.abort();
  }
}

/** runMerge's progress as a build reports it (its 'done' is the files step that follows). */
function buildProgress(onProgress: (p: MergeBuildProgress) => void): RunOptions['onProgress'] {
  return (p) =>
    onProgress({
      phase: p.phase === 'done' ? 'files' : p.phase,
      bytesDone: p.bytesDone,
      bytesTotal: p.bytesTotal,
      tensor: p.tensor,
    });
}
