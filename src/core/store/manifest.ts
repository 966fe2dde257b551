/**
 * Persisted records of the model store. Every record carries `schemaVersion`; migrations
 * return `{type:'success'|'error'}` instead of throwing (STYLE habit 14).
 *
 * Keys (one IndexedDB object store, string keys):
 *   manifest/<id>                    ModelManifest — written LAST: its presence means "ready"
 *   pending/<id>                     PendingModel  — an import in progress (resumable)
 *   chunk/<id>/<file>/<index>        Uint8Array    — `chunkBytes` bytes (the last one shorter)
 */

import type { ModelSummary } from '../model/check.ts';

/**
 * 2: a manifest carries `summary` (checkModelFiles passed before it was written).
 * 1: no summary; the model was stored without the load checks (Re-verify runs them).
 */
export const MODEL_STORE_SCHEMA_VERSION = 2;

/** Tens of MB per record: big enough that IndexedDB overhead vanishes, small enough to resume. */
export const DEFAULT_CHUNK_BYTES = 32 * 1024 * 1024;

export type ImportQuant = 'keep' | StoredQuant;

/** What an import may convert a model's weights to (a GGUF beside the original config). */
export type StoredQuant = 'f16' | 'q8_0' | 'q4_0';

export type ModelSource =
  | { kind: 'zoo'; path: string }
  | { kind: 'hub'; baseUrl: string; repo: string; rev: string }
  | { kind: 'local'; folderName: string }
  | { kind: 'merge'; yaml: string };

export interface StoredFile {
  name: string;
  size: number;
  /** Lowercase hex, when the source gave one (hub LFS files) or we computed it. */
  sha256?: string;
  chunks: number;
}

export interface ModelManifest {
  schemaVersion: typeof MODEL_STORE_SCHEMA_VERSION;
  id: string;
  title: string;
  source: ModelSource;
  files: StoredFile[];
  chunkBytes: number;
  totalBytes: number;
  createdAt: number;
  importQuant?: ImportQuant;
  /** Free-form facts the UI shows (donors of a merged model, expert prompts …). */
  notes?: Record<string, unknown>;
  /** What checkModelFiles found at import (or the last Re-verify); absent on manifests migrated from version 1. */
  summary?: ModelSummary;
}

export interface PendingFile {
  name: string;
  size: number;
  sha256?: string;
  /** Chunks stored so far; bytes before chunksDone*chunkBytes are safe. */
  chunksDone: number;
  complete: boolean;
}

export interface PendingModel {
  schemaVersion: typeof MODEL_STORE_SCHEMA_VERSION;
  id: string;
  title: string;
  source: ModelSource;
  chunkBytes: number;
  files: PendingFile[];
  startedAt: number;
  importQuant?: ImportQuant;
}

export type Migration<T> = { type: 'success'; value: T } | { type: 'error'; message: string };

export const manifestKey = (id: string) => `manifest/${id}`;
export const pendingKey = (id: string) => `pending/${id}`;
export const chunkPrefix = (id: string) => `chunk/${id}/`;
export const chunkKey = (id: string, file: string, index: number) => `chunk/${id}/${encodeURIComponent(file)}/${index}`;

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Validates a stored manifest and migrates version 1 (no summary) to 2. */
export function migrateManifest(stored: unknown): Migration<ModelManifest> {
  if (!isObject(stored)) return { type: 'error', message: 'store: manifest is not an object' };
  const raw = stored.schemaVersion === 1 ? { ...stored, schemaVersion: MODEL_STORE_SCHEMA_VERSION } : stored;
  if (raw.schemaVersion !== MODEL_STORE_SCHEMA_VERSION) {
    return {
      type: 'error',
      message: `store: manifest '${String(raw.id)}' has schemaVersion ${String(raw.schemaVersion)}, expected ${MODEL_STORE_SCHEMA_VERSION}`,
    };
  }
  if (typeof raw.id !== 'string' || !Array.isArray(raw.files) || typeof raw.chunkBytes !== 'number') {
    return { type: 'error', message: `store: manifest '${String(raw.id)}' lacks id, files or chunkBytes` };
  }
  return { type: 'success', value: raw as unknown as ModelManifest };
}

/** Pending records did not change in version 2: a version-1 one is relabelled. */
export function migratePending(raw: unknown): Migration<PendingModel> {
  const known = isObject(raw) && (raw.schemaVersion === 1 || raw.schemaVersion === MODEL_STORE_SCHEMA_VERSION);
  if (!known || !Array.isArray(raw.files)) {
    return { type: 'error', message: `store: pending record '${isObject(raw) ? String(raw.id) : '?'}' is unreadable` };
  }
  return { type: 'success', value: { ...raw, schemaVersion: MODEL_STORE_SCHEMA_VERSION } as unknown as PendingModel };
}

export function chunkCount(size: number, chunkBytes: number): number {
  return Math.max(1, Math.ceil(size / chunkBytes));
}
