/**
 * Hugging Face–layout downloads (DESIGN.md hub/): `<hub>/<org>/<name>/resolve/<rev>/<file>`,
 * file lists with sizes (and LFS sha256) from `<hub>/api/models/<repo>/tree/<rev>`, HTTP
 * Range resume into the model store, size and sha256 checks. Pure TS: fetch is injected;
 * every response is checked for `ok` and content-type; failures are never cached; every
 * error names the URL.
 */
import { CancelledError, HubError } from '../errors.ts';
import type { ByteSink } from '../io/byte-source.ts';
import { TOKENIZER_FILES } from '../tokenizer/files.ts';
import { checkedFetch, HubUnreachableError, type FetchFn } from './checked-fetch.ts';

export type { FetchFn } from './checked-fetch.ts';

export const DEFAULT_HUB_BASE_URL = 'https://huggingface.co';

export interface HubRepoRef {
  baseUrl: string;
  /** `org/name`. */
  repo: string;
  rev: string;
}

export interface HubFileInfo {
  name: string;
  size: number;
  /** LFS oid (sha256, lowercase hex) when the hub reports one. */
  sha256?: string;
}

const REPO_PATTERN = /^[\w.-]+\/[\w.-]+$/;

/** Accepts `org/name`, `org/name@rev`, or a URL to the repo, its tree or one of its files. */
export function hubParseRepoRef(input: string, defaultBaseUrl: string): HubRepoRef {
  const text = input.trim();
  if (!/^https?:\/\//.test(text)) {
    const [repo, rev = 'main'] = text.split('@');
    if (!REPO_PATTERN.test(repo)) throw new HubError(`hub: '${input}' is not 'org/name' or a URL`);
    return { baseUrl: defaultBaseUrl.replace(/\/+$/, ''), repo, rev };
  }
  const url = new URL(text);
  const parts = url.pathname.split('/').filter(Boolean);
  const marker = parts.findIndex((p) => p === 'resolve' || p === 'tree' || p === 'blob');
  const end = marker >= 2 ? marker : parts.length;
  if (end < 2) throw new HubError(`hub: URL '${input}' does not name an org/name repository`);
  const repo = `${parts[end - 2]}/${parts[end - 1]}`;
  const prefix = parts.slice(0, end - 2).join('/');
  const rev = marker >= 2 && parts[marker + 1] ? decodeURIComponent(parts[marker + 1]) : 'main';
  return { baseUrl: `${url.origin}${prefix ? `/${prefix}` : ''}`, repo, rev };
}

export function hubFileUrl(ref: HubRepoRef, file: string): string {
  return `${ref.baseUrl}/${ref.repo}/resolve/${encodeURIComponent(ref.rev)}/${file.split('/').map(encodeURIComponent).join('/')}`;
}

export function hubTreeUrl(ref: HubRepoRef): string {
  return `${ref.baseUrl}/api/models/${ref.repo}/tree/${encodeURIComponent(ref.rev)}`;
}

/** Hub requests never use the HTTP cache: a resumed download must see the server's bytes. */
function hubFetch(fetchFn: FetchFn, url: string, init?: RequestInit): Promise<Response> {
  return checkedFetch(fetchFn, url, { ...init, cache: 'no-store' });
}

interface TreeEntry {
  type?: string;
  path?: string;
  size?: number;
  lfs?: { oid?: string; size?: number };
}

/**
 * Lists the repo's files with sizes: the tree API when the hub has one (validated entry by
 * entry), else — for plain static mirrors — probing the standard HF file names.
 */
export async function hubListFiles(fetchFn: FetchFn, ref: HubRepoRef): Promise<HubFileInfo[]> {
  try {
    return await hubListFilesFromTree(fetchFn, ref);
  } catch (treeError) {
    // No answer at all (offline, host down): probing ten more URLs would only fail ten more times.
    if (treeError instanceof HubUnreachableError) throw treeError;
    const probed = await hubProbeFiles(fetchFn, ref);
    if (probed.length > 0) return probed;
    if ((treeError as Error).name === 'CancelledError') throw treeError;
    throw new HubError(`${(treeError as Error).message}, and ${hubFileUrl(ref, 'config.json')} is not there either`);
  }
}

const PROBED_FILES = [
  'config.json',
  'generation_config.json',
  'model.safetensors',
  'model.safetensors.index.json',
  ...TOKENIZER_FILES,
];

