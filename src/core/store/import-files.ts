/**
 * Copies a FileSet (a local folder, the zoo over fetch, a merge result) into the store,
 * file by file in store-sized slices, with typed progress; resumes a pending import. The model
 * is ready only if checkModelFiles accepts what was stored (modelStoreCommitChecked).
 */
import { CancelledError } from '../errors.ts';
import type { FileSet } from '../io/byte-source.ts';
import type { OnLoadProgress } from '../io/progress.ts';
import type { KvStore } from './kv.ts';
import type { ImportQuant, ModelManifest, ModelSource } from './manifest.ts';
import { modelStoreCommitChecked } from './commit-checked.ts';
import { modelStoreBeginWrite } from './model-store.ts';

export interface ImportFileSetOptions {
  id: string;
  title: string;
  source: ModelSource;
  files: FileSet;
  chunkBytes?: number;
  importQuant?: ImportQuant;
  notes?: Record<string, unknown>;
  onProgress?: OnLoadProgress;
  signal?: AbortSignal;
  /** Bytes read from the source per step (default 4 MiB). */
  readBytes?: number;
}

export async function modelStoreImportFileSet(kv: KvStore, options: ImportFileSetOptions): Promise<ModelManifest> {
  const names = await options.files.list();
  const sources = await Promise.all(names.map((n) => options.files.open(n)));
  const files = names.map((name, i) => ({ name, size: sources[i].size }));
  const totalBytes = files.reduce((s, f) => s + f.size, 0);
  const writer = await modelStoreBeginWrite(kv, {
    id: options.id,
    title: options.title,
    source: options.source,
    files,
    chunkBytes: options.chunkBytes,
    importQuant: options.importQuant,
  });
  const step = options.readBytes ?? 4 * 1024 * 1024;
  let totalDone = files.reduce((s, f) => s + writer.resumeOffset(f.name), 0);
  for (let i = 0; i < names.length; i++) {
    const src = sources[i];
    let at = writer.resumeOffset(names[i]);
    if (writer.isComplete(names[i])) continue;
    const sink = writer.openFile(names[i]);
    while (at < src.size) {
      if (options.signal?.aborted) throw new CancelledError(`store: import of '${options.title}' cancelled`);
      const bytes = await src.read(at, Math.min(step, src.size - at));
      await sink.write(bytes);
      at += bytes.byteLength;
      totalDone += bytes.byteLength;
      options.onProgress?.({
        phase: 'storing',
        file: names[i],
        bytesDone: at,
        bytesTotal: src.size,
        fromCache: false,
        totalDone,
        totalBytes,
      });
    }
    await sink.close();
  }
  return modelStoreCommitChecked(kv, writer, options.notes);
}
