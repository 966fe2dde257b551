/**
 * Zip archives of HF folders: the Export page's "HF folder" and Compose's "Build for export only".
 *
 * Writer: client-zip's makeZip (stored entries, no compression: safetensors bytes do not shrink;
 * ZIP64 records once an entry or the archive passes 4 GiB), pulled chunk by chunk, so at most one
 * chunk (ZIP_CHUNK_BYTES) of one file waits in memory while the archive streams to disk.
 *   zipFileSet(files, folder, replace)  the files of a FileSet, as entries `folder/name`
 *   zipSinks(folder)                    a writer's sinks (openSink(name)) as entries, each streamed
 *                                       while it is written; a sink's write waits until the archive's
 *                                       reader has taken the chunk (back-pressure up to the merge)
 * Reader: readZipEntries, what the writer writes and nothing more (the tests read archives with it):
 *   end-of-central-directory record (PK\5\6; the ZIP64 locator PK\6\7 and record when counts or
 *   offsets are 0xffff / 0xffffffff) → central-directory entries (PK\1\2: method u16 @10, compressed
 *   size u32 @20, size u32 @24, name length u16 @28, extra length u16 @30, comment length u16 @32,
 *   local header offset u32 @42, name @46; ZIP64 extra 0x0001 holds the 64-bit values) → local
 *   headers (PK\3\4: name length u16 @26, extra length u16 @28, data @30 + both).
 */
import { makeZip } from 'client-zip';
import { FormatError } from '../errors.ts';
import type { ByteSink, ByteSource, FileSet } from '../io/byte-source.ts';

/** Bytes per chunk handed to the archive: one chunk of one file is in memory at a time. */
export const ZIP_CHUNK_BYTES = 8 * 1024 ** 2;

/** A source's bytes in chunks of ZIP_CHUNK_BYTES, each a fresh copy (the writer may keep it): the zip and Export's folder writer. */
export async function* sourceChunks(src: ByteSource): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < src.size; at += ZIP_CHUNK_BYTES)
    yield (await src.read(at, Math.min(ZIP_CHUNK_BYTES, src.size - at))).slice();
}

/** The folder's files as entries under `folder/`, streamed chunk by chunk; `replace` gives some files new text. */
async function* fileSetEntries(files: FileSet, folder: string, replace: Record<string, string>) {
  for (const name of await files.list()) {
    if (Object.hasOwn(replace, name)) continue;
    const src = await files.open(name);
    yield { name: `${folder}/${name}`, input: sourceChunks(src), size: src.size };
  }
  for (const [name, text] of Object.entries(replace)) yield { name: `${folder}/${name}`, input: text };
}

/** A FileSet as one zip stream: every file under `folder/`, the files named in `replace` with that text instead. */
export function zipFileSet(
  files: FileSet,
  folder: string,
  replace: Record<string, string> = {},
): ReadableStream<Uint8Array> {
  return makeZip(fileSetEntries(files, folder, replace));
}

/** The archive of zipSinks and its controls. */
export interface ZipSinks {
  /** The archive: it ends after close(), and errors (with the reason) after abort(). */
  readonly stream: ReadableStream<Uint8Array>;
  /** A writer's openSink: each file becomes the next entry `folder/name`, streamed while it is written. */
  openSink(name: string): Promise<ByteSink>;
  /** No more files: the archive writes its central directory and ends. */
  close(): void;
  /** Fails the archive and the sink being written (its next write rejects with `reason`). */
  abort(reason: unknown): void;
}

/**
 * One sink's chunks handed to the archive one at a time: put() resolves once the archive has
 * taken the chunk and asks for the next, so nothing piles up between the writer and the disk.
 */
class ChunkHandoff {
  private chunk?: Uint8Array;
  private ended = false;
  private failure?: { reason: unknown };
  private wakeReader?: () => void;
  private wakeWriter?: () => void;

  private check(): void {
    if (this.failure) throw this.failure.reason;
  }

  private wake(which: 'wakeReader' | 'wakeWriter'): void {
    const wake = this[which];
    this[which] = undefined;
    wake?.();
  }

  async put(chunk: Uint8Array): Promise<void> {
    this.check();
    this.chunk = chunk;
    this.wake('wakeReader');
    await new Promise<void>((resolve) => (this.wakeWriter = resolve));
    this.check();
  }

  end(): void {
    this.ended = true;
    this.wake('wakeReader');
  }

  fail(reason: unknown): void {
    this.failure ??= { reason };
    this.wake('wakeReader');
    this.wake('wakeWriter');
  }

  async *chunks(): AsyncGenerator<Uint8Array> {
    for (;;) {
      this.check();
      const chunk = this.chunk;
      if (chunk) {
        this.chunk = undefined;
        yield chunk;
        this.wake('wakeWriter'); // the archive asks for the next chunk: this one is written
      } else if (this.ended) return;
      else await new Promise<void>((resolve) => (this.wakeReader = resolve));
    }
  }
}