/** Size of one file from HEAD's content-length; undefined when the file is absent. */
async function probeSize(fetchFn: FetchFn, url: string): Promise<number | undefined> {
  const res = await fetchFn(url, { method: 'HEAD', cache: 'no-store' }).catch(() => undefined);
  if (!res?.ok || /text\/html/i.test(res.headers.get('content-type') ?? '')) return undefined;
  const size = Number(res.headers.get('x-linked-size') ?? res.headers.get('content-length'));
  return Number.isSafeInteger(size) && size >= 0 ? size : undefined;
}

/** Static mirrors without the tree API: HEAD the standard names (and the shards an index lists). */
export async function hubProbeFiles(fetchFn: FetchFn, ref: HubRepoRef): Promise<HubFileInfo[]> {
  const out: HubFileInfo[] = [];
  for (const name of PROBED_FILES) {
    const size = await probeSize(fetchFn, hubFileUrl(ref, name));
    if (size !== undefined) out.push({ name, size });
  }
  if (!out.some((f) => f.name === 'config.json')) return [];
  if (out.some((f) => f.name === 'model.safetensors.index.json')) {
    const url = hubFileUrl(ref, 'model.safetensors.index.json');
    const index = (await (await hubFetch(fetchFn, url)).json()) as { weight_map?: Record<string, string> };
    for (const shard of new Set(Object.values(index.weight_map ?? {}))) {
      const size = await probeSize(fetchFn, hubFileUrl(ref, shard));
      if (size === undefined)
        throw new HubError(`hub: ${url} lists shard '${shard}', which ${hubFileUrl(ref, shard)} does not serve`);
      out.push({ name: shard, size });
    }
  }
  return out;
}

async function hubListFilesFromTree(fetchFn: FetchFn, ref: HubRepoRef): Promise<HubFileInfo[]> {
  const url = hubTreeUrl(ref);
  const res = await hubFetch(fetchFn, url);
  let entries: unknown;
  try {
    entries = await res.json();
  } catch {
    throw new HubError(`hub: ${url} did not answer JSON`);
  }
  if (!Array.isArray(entries)) throw new HubError(`hub: ${url} did not answer a list of files`);
  const out: HubFileInfo[] = [];
  for (const entry of entries as TreeEntry[]) {
    if (entry.type !== 'file' || typeof entry.path !== 'string') continue;
    const size = entry.lfs?.size ?? entry.size;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
      throw new HubError(`hub: ${url} lists '${entry.path}' without a valid size`);
    const sha = entry.lfs?.oid;
    out.push({
      name: entry.path,
      size,
      sha256: typeof sha === 'string' && /^[0-9a-f]{64}$/.test(sha) ? sha : undefined,
    });
  }
  return out;
}

const MODEL_FILE =
  /^(config\.json|generation_config\.json|tokenizer\.json|tokenizer_config\.json|special_tokens_map\.json|chat_template\.jinja|README\.md|mergekit_moe_config\.yml|.*\.safetensors|model\.safetensors\.index\.json)$/;

/** The files a Studio model needs (config, tokenizer, safetensors); skips .bin/.gguf/.onnx copies. */
export function hubSelectModelFiles(files: HubFileInfo[]): HubFileInfo[] {
  return files.filter((f) => MODEL_FILE.test(f.name));
}

export const HUB_LIMITS = {
  /**
   * Longest wait for the response or for the next bytes of a body. The hub's CDN answers in
   * well under a second; a server silent this long has stalled, and waiting for ever would
   * hang the import (the stored chunks stay: resume continues from them).
   */
  readTimeoutMs: 30_000,
} as const;

export interface DownloadFileOptions {
  /** Bytes already stored; a Range request continues from here. */
  offset: number;
  size: number;
  signal?: AbortSignal;
  onBytes?: (bytesDone: number) => void;
  /** Default HUB_LIMITS.readTimeoutMs. */
  readTimeoutMs?: number;
}

