/**
 * Library: the zoo (offline default), stored models, pending imports, hub downloads with
 * pause/resume, local folder imports, storage estimate. Module-level actions; no bytes in state.
 */
import { create } from 'zustand';
import { cacheStorageClear, cacheStorageUsage } from '../core/hub/content-cache.ts';
import { markPhase } from '../core/io/marks.ts';
import { HubUnreachableError } from '../core/hub/checked-fetch.ts';
import { hubDownloadToStore, hubModelId } from '../core/hub/download-to-store.ts';
import { hubPreviewModel, type HubModelPreview } from '../core/hub/hub-preview.ts';
import {
  hubListFiles,
  hubParseRepoRef,
  hubSelectModelFiles,
  type HubFileInfo,
  type HubRepoRef,
} from '../core/hub/hub.ts';
import type { LoadProgress } from '../core/io/progress.ts';
import type { FileSet } from '../core/io/byte-source.ts';
import { importRefusal } from '../core/store/commit-checked.ts';
import { modelStoreImportFileSet } from '../core/store/import-files.ts';
import type { ModelManifest, PendingModel } from '../core/store/manifest.ts';
import { modelStoreDelete, modelStoreList, modelStoreListPending } from '../core/store/model-store.ts';
import { modelStoreRequestPersist, modelStoreVerify, type StorageEstimate } from '../core/store/store-file-set.ts';
import { appKv, appStorageEstimate, urlChunkBytes, urlQuotaBytes } from './kv-instance.ts';
import { roomRefusal } from '../core/store/room.ts';
import { engineCallback, engineClient } from './workers.ts';
import { useSettings } from './settings.ts';
import { fetchZooIndex, type ZooIndex } from './zoo.ts';

export interface FileProgress {
  done: number;
  total: number;
  fromCache: boolean;
}

export interface Transfer {
  id: string;
  title: string;
  status: 'running' | 'paused' | 'failed' | 'done';
  totalDone: number;
  totalBytes: number;
  phase: LoadProgress['phase'];
  files: Record<string, FileProgress>;
  error?: string;
}

export interface HubListing {
  ref: HubRepoRef;
  files: HubFileInfo[];
  /** From config.json, read at look-up: where the model will fit, before the download. */
  preview?: HubModelPreview;
  /** Why the studio cannot use the model (the importer's own refusal), when it cannot. */
  refusal?: string;
}

export interface LibraryState {
  zoo?: ZooIndex;
  zooError?: string;
  stored: ModelManifest[];
  pending: PendingModel[];
  hubListing?: HubListing;
  hubBusy: boolean;
  transfers: Record<string, Transfer>;
  estimate?: StorageEstimate;
  /** Zoo files kept in Cache Storage by sha256 for a fast start (core/hub/content-cache.ts). */
  zooFiles?: { files: number; bytes: number };
  /** The last error/info message, shown in a role="alert" region. */
  message?: { kind: 'error' | 'info'; text: string };
  verify: Record<string, string>;
}

const initialLibrary: LibraryState = { stored: [], pending: [], hubBusy: false, transfers: {}, verify: {} };
export const useLibrary = create<LibraryState>()(() => ({ ...initialLibrary }));
const controllers = new Map<string, AbortController>();

export function libraryReset(): void {
  for (const c of controllers.values()) c.abort();
  controllers.clear();
  useLibrary.setState({ ...initialLibrary }, true);
}

function say(kind: 'error' | 'info', text: string) {
  useLibrary.setState({ message: { kind, text } });
}

export async function libraryInit(): Promise<void> {
  const zooLoad = fetchZooIndex().then(
    (zoo) => {
      useLibrary.setState({ zoo, zooError: undefined });
      markPhase('moe:zoo-listed');
    },
    (e: Error) => useLibrary.setState({ zooError: e.message }),
  );
  await Promise.all([zooLoad, libraryRefresh()]);
}

export async function libraryRefresh(): Promise<void> {
  const kv = appKv();
  const [stored, pending, estimate] = await Promise.all([
    modelStoreList(kv),
    modelStoreListPending(kv),
    appStorageEstimate(),
  ]);
  useLibrary.setState({ stored, pending, estimate });
}

/** Reads again what the zoo file cache holds (the engine worker adds to it on each "Chat with"). */
export async function libraryRefreshZooFiles(): Promise<void> {
  const zooFiles = await cacheStorageUsage().catch(() => undefined);
  useLibrary.setState({ zooFiles });
}

