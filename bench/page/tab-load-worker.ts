/**
 * bench/tab-load.ts's steps, in a dedicated worker as the app's engine runs: `import` copies
 * the GGUF from /models/ into the IndexedDB model store (modelStoreImportFileSet, as the
 * Library's import does); `store` / `url` load it with the app's EngineHost (from the store,
 * or from the URL folder by Range reads) on the WASM backend and chat `tokens` greedy tokens.
 */
import { fetchFileSet } from '../../src/core/hub/fetch-file-set.ts';
import { modelStoreImportFileSet } from '../../src/core/store/import-files.ts';
import { idbKvStore } from '../../src/core/store/kv.ts';
import { modelStoreDelete } from '../../src/core/store/model-store.ts';
import { modelStoreEstimate } from '../../src/core/store/store-file-set.ts';
import { EngineHost } from '../../workers/engine/engine-host.ts';

export interface TabLoadRequest {
  step: 'import' | 'store' | 'url' | 'delete';
  /** The folder under /models/ holding model.gguf, and the GGUF's size. */
  folder: string;
  size: number;
  tokens: number;
  threads: number;
}

export interface TabLoadRun {
  seconds: number;
  loadSeconds?: number;
  prefillTokPerSec?: number;
  decodeTokPerSec?: number;
  tokens?: number;
  /** The wasm session's linear memory (EngineStats.sessionMemory). */
  wasmBytes?: number;
  quota?: number;
  usage?: number;
}

const DB = 'bench-tab-load';
const ID = 'bench-tab-load';

async function run(request: TabLoadRequest): Promise<TabLoadRun> {
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  const listing = [{ name: 'model.gguf', size: request.size }];
  const baseUrl = `/models/${request.folder}`;
  if (request.step === 'delete') {
    await modelStoreDelete(idbKvStore(DB), ID);
    return { seconds: seconds(), ...(await modelStoreEstimate()) };
  }
  if (request.step === 'import') {
    await modelStoreImportFileSet(idbKvStore(DB), {
      id: ID,
      title: request.folder,
      source: { kind: 'local', folderName: request.folder },
      files: fetchFileSet(fetch, baseUrl, listing, request.folder),
    });
    return { seconds: seconds(), ...(await modelStoreEstimate()) };
  }
  const host = new EngineHost();
  const ref =
    request.step === 'store'
      ? ({ kind: 'store', id: ID, dbName: DB } as const)
      : ({ kind: 'url', id: ID, title: request.folder, baseUrl, files: listing } as const);
  await host.load(ref, 'wasm', undefined, { threads: request.threads });
  const loadSeconds = seconds();
  const wasmBytes = host.stats().sessionMemory?.totalBytes;
  const summary = await host.generate(
    {
      messages: [{ role: 'user', content: '一丁七万丈三上下不与丐丑专且丕世丗丘丙业丛东丝丞丟' }],
      sampling: { maxTokens: request.tokens, temperature: 0 },
    },
    () => {},
  );
  host.dispose();
  return {
    seconds: seconds(),
    loadSeconds,
    prefillTokPerSec: summary.prefillTokPerSec,
    decodeTokPerSec: summary.decodeTokPerSec,
    tokens: summary.tokens,
    wasmBytes,
  };
}

self.onmessage = async (event: MessageEvent<TabLoadRequest>) => {
  try {
    self.postMessage({ ok: true, run: await run(event.data) });
  } catch (error) {
    self.postMessage({ ok: false, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
  }
};
