/**
 * The IndexedDB model store (DESIGN.md store/): weights chunked into records of tens of MB,
 * a manifest written last so that a model is "ready" only when every chunk is there, and
 * resumable pending imports. All functions take the KvStore explicitly (no singletons).
 */
import { StoreError, MissingFileError } from '../errors.ts';
import type { ByteSink } from '../io/byte-source.ts';
import type { SinkOpener } from '../formats/safetensors-folder.ts';
import type { KvStore } from './kv.ts';
import type { ModelSummary } from '../model/check.ts';
import { Sha256 } from '../io/sha256.ts';
import {
  chunkCount,
  chunkKey,
  chunkPrefix,
  DEFAULT_CHUNK_BYTES,
  manifestKey,
  migrateManifest,
  migratePending,
  MODEL_STORE_SCHEMA_VERSION,
  pendingKey,
  type ImportQuant,
  type ModelManifest,
  type ModelSource,
  type PendingModel,
  type StoredFile,
} from './manifest.ts';

export function isQuotaError(e: unknown): boolean {
  return e instanceof Error && (e.name === 'QuotaExceededError' || /quota/i.test(e.message));
}

export function formatMB(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** The three largest models as "'big' (1400.0 MB), 'mid' (90.0 MB), …": what to delete for space; '' when there are none. */
export function largestModels(models: ModelManifest[]): string {
  return [...models]
    .sort((a, b) => b.totalBytes - a.totalBytes)
    .slice(0, 3)
    .map((m) => `'${m.title}' (${formatMB(m.totalBytes)})`)
    .join(', ');
}

/** A QuotaExceededError becomes a StoreError that says what to delete. */
async function storeSet(kv: KvStore, key: string, value: unknown, what: string): Promise<void> {
  try {
    await kv.set(key, value);
  } catch (e) {
    if (!isQuotaError(e)) throw new StoreError(`store: writing ${what} failed: ${(e as Error).message}`);
    const largest = largestModels(await modelStoreList(kv).catch(() => []));
    const suggestion = largest
      ? `Delete a model to free space, e.g. ${largest}.`
      : 'No stored model can be deleted; free space in the browser or allow more storage.';
    throw new StoreError(`store: out of storage quota while writing ${what}. ${suggestion}`);
  }
}

export async function modelStoreList(kv: KvStore): Promise<ModelManifest[]> {
  const out: ModelManifest[] = [];
  for (const key of await kv.keys('manifest/')) {
    const migrated = migrateManifest(await kv.get(key));
    if (migrated.type === 'success') out.push(migrated.value);
  }
  return out.sort((a, b) => a.createdAt - b.createdAt);
}

export async function modelStoreListPending(kv: KvStore): Promise<PendingModel[]> {
  const out: PendingModel[] = [];
  for (const key of await kv.keys('pending/')) {
    const migrated = migratePending(await kv.get(key));
    if (migrated.type === 'success') out.push(migrated.value);
  }
  return out;
}

export async function modelStoreGet(kv: KvStore, id: string): Promise<ModelManifest | undefined> {
  const raw = await kv.get(manifestKey(id));
  if (raw === undefined) return undefined;
  const migrated = migrateManifest(raw);
  if (migrated.type === 'error') throw new StoreError(migrated.message);
  return migrated.value;
}

/** Deletes the manifest first (the model stops being ready), then every chunk and pending record. */
export async function modelStoreDelete(kv: KvStore, id: string): Promise<void> {
  await kv.del([manifestKey(id)]);
  await kv.del(await kv.keys(chunkPrefix(id)));
  await kv.del([pendingKey(id)]);
}

export interface ModelWriteInit {
  id: string;
  title: string;
  source: ModelSource;
  files: { name: string; size: number; sha256?: string }[];
  chunkBytes?: number;
  importQuant?: ImportQuant;
}

export interface ModelWriter {
  readonly id: string;
  /** Bytes of `file` already safely stored (a whole number of chunks): resume from here. */
  resumeOffset(file: string): number;
  isComplete(file: string): boolean;
  /** sha256 (hex) of the bytes stored so far for a complete file, read back from the store. */
  hashFile(file: string): Promise<string>;
  /** A sink that continues `file` at resumeOffset(file). close() checks the size. */
  openFile(file: string): ByteSink;
  /**
   * Lists one more file, of exactly `size` bytes, in the pending record (a merge streaming into
   * the store learns each file's size only as it opens it: begin with `files: []`). A name
   * already listed is refused.
   */
  addFile(file: string, size: number): Promise<void>;
  /** The manifest commit would write (every file complete, else a StoreError); nothing is written. */
  draft(): ModelManifest;
  /** The stored bytes of `file` (complete files only; for small files such as config.json). */
  readFile(file: string): Promise<Uint8Array>;
  /** Forgets the stored bytes of `file`, so the next attempt downloads it again. */
  discardFile(file: string): Promise<void>;
  /**
   * Checks every file is complete, then writes the manifest (the last write). Imports commit
   * through modelStoreCommitChecked, which runs checkModelFiles first and passes its `summary`.
   */
  commit(notes?: Record<string, unknown>, summary?: ModelSummary): Promise<ModelManifest>;
  /** Deletes everything written so far. */
  abort(): Promise<void>;
}

function sameFiles(a: PendingModel, init: ModelWriteInit): boolean {
  return (
    a.files.length === init.files.length &&
    a.files.every((f, i) => f.name === init.files[i].name && f.size === init.files[i].size)
  );
}

/**
 * Starts (or resumes, when a pending record with the same files exists) writing a model.
 * Refuses when a ready model with that id exists: delete it first.
 */
export async function modelStoreBeginWrite(kv: KvStore, init: ModelWriteInit): Promise<ModelWriter> {
  if (await kv.get(manifestKey(init.id)))
    throw new StoreError(`store: model '${init.id}' already exists; delete it first`);
  const existing = migratePending(await kv.get(pendingKey(init.id)));
  let pending: PendingModel;
  // A write that lists no files up front (a merge streaming its output, addFile) starts afresh.
  if (existing.type === 'success' && init.files.length > 0 && sameFiles(existing.value, init)) {
    pending = await reconcilePending(kv, existing.value);
  } else {
    await kv.del(await kv.keys(chunkPrefix(init.id)));
    pending = {
      schemaVersion: MODEL_STORE_SCHEMA_VERSION,
      id: init.id,
      title: init.title,
      source: init.source,
      chunkBytes: init.chunkBytes ?? DEFAULT_CHUNK_BYTES,
      startedAt: Date.now(),
      importQuant: init.importQuant,
      files: init.files.map((f) => ({ name: f.name, size: f.size, sha256: f.sha256, chunksDone: 0, complete: false })),
    };
    await storeSet(kv, pendingKey(init.id), pending, `the import record of '${init.id}'`);
  }
  return createWriter(kv, pending);
}

/**
 * Makes a resumed pending record agree with the chunks actually stored, so that a write that
 * failed between two steps (a chunk stored but not recorded, or every chunk recorded but the
 * final `complete` flag lost) never leaves a resume asking for bytes past the end of a file
 * (HTTP 416 for ever). Only the last recorded chunk of each file is read back.
 */
async function reconcilePending(kv: KvStore, pending: PendingModel): Promise<PendingModel> {
  let changed = false;
  for (const f of pending.files) {
    const chunks = chunkCount(f.size, pending.chunkBytes);
    const recorded = Number.isSafeInteger(f.chunksDone) && f.chunksDone >= 0 ? Math.min(f.chunksDone, chunks) : 0;
    let done = recorded;
    // Walk back over recorded chunks that are missing or have the wrong length.
    while (done > 0) {
      const bytes = await kv.get<Uint8Array>(chunkKey(pending.id, f.name, done - 1));
      const expected = done < chunks ? pending.chunkBytes : f.size - (chunks - 1) * pending.chunkBytes;
      if (bytes instanceof Uint8Array && bytes.byteLength === expected) break;
      done -= 1;
    }
    const complete = done === chunks; // the last chunk is stored only by close()
    if (done !== f.chunksDone || complete !== f.complete) {
      f.chunksDone = done;
      f.complete = complete;
      changed = true;
    }
  }
  if (changed) await storeSet(kv, pendingKey(pending.id), pending, `the import record of '${pending.id}'`);
  return pending;
}

function createWriter(kv: KvStore, pending: PendingModel): ModelWriter {
  const fileOf = (name: string) => {
    const f = pending.files.find((x) => x.name === name);
    if (!f) throw new MissingFileError(`store: model '${pending.id}'`, name);
    return f;
  };
  const savePending = () => storeSet(kv, pendingKey(pending.id), pending, `the import record of '${pending.id}'`);
  const writer: ModelWriter = {
    id: pending.id,
    resumeOffset: (name) => {
      const f = fileOf(name);
      return f.complete ? f.size : f.chunksDone * pending.chunkBytes;
    },
    isComplete: (name) => fileOf(name).complete,
    async hashFile(name) {
      const f = fileOf(name);
      const hasher = new Sha256();
      for (let i = 0; i < f.chunksDone; i++) {
        const bytes = await kv.get<Uint8Array>(chunkKey(pending.id, f.name, i));
        if (!(bytes instanceof Uint8Array))
          throw new StoreError(`store: chunk ${i} of '${f.name}' in '${pending.id}' is missing`);
        hasher.update(bytes);
      }
      return hasher.hex();
    },
    async readFile(name) {
      const f = fileOf(name);
      if (!f.complete) throw new StoreError(`store: '${f.name}' of '${pending.id}' is not complete`);
      const out = new Uint8Array(f.size);
      let at = 0;
      for (let i = 0; i < f.chunksDone; i++) {
        const bytes = await kv.get<Uint8Array>(chunkKey(pending.id, f.name, i));
        if (!(bytes instanceof Uint8Array) || at + bytes.byteLength > f.size)
          throw new StoreError(`store: chunk ${i} of '${f.name}' in '${pending.id}' is missing or too long`);
        out.set(bytes, at);
        at += bytes.byteLength;
      }
      if (at !== f.size)
        throw new StoreError(`store: '${f.name}' of '${pending.id}' has ${at} stored bytes, expected ${f.size}`);
      return out;
    },
    async discardFile(name) {
      const f = fileOf(name);
      f.chunksDone = 0;
      f.complete = false;
      await savePending();
      await kv.del(await kv.keys(`${chunkPrefix(pending.id)}${encodeURIComponent(f.name)}/`));
    },
    openFile: (name) => chunkedSink(kv, pending, fileOf(name), savePending),
    async addFile(name, size) {
      if (pending.files.some((f) => f.name === name))
        throw new StoreError(`store: model '${pending.id}' already lists a file '${name}'`);
      if (!Number.isSafeInteger(size) || size < 0)
        throw new StoreError(`store: file '${name}' of '${pending.id}' has no valid size (${size})`);
      pending.files.push({ name, size, chunksDone: 0, complete: false });
      await savePending();
    },
    draft() {
      const files: StoredFile[] = [];
      for (const f of pending.files) {
        const chunks = chunkCount(f.size, pending.chunkBytes);
        if (!f.complete || f.chunksDone !== chunks)
          throw new StoreError(
            `store: model '${pending.id}' file '${f.name}' is incomplete (${f.chunksDone}/${chunks} chunks)`,
          );
        files.push({ name: f.name, size: f.size, sha256: f.sha256, chunks });
      }
      return {
        schemaVersion: MODEL_STORE_SCHEMA_VERSION,
        id: pending.id,
        title: pending.title,
        source: pending.source,
        files,
        chunkBytes: pending.chunkBytes,
        totalBytes: files.reduce((s, f) => s + f.size, 0),
        createdAt: Date.now(),
        importQuant: pending.importQuant,
      };
    },
    async commit(notes, summary) {
      const manifest: ModelManifest = { ...writer.draft(), notes, summary };
      await storeSet(kv, manifestKey(pending.id), manifest, `the manifest of '${pending.id}'`);
      await kv.del([pendingKey(pending.id)]);
      return manifest;
    },
    abort: () => modelStoreDelete(kv, pending.id),
  };
  return writer;
}

/**
 * The sink opener of a write begun with `files: []`: each file the caller opens is listed with
 * its size (addFile) and streamed into chunk records, so a merge's folderWriter writes straight
 * into the store and the caller holds a chunk, not the model. Commit after the last file.
 */
export function streamedFileOpener(writer: ModelWriter): SinkOpener {
  return async (name, size) => {
    await writer.addFile(name, size);
    return writer.openFile(name);
  };
}

/** Buffers bytes into whole chunks; each stored chunk is recorded in the pending record. */
function chunkedSink(
  kv: KvStore,
  pending: PendingModel,
  file: PendingModel['files'][number],
  savePending: () => Promise<void>,
): ByteSink {
  const chunkBytes = pending.chunkBytes;
  let buffer = new Uint8Array(Math.min(chunkBytes, Math.max(file.size, 1)));
  let filled = 0;
  let written = file.chunksDone * chunkBytes;
  /** Stores the buffered chunk, then records it; `last` also marks the file complete in that same record write. */
  const flush = async (last = false) => {
    const bytes = buffer.slice(0, filled);
    await storeSet(kv, chunkKey(pending.id, file.name, file.chunksDone), bytes, `'${file.name}' of '${pending.id}'`);
    file.chunksDone += 1;
    filled = 0;
    if (last) file.complete = true;
    try {
      await savePending();
    } catch (e) {
      // The record on disk still says the old chunk count: keep memory in step with it.
      file.chunksDone -= 1;
      file.complete = false;
      throw e;
    }
  };
  return {
    async write(chunk) {
      if (file.complete) throw new StoreError(`store: '${file.name}' of '${pending.id}' is already complete`);
      if (written + chunk.byteLength > file.size) {
        throw new StoreError(`store: '${file.name}' of '${pending.id}' receives more than its ${file.size} bytes`);
      }
      let at = 0;
      while (at < chunk.byteLength) {
        const take = Math.min(chunk.byteLength - at, buffer.byteLength - filled);
        buffer.set(chunk.subarray(at, at + take), filled);
        filled += take;
        at += take;
        written += take;
        if (filled === buffer.byteLength && written < file.size) await flush();
      }
    },
    async close() {
      if (written !== file.size)
        throw new StoreError(`store: '${file.name}' of '${pending.id}' ended at ${written} of ${file.size} bytes`);
      if (filled > 0 || file.size === 0) await flush(true);
      else {
        file.complete = true;
        await savePending();
      }
      buffer = new Uint8Array(0);
    },
  };
}

export { MODEL_STORE_SCHEMA_VERSION };