/**
 * Files written one after another (a MergeWriter's sinks) as one zip stream. Nothing is kept:
 * each chunk is copied once (the writer may hand a view into a source buffer) and handed over
 * when the archive asks for it.
 */
export function zipSinks(folder: string): ZipSinks {
  const pending: { name: string; input: AsyncGenerator<Uint8Array> }[] = [];
  let wakeEntries: (() => void) | undefined;
  let closed = false;
  let failure: { reason: unknown } | undefined;
  let current: ChunkHandoff | undefined;
  const notify = () => {
    const wake = wakeEntries;
    wakeEntries = undefined;
    wake?.();
  };
  async function* entries() {
    for (;;) {
      if (failure) throw failure.reason;
      const next = pending.shift();
      if (next) yield next;
      else if (closed) return;
      else await new Promise<void>((resolve) => (wakeEntries = resolve));
    }
  }
  const abort = (reason: unknown) => {
    failure ??= { reason };
    current?.fail(reason);
    notify();
  };
  // The archive pulled one chunk at a time (high-water mark 0); a reader that cancels it aborts
  // the sinks too, so a writer waiting on a chunk nobody will read fails instead of hanging.
  const archive = makeZip(entries()).getReader();
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await archive.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel(reason) {
        abort(reason);
        archive.cancel(reason).catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );
  return {
    stream,
    async openSink(name) {
      if (failure) throw failure.reason;
      const handoff = new ChunkHandoff();
      current = handoff;
      pending.push({ name: `${folder}/${name}`, input: handoff.chunks() });
      notify();
      return {
        async write(chunk) {
          for (let at = 0; at < chunk.byteLength; at += ZIP_CHUNK_BYTES)
            await handoff.put(chunk.slice(at, at + ZIP_CHUNK_BYTES));
        },
        async close() {
          handoff.end();
        },
      };
    },
    close() {
      closed = true;
      notify();
    },
    abort,
  };
}

// ── Reader ───────────────────────────────────────────────────────────────────────────────────

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
/** A comment may follow the end record: the search goes back at most this far (u16 comment length + record). */
const MAX_EOCD_SEARCH = 0xffff + 22;

/** Every entry of a zip held in memory (stored entries only, as zipFileSet and zipSinks write), by name. */
export function readZipEntries(zip: Uint8Array): Map<string, Uint8Array> {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const u32 = (at: number, field: string) => {
    if (at < 0 || at + 4 > zip.byteLength) throw new FormatError(`zip: ${field} at ${at} is past the end`);
    return view.getUint32(at, true);
  };
  let eocd = zip.byteLength - 22;
  const stop = Math.max(0, zip.byteLength - MAX_EOCD_SEARCH);
  while (eocd >= stop && view.getUint32(eocd, true) !== EOCD) eocd--;
  if (eocd < stop) throw new FormatError('zip: no end-of-central-directory record');
  let count = view.getUint16(eocd + 10, true);
  let at = view.getUint32(eocd + 16, true);
  if (count === 0xffff || at === 0xffffffff) {
    const locator = eocd - 20;
    if (u32(locator, 'ZIP64 locator') !== ZIP64_LOCATOR) throw new FormatError('zip: no ZIP64 locator');
    const record = Number(view.getBigUint64(locator + 8, true));
    count = Number(view.getBigUint64(record + 32, true));
    at = Number(view.getBigUint64(record + 48, true));
  }
  const out = new Map<string, Uint8Array>();
  const decoder = new TextDecoder();
  for (let i = 0; i < count; i++) {
    if (u32(at, `central directory entry ${i}`) !== CENTRAL)
      throw new FormatError(`zip: bad central directory entry ${i}`);
    const method = view.getUint16(at + 10, true);
    let size = view.getUint32(at + 24, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    let local = view.getUint32(at + 42, true);
    const name = decoder.decode(zip.subarray(at + 46, at + 46 + nameLength));
    for (let x = at + 46 + nameLength; x < at + 46 + nameLength + extraLength; ) {
      const id = view.getUint16(x, true);
      const length = view.getUint16(x + 2, true);
      if (id === 1) {
        let field = x + 4;
        if (size === 0xffffffff) {
          field += 8; // the uncompressed size first, then the compressed one (stored: the same)
          size = Number(view.getBigUint64(field, true));
          field += 8;
        }
        if (local === 0xffffffff) local = Number(view.getBigUint64(field, true));
      }
      x += 4 + length;
    }
    if (method !== 0) throw new FormatError(`zip: '${name}' uses compression method ${method}, expected 0 (stored)`);
    if (u32(local, `local header of '${name}'`) !== LOCAL) throw new FormatError(`zip: bad local header for '${name}'`);
    const dataStart = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    if (dataStart + size > zip.byteLength)
      throw new FormatError(`zip: '${name}' data [${dataStart}, ${dataStart + size}) ends past ${zip.byteLength}`);
    out.set(name, zip.subarray(dataStart, dataStart + size));
    at += 46 + nameLength + extraLength + commentLength;
  }
  return out;
}
