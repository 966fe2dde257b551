/**
 * Reading a stored model: a FileSet over its chunks (so loaders read straight from the
 * store), re-verification (every chunk present, sizes, sha256), and storage estimates.
 */
import { StoreError, MissingFileError } from '../errors.ts';
import { type ByteSource, type FileSet, checkRead } from '../io/byte-source.ts';
import { chunkCache, readChunked } from '../io/chunk-cache.ts';
import { Sha256 } from '../io/sha256.ts';
import type { OnLoadProgress } from '../io/progress.ts';
import type { KvStore } from './kv.ts';
import type { ModelSummary } from '../model/check.ts';
import { describeCheckFailure } from '../model/check-failure.ts';
import { chunkKey, manifestKey, type ModelManifest, type StoredFile } from './manifest.ts';
import { modelStoreGet } from './model-store.ts';

async function readChunk(kv: KvStore, manifest: ModelManifest, file: StoredFile, index: number): Promise<Uint8Array> {
  const value = await kv.get<Uint8Array>(chunkKey(manifest.id, file.name, index));
  const expected = index < file.chunks - 1 ? manifest.chunkBytes : file.size - index * manifest.chunkBytes;
  if (!(value instanceof Uint8Array) || value.byteLength !== expected) {
    throw new StoreError(
      `store: chunk ${index} of '${file.name}' in '${manifest.id}' is missing or has the wrong size (re-verify or delete the model)`,
    );
  }
  return value;
}

/** Chunks a stored file keeps (io/chunk-cache.ts says why). With one, the 211 MB SmolLM2-dims q4_0 GGUF took 45 gets of 32 MiB (6.5× the file). */
export const STORE_READ_CACHE_CHUNKS = 4;
/** Kept chunks are dropped after this long without a read. */
export const STORE_READ_CACHE_IDLE_MS = 1000;

function storedFileSource(
  kv: KvStore,
  manifest: ModelManifest,
  file: StoredFile,
  onRead?: (n: number) => void,
): ByteSource {
  const chunk = chunkCache((index) => readChunk(kv, manifest, file, index), {
    keep: STORE_READ_CACHE_CHUNKS,
    idleMs: STORE_READ_CACHE_IDLE_MS,
  });
  const name = `${manifest.title}/${file.name}`; // what the user named it: errors read 'math/model.safetensors'
  return {
    size: file.size,
    name,
    async read(offset, length) {
      checkRead(name, offset, length, file.size);
      const bytes = length === 0 ? new Uint8Array(0) : await readChunked(chunk, manifest.chunkBytes, offset, length);
      onRead?.(length);
      return bytes;
    },
  };
}

/** A FileSet over a stored model; optional typed progress (fromCache: true) as bytes are read. */
export function modelStoreFileSet(kv: KvStore, manifest: ModelManifest, onProgress?: OnLoadProgress): FileSet {
  let totalDone = 0;
  return {
    name: manifest.title,
    async list() {
      return manifest.files.map((f) => f.name).sort();
    },
    async open(fileName) {
      const file = manifest.files.find((f) => f.name === fileName);
      if (!file) throw new MissingFileError(`store: model '${manifest.id}'`, fileName);
      let bytesDone = 0;
      return storedFileSource(kv, manifest, file, (n) => {
        bytesDone = Math.min(file.size, bytesDone + n);
        totalDone = Math.min(manifest.totalBytes, totalDone + n);
        onProgress?.({
          phase: 'reading',
          file: fileName,
          bytesDone,
          bytesTotal: file.size,
          fromCache: true,
          totalDone,
          totalBytes: manifest.totalBytes,
        });
      });
    },
  };
}

export interface VerifyResult {
  ok: boolean;
  problems: string[];
  /** What checkModelFiles found, when every chunk was there and it passed. */
  summary?: ModelSummary;
}

/**
 * Reads every chunk back (presence, sizes, sha256 where the manifest has one), then runs
 * checkModelFiles on the stored bytes, as an import does. A manifest without a summary
 * (stored before imports were checked) gets the one this found.
 */
export async function modelStoreVerify(kv: KvStore, id: string, onProgress?: OnLoadProgress): Promise<VerifyResult> {
  const manifest = await modelStoreGet(kv, id);
  if (!manifest) return { ok: false, problems: [`store: no model '${id}'`] };
  const problems: string[] = [];
  let totalDone = 0;
  for (const file of manifest.files) {
    const hasher = new Sha256();
    let bytesDone = 0;
    try {
      for (let i = 0; i < file.chunks; i++) {
        const bytes = await readChunk(kv, manifest, file, i);
        hasher.update(bytes);
        bytesDone += bytes.byteLength;
        totalDone += bytes.byteLength;
        onProgress?.({
          phase: 'verifying',
          file: file.name,
          bytesDone,
          bytesTotal: file.size,
          fromCache: true,
          totalDone,
          totalBytes: manifest.totalBytes,
        });
      }
      const digest = hasher.hex();
      if (file.sha256 && digest !== file.sha256)
        problems.push(`store: '${file.name}' sha256 ${digest} differs from the expected ${file.sha256}`);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  let summary: ModelSummary;
  try {
    // Loaded on first use: the checker brings the tokenizers and the template engine, which a
    // page that only lists models (the studio's first load) does not need.
    const { checkModelFiles } = await import('../model/check.ts');
    summary = await checkModelFiles(modelStoreFileSet(kv, manifest));
  } catch (e) {
    return { ok: false, problems: [`'${manifest.title}' would not load ${describeCheckFailure(e as Error)}`] };
  }
  if (!manifest.summary) await kv.set(manifestKey(id), { ...manifest, summary });
  return { ok: true, problems, summary };
}

export interface StorageEstimate {
  usage?: number;
  quota?: number;
  persisted?: boolean;
}

/** navigator.storage, when the platform has it (a worker or a page). */
export async function modelStoreEstimate(): Promise<StorageEstimate> {
  const storage = (globalThis.navigator as Navigator | undefined)?.storage;
  if (!storage?.estimate) return {};
  const { usage, quota } = await storage.estimate();
  const persisted = storage.persisted ? await storage.persisted() : undefined;
  return { usage, quota, persisted };
}

export async function modelStoreRequestPersist(): Promise<boolean> {
  const storage = (globalThis.navigator as Navigator | undefined)?.storage;
  return storage?.persist ? storage.persist() : false;
}