/** Frees the zoo files kept for a fast start: the next "Chat with" fetches them again. */
export async function libraryClearZooFiles(): Promise<void> {
  await cacheStorageClear();
  await Promise.all([libraryRefresh(), libraryRefreshZooFiles()]);
}

/** The one line for a hub that cannot be reached: no URL dump, and what still works. */
export function hubOfflineMessage(host: string): string {
  return `You are offline (or ${host} is unreachable): the hub can't be reached. The demo zoo and local folders still work.`;
}

const hostOf = (baseUrl: string) => (URL.canParse(baseUrl) ? new URL(baseUrl).host : baseUrl);

/** The browser knows it has no network: don't send requests that can only fail (and log). */
const browserOffline = () => globalThis.navigator?.onLine === false;

export async function hubLookup(input: string): Promise<void> {
  useLibrary.setState({ hubBusy: true, hubListing: undefined, message: undefined });
  try {
    const ref = hubParseRepoRef(input, useSettings.getState().hubBaseUrl);
    if (browserOffline()) return say('error', hubOfflineMessage(hostOf(ref.baseUrl)));
    const files = hubSelectModelFiles(await hubListFiles(fetch, ref));
    if (!files.some((f) => f.name === 'config.json'))
      throw new Error(`hub: ${ref.repo} has no config.json, so it is not an HF model folder`);
    let preview: HubModelPreview | undefined;
    let refusal: string | undefined;
    try {
      preview = await hubPreviewModel(fetch, ref, files);
    } catch (e) {
      if (e instanceof HubUnreachableError) throw e;
      refusal = (e as Error).message;
    }
    useLibrary.setState({ hubListing: { ref, files, preview, refusal } });
  } catch (e) {
    say('error', e instanceof HubUnreachableError ? hubOfflineMessage(e.host) : (e as Error).message);
  } finally {
    useLibrary.setState({ hubBusy: false });
  }
}

function updateTransfer(id: string, patch: Partial<Transfer>) {
  useLibrary.setState((s) => {
    const prev = s.transfers[id];
    if (!prev) return s;
    return { transfers: { ...s.transfers, [id]: { ...prev, ...patch } } };
  });
}

function onTransferProgress(id: string) {
  return (p: LoadProgress) =>
    useLibrary.setState((s) => {
      const prev = s.transfers[id];
      if (!prev) return s;
      const files = p.file
        ? { ...prev.files, [p.file]: { done: p.bytesDone, total: p.bytesTotal, fromCache: p.fromCache } }
        : prev.files;
      return {
        transfers: {
          ...s.transfers,
          [id]: { ...prev, phase: p.phase, totalDone: p.totalDone, totalBytes: p.totalBytes, files },
        },
      };
    });
}

async function runTransfer(
  id: string,
  title: string,
  totalBytes: number,
  work: (signal: AbortSignal, onProgress: (p: LoadProgress) => void) => Promise<unknown>,
) {
  controllers.get(id)?.abort();
  const controller = new AbortController();
  controllers.set(id, controller);
  useLibrary.setState((s) => ({
    transfers: {
      ...s.transfers,
      [id]: { id, title, status: 'running', totalDone: 0, totalBytes, phase: 'listing', files: {} },
    },
  }));
  try {
    await work(controller.signal, onTransferProgress(id));
    updateTransfer(id, { status: 'done' });
    say('info', `'${title}' is ready in the library.`);
  } catch (e) {
    const err = e as Error;
    if (err.name === 'CancelledError' || controller.signal.aborted) updateTransfer(id, { status: 'paused' });
    else {
      const text =
        err instanceof HubUnreachableError ? `${hubOfflineMessage(err.host)} Resume when it is back.` : err.message;
      updateTransfer(id, { status: 'failed', error: text });
      say('error', text);
    }
  } finally {
    if (controllers.get(id) === controller) controllers.delete(id);
    await libraryRefresh();
  }
}

/** Import-time quantization (settings.importQuant) runs in the worker: HF folder → GGUF. */
async function quantizeIfAsked(id: string, onProgress: (p: LoadProgress) => void): Promise<void> {
  const quant = useSettings.getState().importQuant;
  if (quant === 'keep' || urlQuotaBytes() !== undefined || useSettings.getState().simulatedQuotaBytes !== undefined)
    return;
  await engineClient().quantizeStored(id, quant, undefined, engineCallback(onProgress));
}

/** Refuses (in the Library's message) a write of `needBytes` the browser's estimate has no room for; true when refused. */
async function refusedForRoom(what: string, needBytes: number): Promise<boolean> {
  const refusal = roomRefusal(what, needBytes, await appStorageEstimate(), useLibrary.getState().stored);
  if (refusal) say('error', refusal.message);
  return !!refusal;
}

