/**
 * Export: mergekit YAML, HF folder files (with a model card listing donors, the YAML and
 * usage), GGUF through the engine, routing traces as JSON/CSV. Bytes go straight to a
 * download (or a picked folder), never into state.
 */
import { create } from 'zustand';
import { type FileSet, readText } from '../core/io/byte-source.ts';
import { sourceChunks, zipFileSet } from '../core/formats/zip.ts';
import type { ModelManifest, StoredQuant } from '../core/store/manifest.ts';
import { modelStoreFileSet } from '../core/store/store-file-set.ts';
import { engineClient, workerCrashWatch, workerTransfer } from './workers.ts';
import { engineLoad, useEngine } from './engine.ts';
import type { LibraryRef } from './library-refs.ts';
import { fetchFileSet } from '../core/hub/fetch-file-set.ts';
import { appKv } from './kv-instance.ts';
import { routingTraceCsv } from './routing-stats.ts';
import { routingTraceJson } from './routing-trace.ts';
import type { AnalyzedText } from '../../workers/engine/api.ts';
import { formatBytes } from './format.ts';
import { hfModelCard, type ModelCardExpert, yamlModelCardFacts } from '../core/merge/model-card.ts';
import { calibrationModelCard, type CalibrationRecord } from '../core/calibrate/merged.ts';

export { markdownCell } from '../core/merge/model-card.ts';

export interface ExportState {
  busy?: string;
  message?: { kind: 'error' | 'info'; text: string };
}
export const useExport = create<ExportState>()(() => ({}));
export function exportReset(): void {
  useExport.setState({}, true);
}

export function downloadBytes(
  name: string,
  bytes: Uint8Array | string | Blob,
  type = 'application/octet-stream',
): void {
  const blob =
    bytes instanceof Blob ? bytes : new Blob([typeof bytes === 'string' ? bytes : new Uint8Array(bytes)], { type });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  // The browser resolves the blob URL when the download actually starts, which on a loaded
  // machine can be seconds after the click; revoking early loses the download silently.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export function manifestYaml(m: ModelManifest): string | undefined {
  return m.source.kind === 'merge' ? m.source.yaml : (m.notes?.yaml as string | undefined);
}

/**
 * README.md for the HF folder (hfModelCard, the writer the CLI's merge uses too): a merge's
 * card comes from its YAML, as the CLI's does, with the router calibration the build fitted;
 * other models' from the manifest's notes.
 */
export function modelCard(m: ModelManifest): string {
  const arch = m.notes?.arch ? String(m.notes.arch) : undefined;
  const yaml = manifestYaml(m);
  const record = m.notes?.calibrationRecord as CalibrationRecord | undefined;
  const fromYaml = yaml && yamlModelCardFacts(m.title, yaml, arch, record && calibrationModelCard(record));
  return hfModelCard(
    fromYaml || {
      title: m.title,
      arch,
      base: m.notes?.base ? String(m.notes.base) : undefined,
      experts: (m.notes?.experts as ModelCardExpert[] | undefined) ?? [],
      yaml,
    },
  );
}

/** Runs one export; `work` returns what was saved ("name.zip (14.2 MB)") for the message. */
async function run(label: string, work: () => Promise<string>): Promise<void> {
  useExport.setState({ busy: label, message: undefined });
  try {
    const saved = await work();
    useExport.setState({ message: { kind: 'info', text: `${label} saved: ${saved}.` } });
  } catch (e) {
    useExport.setState({
      message: { kind: 'error', text: `${label} failed: ${(e as Error).name}: ${(e as Error).message}` },
    });
  } finally {
    useExport.setState({ busy: undefined });
  }
}

/**
 * The YAML as mergekit reads it, with a comment naming the sources mergekit cannot resolve
 * by itself: `zoo/…` (the studio's bundled demo models) and `local/…` (folders imported from
 * disk) must become local paths, e.g. to an HF folder exported from this page.
 */
export function yamlWithSourceNotes(yaml: string): string {
  const local = [...new Set([...yaml.matchAll(/\b((?:zoo|local|studio)\/[\w.-]+)/g)].map((m) => m[1]!))];
  if (!local.length) return yaml;
  return `# Not on the Hugging Face hub: ${local.join(', ')} (MoE Studio's demo zoo or imported folders).\n# For mergekit, export each as an HF folder (Export page) and replace its name by that folder's path.\n${yaml}`;
}

export function exportYaml(m: ModelManifest): Promise<void> {
  return run('mergekit YAML', async () => {
    const yaml = manifestYaml(m);
    if (!yaml) throw new Error(`'${m.title}' was not built from a mergekit YAML`);
    const text = yamlWithSourceNotes(yaml);
    downloadBytes('mergekit_moe_config.yml', text, 'text/yaml');
    return `mergekit_moe_config.yml (${formatBytes(new TextEncoder().encode(text).byteLength)})`;
  });
}

