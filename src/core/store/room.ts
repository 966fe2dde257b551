/**
 * Room in the browser's storage, checked before a model is written: navigator.storage.estimate()
 * says how much more this origin may store. The estimate is the browser's word, not a promise
 * (Chromium pads usage and its quota follows free disk), so only a write that plainly does not
 * fit is refused here, before a byte is written; one that fits by the estimate can still meet the
 * quota, which the store reports the same way (model-store.ts storeSet) and a hub download resumes.
 */
import { StoreError } from '../errors.ts';
import type { ModelManifest } from './manifest.ts';
import { formatMB as mb, largestModels } from './model-store.ts';
import type { StorageEstimate } from './store-file-set.ts';

/**
 * The refusal for writing `needBytes` of `what`, or undefined when the estimate has room (or says
 * nothing: no estimate, no check). Names the largest stored models as what to delete.
 */
export function roomRefusal(
  what: string,
  needBytes: number,
  estimate: StorageEstimate | undefined,
  stored: ModelManifest[] = [],
): StoreError | undefined {
  const { usage, quota } = estimate ?? {};
  if (usage === undefined || quota === undefined || !(quota > 0)) return undefined;
  const free = Math.max(0, quota - usage);
  if (needBytes <= free) return undefined;
  const largest = largestModels(stored);
  const suggestion = largest
    ? `Delete a model to make room, e.g. ${largest}, or allow this site more storage.`
    : 'Free disk space or allow this site more storage.';
  return new StoreError(
    `store: not enough storage for ${what}: it needs ${mb(needBytes)} and the browser allows ${mb(free)} more (${mb(usage)} of ${mb(quota)} used). Nothing was written. ${suggestion}`,
  );
}