/** Bytes a pending import has stored already (its whole chunks), which a resume does not write again. */
function pendingStoredBytes(id: string): number {
  const pending = useLibrary.getState().pending.find((p) => p.id === id);
  return (pending?.files ?? []).reduce(
    (sum, f) => sum + (f.complete ? f.size : Math.min(f.size, f.chunksDone * pending!.chunkBytes)),
    0,
  );
}

export async function hubDownload(listing: HubListing, chunkBytes?: number): Promise<void> {
  const id = hubModelId(listing.ref);
  const total = listing.files.reduce((s, f) => s + f.size, 0);
  if (await refusedForRoom(`'${listing.ref.repo}'`, total - pendingStoredBytes(id))) return;
  await runTransfer(id, listing.ref.repo, total, async (signal, onProgress) => {
    await hubDownloadToStore(fetch, appKv(), listing.ref, {
      id,
      title: listing.ref.repo,
      files: listing.files,
      signal,
      onProgress,
      chunkBytes: chunkBytes ?? urlChunkBytes(),
    });
    await quantizeIfAsked(id, onProgress);
  });
}

export function transferPause(id: string): void {
  controllers.get(id)?.abort();
}

/** Resumes a pending hub download (also one left over from before a reload). */
export async function pendingResume(pending: PendingModel): Promise<void> {
  if (pending.source.kind !== 'hub') {
    say('error', `'${pending.title}' was a ${pending.source.kind} import; add it again to finish it.`);
    return;
  }
  const ref = { baseUrl: pending.source.baseUrl, repo: pending.source.repo, rev: pending.source.rev };
  const files = pending.files.map((f) => ({ name: f.name, size: f.size, sha256: f.sha256 }));
  await hubDownload({ ref, files }, pending.chunkBytes);
}

export async function libraryDelete(id: string): Promise<void> {
  transferPause(id);
  await modelStoreDelete(appKv(), id);
  useLibrary.setState((s) => {
    const transfers = { ...s.transfers };
    delete transfers[id];
    return { transfers };
  });
  await libraryRefresh();
}

export async function libraryVerify(id: string): Promise<void> {
  useLibrary.setState((s) => ({ verify: { ...s.verify, [id]: 'verifying…' } }));
  const result = await modelStoreVerify(appKv(), id);
  const sha = useLibrary
    .getState()
    .stored.find((m) => m.id === id)
    ?.files.some((f) => f.sha256);
  const ok = `verified: every chunk present, sizes${sha ? ' and sha256' : ''} match, and it loads (config, tensor headers, tokenizer)`;
  useLibrary.setState((s) => ({ verify: { ...s.verify, [id]: result.ok ? ok : result.problems.join('; ') } }));
  await libraryRefresh(); // a model stored before imports were checked now has its summary
}

export async function storagePersist(): Promise<void> {
  const granted = await modelStoreRequestPersist();
  say(
    'info',
    granted
      ? 'Storage is persistent: the browser will not evict your models.'
      : 'The browser declined persistent storage.',
  );
  await libraryRefresh();
}

/** Imports a folder (directory picker, webkitdirectory input or drop) into the store. */
export async function libraryImportFolder(folderName: string, files: FileSet, totalBytes: number): Promise<void> {
  const id = `local:${folderName}:${Date.now().toString(36)}`;
  const list = await files.list();
  if (!list.includes('config.json')) {
    say(
      'error',
      `'${folderName}' has no config.json: pick an HF model folder (config.json, *.safetensors, tokenizer.json).`,
    );
    return;
  }
  // Headers only, before copying a byte: a broken 10 GB folder is refused at once. The store
  // checks the stored copy again before it marks the model ready.
  const { checkModelFiles } = await import('../core/model/check.ts'); // on first use (modelStoreVerify says why)
  const refused = await checkModelFiles(files).then(
    () => undefined,
    (e: Error) => importRefusal(folderName, e),
  );
  if (refused) return say('error', refused.message);
  if (await refusedForRoom(`'${folderName}'`, totalBytes)) return;
  await runTransfer(id, folderName, totalBytes, async (signal, onProgress) => {
    await modelStoreImportFileSet(appKv(), {
      id,
      title: folderName,
      source: { kind: 'local', folderName },
      files,
      signal,
      onProgress,
      chunkBytes: urlChunkBytes(),
    });
    await quantizeIfAsked(id, onProgress);
  });
}
