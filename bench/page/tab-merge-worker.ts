/**
 * bench/tab-merge.ts's steps, each in a fresh dedicated worker as the app's merge and engine
 * workers run them:
 *   merge        MergeHost.build: four bf16 donors read from URL folders (Range reads), the
 *                merged MoE streamed into the IndexedDB store (Compose's Build)
 *   quantize     EngineHost.quantizeStored to q4_0 (the Library's "keep it quantized"; it
 *                replaces the bf16 model)
 *   chat         the q4_0 model loaded from the store on WASM (2 threads) and a greedy chat
 *   export-gguf  the same model loaded, then EngineHost.exportGguf q4_0 into a stream (the Export
 *                page's GGUF, which a save picker writes to disk chunk by chunk)
 *   export-hf    the bf16 merge's HF folder as a zip stream read to its end (the Export page's
 *                zip, which a save picker writes to disk chunk by chunk)
 *   delete       both stored models
 */
import { zipFileSet } from '../../src/core/formats/zip.ts';
import { idbKvStore } from '../../src/core/store/kv.ts';
import { modelStoreDelete, modelStoreGet } from '../../src/core/store/model-store.ts';
import { modelStoreEstimate, modelStoreFileSet } from '../../src/core/store/store-file-set.ts';
import { EngineHost } from '../../workers/engine/engine-host.ts';
import { MergeHost } from '../../workers/merge/merge-host.ts';

export type TabMergeStep = 'merge' | 'quantize' | 'chat' | 'export-gguf' | 'export-hf' | 'delete';

export interface TabMergeRequest {
  step: TabMergeStep;
  yaml: string;
  /** The donors of the YAML (donor0…), each a folder under /models/ with its files' sizes. */
  donors: { name: string; folder: string; files: { name: string; size: number }[] }[];
  /** The q4_0 model's id (quantize's answer), for the steps after it. */
  quantizedId?: string;
  tokens: number;
  threads: number;
}

export interface TabMergeRun {
  seconds: number;
  /** Bytes the step wrote: the stored model (merge, quantize) or the exported file (export-*). */
  outputBytes?: number;
  quantizedId?: string;
  loadSeconds?: number;
  prefillTokPerSec?: number;
  decodeTokPerSec?: number;
  tokens?: number;
  /** The wasm session's linear memory (EngineStats.sessionMemory). */
  wasmBytes?: number;
  usage?: number;
  quota?: number;
}

const DB = 'bench-tab-merge';
const MERGED = 'bench-tab-merge';

async function loaded(
  request: TabMergeRequest,
): Promise<{ host: EngineHost; loadSeconds: number; wasmBytes?: number }> {
  if (!request.quantizedId) throw new Error(`bench tab-merge: ${request.step} needs the quantize step's model`);
  const started = performance.now();
  const host = new EngineHost();
  await host.load({ kind: 'store', id: request.quantizedId, dbName: DB }, 'wasm', undefined, {
    threads: request.threads,
  });
  return {
    host,
    loadSeconds: (performance.now() - started) / 1000,
    wasmBytes: host.stats().sessionMemory?.totalBytes,
  };
}

async function run(request: TabMergeRequest): Promise<TabMergeRun> {
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  const kv = idbKvStore(DB);
  switch (request.step) {
    case 'merge': {
      const sources = Object.fromEntries(
        request.donors.map((d) => [
          d.name,
          { kind: 'url' as const, id: d.name, title: d.name, baseUrl: `/models/${d.folder}`, files: d.files },
        ]),
      );
      await new MergeHost().build(
        {
          yaml: request.yaml,
          sources,
          layout: 'classic',
          outputId: MERGED,
          title: 'bench tab merge',
          notes: {},
          dbName: DB,
        },
        () => {},
      );
      return {
        seconds: seconds(),
        outputBytes: (await modelStoreGet(kv, MERGED))?.totalBytes,
        ...(await modelStoreEstimate()),
      };
    }
    case 'quantize': {
      const quantizedId = await new EngineHost().quantizeStored(MERGED, 'q4_0', DB);
      const outputBytes = (await modelStoreGet(kv, quantizedId))?.totalBytes;
      return { seconds: seconds(), quantizedId, outputBytes, ...(await modelStoreEstimate()) };
    }
    case 'chat': {
      const { host, loadSeconds, wasmBytes } = await loaded(request);
      const summary = await host.generate(
        {
          messages: [{ role: 'user', content: 'Tell me about mixtures of experts.' }],
          sampling: { maxTokens: request.tokens, temperature: 0 },
        },
        () => {},
      );
      host.dispose();
      return {
        seconds: seconds(),
        loadSeconds,
        wasmBytes,
        prefillTokPerSec: summary.prefillTokPerSec,
        decodeTokPerSec: summary.decodeTokPerSec,
        tokens: summary.tokens,
      };
    }
    case 'export-gguf': {
      const { host, loadSeconds, wasmBytes } = await loaded(request);
      // into a stream that takes each chunk and lets it go, as a save picker's file does
      const { bytes } = await host.exportGguf('q4_0', new WritableStream<Uint8Array>());
      host.dispose();
      return { seconds: seconds(), loadSeconds, wasmBytes, outputBytes: bytes };
    }
    case 'export-hf': {
      const manifest = await modelStoreGet(kv, MERGED);
      if (!manifest) throw new Error('bench tab-merge: export-hf needs the merge step');
      const reader = zipFileSet(modelStoreFileSet(kv, manifest), 'bench-tab-merge').getReader();
      let outputBytes = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        outputBytes += value.byteLength;
      }
      return { seconds: seconds(), outputBytes };
    }
    case 'delete': {
      await modelStoreDelete(kv, MERGED);
      if (request.quantizedId) await modelStoreDelete(kv, request.quantizedId);
      return { seconds: seconds(), ...(await modelStoreEstimate()) };
    }
  }
}

self.onmessage = async (event: MessageEvent<TabMergeRequest>) => {
  try {
    self.postMessage({ ok: true, run: await run(event.data) });
  } catch (error) {
    self.postMessage({ ok: false, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
  }
};