export function fileSlug(title: string): string {
  return title.replace(/[^\w.-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '') || 'model';
}

type SavePicker = (o: { suggestedName: string }) => Promise<FileSystemFileHandle>;

/**
 * Writes a stream to a file the user picks (streamed to disk: memory stays one chunk) where
 * the browser has showSaveFilePicker; elsewhere it is collected into a Blob (which Chromium
 * pages to disk, not the JS heap) and downloaded. Call it straight from the click: the picker
 * needs the click's activation. A stream that errors (a cancelled build) leaves no file: the
 * picked file's writes are aborted (an empty file the picker created is removed), no download
 * starts; so does `signal` (the producer is gone). Returns the bytes written.
 */
export async function saveStream(
  name: string,
  stream: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
  type = 'application/zip',
): Promise<{ bytes: number; picked: boolean }> {
  let bytes = 0;
  const counted = stream.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        bytes += chunk.byteLength;
        controller.enqueue(chunk);
      },
    }),
  );
  const picker = (window as Window & { showSaveFilePicker?: SavePicker }).showSaveFilePicker;
  const handle = picker ? await picker({ suggestedName: name }).catch(() => undefined) : undefined;
  if (handle) {
    const wasEmpty = (await handle.getFile()).size === 0;
    try {
      await counted.pipeTo(await handle.createWritable(), { signal }); // an error aborts the writable: the file keeps what it had
    } catch (error) {
      // Chromium's picker creates the file it names; one it created (empty) goes again. A file that had content is left as it was.
      if (wasEmpty)
        await (handle as FileSystemFileHandle & { remove?: () => Promise<void> }).remove?.().catch(() => {});
      throw error;
    }
    return { bytes, picked: true };
  }
  const blob = await new Response(signal ? counted.pipeThrough(new TransformStream(), { signal }) : counted).blob();
  downloadBytes(name, new Blob([blob], { type })); // composed, not copied
  return { bytes, picked: false };
}

type DirectoryPicker = (o: { mode: 'readwrite'; id?: string }) => Promise<FileSystemDirectoryHandle>;

/** Whether this browser writes into a folder the user picks (showDirectoryPicker; Chromium has it, Firefox and Safari do not). */
export const canSaveFolder = (): boolean => typeof window !== 'undefined' && 'showDirectoryPicker' in window;

/** The handle of `path` ('a/b.json') under dir, making its subfolders; a name with an empty, '.' or '..' segment is refused. */
async function fileHandleAt(dir: FileSystemDirectoryHandle, path: string): Promise<FileSystemFileHandle> {
  const parts = path.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) throw new Error(`'${path}' is not a file name to write`);
  let at = dir;
  for (const part of parts.slice(0, -1)) at = await at.getDirectoryHandle(part, { create: true });
  return at.getFileHandle(parts.at(-1)!, { create: true });
}

/**
 * Writes the files into a new folder `folder` inside a directory the user picks, file by file
 * and chunk by chunk (memory: one chunk). A `folder` already there is refused, so nothing of
 * the user's is overwritten; a failed write removes the folder it made. Call it straight from
 * the click (the picker needs its activation). Undefined when the picker is dismissed.
 */
export async function saveFolder(
  files: FileSet,
  folder: string,
  replace: Record<string, string> = {},
): Promise<{ bytes: number; count: number; where: string } | undefined> {
  const picker = (window as Window & { showDirectoryPicker?: DirectoryPicker }).showDirectoryPicker;
  if (!picker) throw new Error('this browser cannot write into a folder (no showDirectoryPicker): take the .zip');
  let parent: FileSystemDirectoryHandle;
  try {
    parent = await picker({ mode: 'readwrite', id: 'moe-studio-export' });
  } catch (e) {
    if ((e as Error).name === 'AbortError') return undefined; // dismissed: nothing to say
    throw e;
  }
  const taken = async (get: () => Promise<unknown>) =>
    get().then(
      () => true,
      () => false,
    );
  if ((await taken(() => parent.getDirectoryHandle(folder))) || (await taken(() => parent.getFileHandle(folder))))
    throw new Error(
      `'${folder}' is already in ${parent.name || 'that folder'}; nothing was overwritten: pick another folder`,
    );
  const dir = await parent.getDirectoryHandle(folder, { create: true });
  let bytes = 0;
  let count = 0;
  const write = async (name: string, chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) => {
    const writable = await (await fileHandleAt(dir, name)).createWritable();
    try {
      for await (const chunk of chunks) {
        await writable.write(chunk as Uint8Array<ArrayBuffer>);
        bytes += chunk.byteLength;
      }
      await writable.close();
    } catch (e) {
      await writable.abort().catch(() => {});
      throw e;
    }
    count += 1;
  };
  try {
    for (const name of await files.list())
      if (!Object.hasOwn(replace, name)) await write(name, sourceChunks(await files.open(name)));
    for (const [name, text] of Object.entries(replace)) await write(name, [new TextEncoder().encode(text)]);
  } catch (e) {
    await parent.removeEntry(folder, { recursive: true }).catch(() => {});
    throw e;
  }
  return { bytes, count, where: `${parent.name ? `${parent.name}/` : ''}${folder}` };
}

