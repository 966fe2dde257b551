/**
 * Where a worker service reads a model from, and the one function that opens it: a URL
 * folder (the bundled zoo, a hub mirror) or a model in the IndexedDB store. Both hosts
 * (engine/ and merge/) open models through openModelRef; the UI only builds ModelRefs.
 */
import { StoreError } from '../src/core/errors.ts';
import { cacheStorageContentCache } from '../src/core/hub/content-cache.ts';
import { type FetchFileSetEntry, fetchFileSet } from '../src/core/hub/fetch-file-set.ts';
import type { OnLoadProgress } from '../src/core/io/progress.ts';
import type { FileSet } from '../src/core/io/byte-source.ts';
import { idbKvStore } from '../src/core/store/kv.ts';
import type { ModelManifest } from '../src/core/store/manifest.ts';
import { modelStoreGet } from '../src/core/store/model-store.ts';
import { modelStoreFileSet } from '../src/core/store/store-file-set.ts';

export type ModelRef =
  | { kind: 'url'; id: string; title: string; baseUrl: string; files: FetchFileSetEntry[] }
  | { kind: 'store'; id: string; dbName?: string };

export interface OpenedModelRef {
  files: FileSet;
  title: string;
  /** Set for a stored model. */
  manifest?: ModelManifest;
}

export async function openModelRef(ref: ModelRef, onProgress?: OnLoadProgress): Promise<OpenedModelRef> {
  if (ref.kind === 'url') {
    // Files the folder's index lists with a sha256 (the zoo) are kept in Cache Storage by content.
    const files = fetchFileSet(fetch, ref.baseUrl, ref.files, ref.title, onProgress, cacheStorageContentCache());
    return { files, title: ref.title };
  }
  const kv = idbKvStore(ref.dbName);
  const manifest = await modelStoreGet(kv, ref.id);
  if (!manifest) throw new StoreError(`store: no ready model '${ref.id}'`);
  return { files: modelStoreFileSet(kv, manifest, onProgress), title: manifest.title, manifest };
}
