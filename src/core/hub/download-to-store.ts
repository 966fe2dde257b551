/**
 * A hub repo into the model store: list (sizes first), download file by file with HTTP
 * Range resume from the chunks a previous attempt stored, verify sha256, check that the model
 * loads (checkModelFiles), then commit the manifest. Pausing is an abort; calling again resumes.
 */
import { HubError } from '../errors.ts';
import type { KvStore } from '../store/kv.ts';
import type { ModelManifest } from '../store/manifest.ts';
import { modelStoreCommitChecked } from '../store/commit-checked.ts';
import { modelStoreBeginWrite, type ModelWriter } from '../store/model-store.ts';
import { hubDownloadFile, hubFileUrl, type FetchFn, type HubFileInfo, type HubRepoRef } from './hub.ts';
import type { OnLoadProgress } from '../io/progress.ts';

export interface HubDownloadOptions {
  id: string;
  title: string;
  files: HubFileInfo[];
  chunkBytes?: number;
  onProgress?: OnLoadProgress;
  signal?: AbortSignal;
  /** Default HUB_LIMITS.readTimeoutMs. */
  readTimeoutMs?: number;
}

/**
 * Files the listing gives no sha256 for (config.json, tokenizer files: not LFS) are checked as
 * far as they can be before the model is marked ready: the stored size (also for files stored
 * by an earlier attempt) and, for .json files, that they parse. A bad file is discarded, so
 * the next attempt downloads it again instead of keeping corrupt bytes.
 */
async function verifyUnhashedFiles(writer: ModelWriter, ref: HubRepoRef, files: HubFileInfo[]): Promise<void> {
  for (const file of files) {
    if (file.sha256 || !file.name.toLowerCase().endsWith('.json')) continue;
    let problem: string | undefined;
    try {
      JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(await writer.readFile(file.name)));
    } catch (e) {
      problem =
        (e as Error).name === 'StoreError' ? (e as Error).message : `is not valid JSON (${(e as Error).message})`;
    }
    if (problem !== undefined) {
      await writer.discardFile(file.name);
      throw new HubError(
        `hub: ${hubFileUrl(ref, file.name)} ${problem}; the file was discarded, try the download again`,
      );
    }
  }
}

export function hubModelId(ref: HubRepoRef): string {
  return `hub:${ref.repo}@${ref.rev}`;
}

export async function hubDownloadToStore(
  fetchFn: FetchFn,
  kv: KvStore,
  ref: HubRepoRef,
  options: HubDownloadOptions,
): Promise<ModelManifest> {
  const { files, onProgress } = options;
  const totalBytes = files.reduce((s, f) => s + f.size, 0);
  const writer = await modelStoreBeginWrite(kv, {
    id: options.id,
    title: options.title,
    source: { kind: 'hub', baseUrl: ref.baseUrl, repo: ref.repo, rev: ref.rev },
    files,
    chunkBytes: options.chunkBytes,
  });
  let totalDone = files.reduce((s, f) => s + writer.resumeOffset(f.name), 0);
  for (const file of files) {
    const offset = writer.resumeOffset(file.name);
    onProgress?.({
      phase: 'downloading',
      file: file.name,
      bytesDone: offset,
      bytesTotal: file.size,
      fromCache: offset > 0,
      totalDone,
      totalBytes,
    });
    if (writer.isComplete(file.name)) continue;
    const base = totalDone - offset;
    await hubDownloadFile(fetchFn, hubFileUrl(ref, file.name), writer.openFile(file.name), {
      offset,
      size: file.size,
      signal: options.signal,
      readTimeoutMs: options.readTimeoutMs,
      onBytes: (bytesDone) => {
        totalDone = base + bytesDone;
        onProgress?.({
          phase: 'downloading',
          file: file.name,
          bytesDone,
          bytesTotal: file.size,
          fromCache: false,
          totalDone,
          totalBytes,
        });
      },
    });
  }
  await verifyUnhashedFiles(writer, ref, files);
  let verified = 0;
  for (const file of files) {
    if (!file.sha256) continue;
    const digest = await writer.hashFile(file.name);
    verified += file.size;
    onProgress?.({
      phase: 'verifying',
      file: file.name,
      bytesDone: file.size,
      bytesTotal: file.size,
      fromCache: true,
      totalDone: verified,
      totalBytes,
    });
    if (digest !== file.sha256) {
      await writer.abort();
      throw new HubError(
        `hub: ${hubFileUrl(ref, file.name)} has sha256 ${digest}, the hub lists ${file.sha256}; the download was discarded`,
      );
    }
  }
  const manifest = await modelStoreCommitChecked(kv, writer);
  onProgress?.({
    phase: 'done',
    file: '',
    bytesDone: totalBytes,
    bytesTotal: totalBytes,
    fromCache: false,
    totalDone: totalBytes,
    totalBytes,
  });
  return manifest;
}