/** The model's HF folder written file by file into a folder the user picks (saveFolder). */
export function exportHfDirectory(files: FileSet, title: string, card: string | undefined): Promise<void> {
  return run('HF folder', async () => {
    const saved = await saveFolder(files, fileSlug(title), card === undefined ? {} : { 'README.md': card });
    if (!saved) return 'nothing (no folder was picked)';
    return `${saved.count} files in ${saved.where}/ (${formatBytes(saved.bytes)})`;
  });
}

/** The model's HF folder (config, safetensors, tokenizer, README) as one zip. */
export function exportHfZip(files: FileSet, title: string, card: string | undefined): Promise<void> {
  return run('HF folder', async () => {
    const name = `${fileSlug(title)}.zip`;
    const replace: Record<string, string> = card === undefined ? {} : { 'README.md': card };
    const { bytes, picked } = await saveStream(name, zipFileSet(files, fileSlug(title), replace));
    return `${name} (${formatBytes(bytes)})${picked ? '' : ' — assembled in memory: this browser has no save picker'}`;
  });
}

/**
 * Any library model's HF folder: a stored one (with the model card) or a zoo model read from
 * its URL; as one zip, or (`folder`) written into a folder the user picks.
 */
export function exportRefHfFolder(entry: LibraryRef, stored: ModelManifest[], folder = false): Promise<void> {
  const save = folder ? exportHfDirectory : exportHfZip;
  const ref = entry.ref;
  if (ref.kind === 'store') {
    const m = stored.find((x) => x.id === ref.id);
    if (!m) return run('HF folder', () => Promise.reject(new Error(`'${entry.title}' is no longer in the library`)));
    return save(modelStoreFileSet(appKv(), m), m.title, modelCard(m));
  }
  return save(fetchFileSet(fetch, ref.baseUrl, ref.files, ref.title), entry.title, undefined);
}

/** GGUF of any library model: the engine converts the model it holds, so a model not loaded in Chat is loaded first. */
export async function exportRefGguf(entry: LibraryRef, quant: StoredQuant): Promise<void> {
  if (useEngine.getState().model?.id !== entry.ref.id) {
    useExport.setState({ busy: `loading ${entry.title}`, message: undefined });
    const loaded = await engineLoad(entry.ref);
    useExport.setState({ busy: undefined });
    if (!loaded)
      return void useExport.setState({
        message: { kind: 'error', text: `GGUF ${quant} failed: '${entry.title}' did not load` },
      });
  }
  return exportGgufFile({ title: entry.title }, quant);
}

/**
 * The loaded model's GGUF, streamed from the engine worker into saveStream (the save picker's
 * file where there is one, chunk by chunk; else a Blob, which Chromium pages to disk). A
 * crashed worker or a failed save ends the other side with the reason; nothing half-written is kept.
 */
export function exportGgufFile(m: { title: string }, quant: StoredQuant): Promise<void> {
  return run(`GGUF ${quant}`, async () => {
    const name = `${fileSlug(m.title)}.${quant}.gguf`;
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const watch = workerCrashWatch('engine'); // a crashed worker never ends its stream
    try {
      const saving = saveStream(name, readable, watch.signal, 'application/octet-stream');
      const exporting = Promise.race([engineClient().exportGguf(quant, workerTransfer(writable)), watch.crashed]);
      const [exported, saved] = await Promise.allSettled([exporting, saving]);
      // The export's reason first: a save fails too when the export aborts the stream ("Failed to fetch")
      if (exported.status === 'rejected') throw exported.reason;
      if (saved.status === 'rejected') throw saved.reason;
      return `${name} (${formatBytes(saved.value.bytes)})`;
    } finally {
      watch.stop();
    }
  });
}

/** A routing trace as JSON or CSV; the CSV's donor column names each expert (`expertNames[e]`, the loaded model's donors). */
export function exportTrace(
  trace: AnalyzedText,
  format: 'json' | 'csv',
  expertNames: readonly string[] = [],
): Promise<void> {
  return run(`Trace ${format.toUpperCase()}`, async () => {
    const name = `routing-trace.${format}`;
    const text = format === 'csv' ? routingTraceCsv(trace.pieces, trace.routing, expertNames) : routingTraceJson(trace);
    downloadBytes(name, text, format === 'csv' ? 'text/csv' : 'application/json');
    return `${name} (${formatBytes(new TextEncoder().encode(text).byteLength)})`;
  });
}

export async function readStoredText(m: ModelManifest, name: string): Promise<string | undefined> {
  if (!m.files.some((f) => f.name === name)) return undefined;
  return readText(await modelStoreFileSet(appKv(), m).open(name));
}
