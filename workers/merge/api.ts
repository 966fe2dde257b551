/**
 * The compose/merge API the UI calls through comlink (served by MergeHost in
 * workers/merge.worker.ts).
 */
import type { ConfigIssue } from '../../src/core/formats/mergekit-yaml.ts';
import type { LoadProgress } from '../../src/core/io/progress.ts';
import type { AnalyzedText } from '../../src/core/runtime/types.ts';
import type { ModelRef } from '../model-ref.ts';

/** Where each model reference of the YAML (its `path`) is read from. */
export type ModelSources = Record<string, ModelRef>;

export interface MergeCheck {
  ok: boolean;
  issues: ConfigIssue[];
  /** When ok: the chosen output architecture, tensor bytes and warnings. */
  arch?: string;
  totalBytes?: number;
  warnings: string[];
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
}

export type MergeBuildProgress =
  | { phase: 'gates' | 'tensors' | 'files'; bytesDone: number; bytesTotal: number; tensor?: string }
  | { phase: 'storing'; store: LoadProgress };

export interface MergeBuildResult {
  id: string;
  warnings: string[];
  files: string[];
}

export interface MergeApi {
  check(yaml: string, sources: ModelSources): Promise<MergeCheck>;
  preview(yaml: string, sources: ModelSources, text: string): Promise<AnalyzedText>;
  build(request: MergeBuildRequest, onProgress: (p: MergeBuildProgress) => void): Promise<MergeBuildResult>;
  cancel(): void;
}
