/**
 * modelStoreCommitChecked: a model becomes "ready" only after checkModelFiles passes on the
 * bytes as stored (read back through the store's own FileSet, before the manifest exists).
 * A refused model is deleted whole: chunks, pending record, nothing listed.
 */
import { type ErrorKind, StudioError } from '../errors.ts';
import type { ModelSummary } from '../model/check.ts';
import { describeCheckFailure } from '../model/check-failure.ts';
import type { KvStore } from './kv.ts';
import type { ModelManifest } from './manifest.ts';
import type { ModelWriter } from './model-store.ts';
import { modelStoreFileSet } from './store-file-set.ts';

/** The error of a refused import: names the model and the problem file; keeps the kind in `name`. */
export function importRefusal(title: string, error: Error): StudioError {
  const kind = (error instanceof StudioError ? error.name : 'FormatError') as ErrorKind;
  return new StudioError(kind, `'${title}' was not added ${describeCheckFailure(error)}. Nothing was stored.`);
}

/** Runs checkModelFiles on what `writer` stored, then commits with its summary; on failure deletes it. */
export async function modelStoreCommitChecked(
  kv: KvStore,
  writer: ModelWriter,
  notes?: Record<string, unknown>,
): Promise<ModelManifest> {
  const draft = writer.draft();
  let summary: ModelSummary;
  try {
    const { checkModelFiles } = await import('../model/check.ts'); // on first use, as in modelStoreVerify
    summary = await checkModelFiles(modelStoreFileSet(kv, draft));
  } catch (e) {
    await writer.abort();
    throw importRefusal(draft.title, e as Error);
  }
  return writer.commit(notes, summary);
}