/** A watchdog: `arm()` (re)starts the countdown; when it fires, `signal` aborts and `expired` rejects. */
function stallWatchdog(ms: number) {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let fire: () => void = () => {};
  const expired = new Promise<never>((_, reject) => {
    fire = () => reject(new StallError());
  });
  expired.catch(() => {}); // observed by the races below
  return {
    signal: controller.signal,
    expired,
    arm() {
      clearTimeout(timer);
      timer = setTimeout(() => {
        controller.abort();
        fire();
      }, ms);
    },
    stop: () => clearTimeout(timer),
    get fired() {
      return controller.signal.aborted;
    },
  };
}

class StallError extends Error {}

/**
 * Streams `url` from `offset` into `sink`; checks Range handling and the final size. A server
 * that sends nothing for readTimeoutMs (before the response or between chunks) ends the
 * download with a HubError saying how far it got; resume continues from the stored chunks.
 */
export async function hubDownloadFile(
  fetchFn: FetchFn,
  url: string,
  sink: ByteSink,
  options: DownloadFileOptions,
): Promise<void> {
  const { offset, size } = options;
  if (offset === size && size > 0) {
    await sink.close(); // every byte is stored already: nothing to ask the server for
    return;
  }
  const timeoutMs = options.readTimeoutMs ?? HUB_LIMITS.readTimeoutMs;
  const watchdog = stallWatchdog(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, watchdog.signal]) : watchdog.signal;
  const progress = { done: offset };
  const stalled = () =>
    new HubError(
      `hub: ${url} sent nothing for ${timeoutMs / 1000} s at byte ${progress.done} of ${size}; the stored part is kept, resume later to continue`,
    );
  try {
    watchdog.arm();
    const headers: Record<string, string> = offset > 0 ? { Range: `bytes=${offset}-` } : {};
    const res = await Promise.race([hubFetch(fetchFn, url, { headers, signal }), watchdog.expired]);
    await streamBody(res, url, sink, options, watchdog, progress);
  } catch (e) {
    if (e instanceof StallError || (watchdog.fired && !options.signal?.aborted)) throw stalled();
    throw e;
  } finally {
    watchdog.stop();
  }
  if (progress.done !== size) throw new HubError(`hub: ${url} ended at byte ${progress.done}, expected ${size}`);
  await sink.close();
}

async function streamBody(
  res: Response,
  url: string,
  sink: ByteSink,
  options: DownloadFileOptions,
  watchdog: ReturnType<typeof stallWatchdog>,
  progress: { done: number },
): Promise<void> {
  const { offset, size } = options;
  let skip = 0;
  if (offset > 0 && res.status === 206) {
    const range = res.headers.get('content-range');
    const start = range ? Number(/bytes (\d+)-/.exec(range)?.[1]) : NaN;
    if (start !== offset)
      throw new HubError(`hub: ${url} answered Content-Range '${range}' for a request from byte ${offset}`);
  } else if (offset > 0) {
    skip = offset; // the server ignored Range: drop the bytes we already have
  }
  if (!res.body) throw new HubError(`hub: ${url} answered no body`);
  const reader = res.body.getReader();
  let done = offset;
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        watchdog.arm();
        chunk = await Promise.race([reader.read(), watchdog.expired]);
      } catch (e) {
        if (e instanceof StallError || watchdog.fired) {
          reader.cancel().catch(() => {});
          throw new StallError();
        }
        if ((e as Error).name === 'AbortError' || options.signal?.aborted) throw e;
        // A dropped connection: name the URL and how far it got; the stored chunks stay, so Resume continues from there.
        throw new HubError(
          `hub: the connection to ${url} dropped at byte ${done} of ${size} (${(e as Error).name}: ${(e as Error).message}); resume to continue from there`,
        );
      }
      const { value, done: end } = chunk;
      if (end) break;
      let bytes = value;
      if (skip > 0) {
        const drop = Math.min(skip, bytes.byteLength);
        skip -= drop;
        bytes = bytes.subarray(drop);
      }
      if (bytes.byteLength === 0) continue;
      if (done + bytes.byteLength > size) throw new HubError(`hub: ${url} sent more than the listed ${size} bytes`);
      await sink.write(bytes);
      done += bytes.byteLength;
      progress.done = done;
      options.onBytes?.(done);
    }
  } catch (e) {
    if (e instanceof StallError) throw e;
    if ((e as Error).name === 'AbortError' || options.signal?.aborted)
      throw new CancelledError(`hub: download of ${url} paused at byte ${done}`);
    throw e;
  } finally {
    reader.releaseLock();
  }
}
