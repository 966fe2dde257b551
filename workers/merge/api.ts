/**
 * The compose/merge API the UI calls through comlink (served by MergeHost in
 * workers/merge.worker.ts).
 */
import type { StorageEstimate } from '../../src/core/store/store-file-set.ts';
import type { CalibrationMethod } from '../../src/core/calibrate/calibrate.ts';
import type { CalibrationText } from '../../src/core/calibrate/texts.ts';
import type { CalibrationWindowing } from '../../src/core/calibrate/merged.ts';
import type { ConfigIssue } from '../../src/core/formats/mergekit-yaml.ts';
import type { AnalyzedText } from '../../src/core/runtime/types.ts';
import type { ModelRef } from '../model-ref.ts';
import type { TokenizerCallEvent } from '../../src/core/tokenizer/guard.ts';

/** Where each model reference of the YAML (its `path`) is read from. */
export type ModelSources = Record<string, ModelRef>;

export interface MergeCheck {
  ok: boolean;
  issues: ConfigIssue[];
  /** When ok: the chosen output architecture, tensor bytes and warnings. */
  arch?: string;
  totalBytes?: number;
  warnings: string[];
  /** When ok but the engine cannot open the output (core/merge exportOnlyReason): why; build refuses it, the CLI writes it. */
  exportOnly?: string;
}

export interface MergeBuildRequest {
  yaml: string;
  sources: ModelSources;
  layout: 'classic' | 'fused';
  outputId: string;
  title: string;
  /** Stored with the model: expert donors and prompts for the Routing page labels. */
  notes: Record<string, unknown>;
  /** IndexedDB database of the output (tests); default the app's. */
  dbName?: string;
  /** Store chunk size (the `?chunkBytes=` test hook, as the Library's imports use it); default the store's. */
  chunkBytes?: number;
  /** Build with routers fitted to these texts: the result of the same `calibrate` call is reused, else it fits now. */
  calibration?: MergeCalibrationRequest;
  /**
   * What the page's browser says this origin may still store (appStorageEstimate, so the
   * `?simulateFree=` hook reaches the worker): a merge it has no room for is refused before any
   * tensor is read (core/store/room.ts). Absent: no check.
   */
  storage?: StorageEstimate;
}

/** Calibration texts labelled by index in the YAML's experts, and the fit's settings (calibrateMergedModel's defaults). */
export interface MergeCalibrationRequest {
  texts: CalibrationText[];
  method?: CalibrationMethod;
  /** Tokens per text window; default the CLI's (DEFAULT_CALIBRATION in core/calibrate/merged.ts). */
  windowTokens?: number;
}

/** Typed calibration progress: the in-memory merge (bytes), the evaluations (windows), the fit per layer. */
export interface MergeCalibrationProgress {
  phase: 'merge' | 'evaluate' | 'targets' | 'forward' | 'fit' | 'train' | 'done';
  layer?: number;
  done: number;
  total: number;
}

/** Routing on the calibration texts of one router (the merged gates, or the calibrated ones). */
export interface MergeRoutingSummary {
  /** ownShare[expert][layer]: share of the expert's text tokens whose top-1 expert is that expert; null without texts. */
  ownShare: (number | null)[][];
  /** perplexity[expert] on the expert's texts; null without texts. */
  perplexity: (number | null)[];
}

/** What a calibration did; stored in the model's manifest notes as `calibration`. */
export interface MergeCalibrationSummary {
  method: CalibrationMethod;
  texts: number;
  tokens: number;
  windowTokens: number;
  /** Absent in summaries stored before packed windows existed (those were per-text). */
  windowing?: CalibrationWindowing;
  dataSha256: string;
  /** Texts per expert (index in the YAML's experts). */
  textsPerExpert: number[];
  /** before/after are scored on at most this many texts per expert (the first ones). */
  scoredTextsPerExpert: number;
  before: MergeRoutingSummary;
  after: MergeRoutingSummary;
  seconds: number;
}

/** A build's progress; Build writes into the library as the tensors come (nothing is stored after the merge). */
export interface MergeBuildProgress {
  phase: 'gates' | 'tensors' | 'files';
  bytesDone: number;
  bytesTotal: number;
  tensor?: string;
}

export interface MergeBuildResult {
  id: string;
  warnings: string[];
  files: string[];
}

/** Compose's "Build for export only": an output the engine cannot open, built straight into a zip. */
export interface MergeExportRequest {
  yaml: string;
  sources: ModelSources;
  layout: 'classic' | 'fused';
  /** The model card's title. */
  title: string;
  /** The zip's top folder (its entries are `folder/config.json` …). */
  folder: string;
}

export interface MergeExportResult {
  arch: string;
  warnings: string[];
  /** The files of the HF folder, in the order written. */
  files: string[];
}

export interface MergeApi {
  /** `layout` as Build will use it (what residual_scale does depends on it); default classic. */
  check(yaml: string, sources: ModelSources, layout?: 'classic' | 'fused'): Promise<MergeCheck>;
  /** `onTokenizerCall`: as calibrate's (the text, the prompts and the pieces go through the base's tokenizer). */
  preview(
    yaml: string,
    sources: ModelSources,
    text: string,
    onTokenizerCall?: (event: TokenizerCallEvent) => void,
  ): Promise<AnalyzedText>;
  /**
   * Fits the routers to `texts` (kept for a following build with the same yaml, sources and texts).
   * `onTokenizerCall` hears the start and end of every call of the base's tokenizer (the gates'
   * prompts, the texts): the page's deadline, mergeTokenizerDeadline.
   */
  calibrate(
    yaml: string,
    sources: ModelSources,
    calibration: MergeCalibrationRequest,
    onProgress: (p: MergeCalibrationProgress) => void,
    onTokenizerCall?: (event: TokenizerCallEvent) => void,
  ): Promise<MergeCalibrationSummary>;
  /** `onTokenizerCall`: as calibrate's (a build encodes the gates' prompts, and the texts when it calibrates now). */
  build(
    request: MergeBuildRequest,
    onProgress: (p: MergeBuildProgress) => void,
    onTokenizerCall?: (event: TokenizerCallEvent) => void,
  ): Promise<MergeBuildResult>;
  /**
   * Builds the HF folder (safetensors, config, tokenizer, YAML, model card) as one zip written
   * into `out` while the merge runs (a chunk at a time: `out`'s back-pressure paces the merge);
   * nothing goes into the library. A failure or cancel aborts `out`. For the outputs `check`
   * marks exportOnly; a loadable output is refused (Build stores it). `onTokenizerCall`: as build's.
   */
  buildExport(
    request: MergeExportRequest,
    out: WritableStream<Uint8Array>,
    onProgress: (p: MergeBuildProgress) => void,
    onTokenizerCall?: (event: TokenizerCallEvent) => void,
  ): Promise<MergeExportResult>;
  /** Aborts a running build, export or calibration (it rejects with a CancelledError). */
  cancel(): void;
}
