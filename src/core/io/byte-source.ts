import { FormatError, MissingFileError } from '../errors.ts';

/**
 * The one I/O seam of the core (STYLE habit 6). The core reads bytes only through a
 * ByteSource; File, HTTP Range, IndexedDB chunks and Node fs are adapters that live in
 * hub/, store/ and cli/ (never a `typeof window` or dynamic `fs` import inside core/).
 */
export interface ByteSource {
  /** Total size in bytes. */
  readonly size: number;
  /** A name for error messages (file path, URL, store key). */
  readonly name: string;
  /** Reads exactly `length` bytes at `offset`; rejects if the range is outside [0, size). */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** A sink the writers stream into (file, IndexedDB chunks, in-memory). */
export interface ByteSink {
  write(chunk: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/**
 * The one bounds check of every ByteSource.read: offset and length are safe integers and
 * [offset, offset + length) lies inside [0, size). A RangeError: format readers check lengths
 * against the bytes that remain before they read, so reaching this is a reader's bug or a
 * file that changed under us.
 */
export function checkRead(name: string, offset: number, length: number, size: number): void {
  if (
    !Number.isSafeInteger(offset) ||
    !Number.isSafeInteger(length) ||
    offset < 0 ||
    length < 0 ||
    offset + length > size
  ) {
    throw new RangeError(`${name}: read [${offset}, ${offset + length}) is outside [0, ${size})`);
  }
}

/** An in-memory ByteSource. */
export function bytesSource(bytes: Uint8Array, name = 'memory'): ByteSource {
  return {
    size: bytes.byteLength,
    name,
    async read(offset: number, length: number) {
      checkRead(name, offset, length, bytes.byteLength);
      return bytes.subarray(offset, offset + length);
    },
  };
}

/** An in-memory ByteSink that collects chunks; `bytes()` concatenates them. */
export class MemorySink implements ByteSink {
  private chunks: Uint8Array[] = [];
  private total = 0;
  async write(chunk: Uint8Array): Promise<void> {
    this.chunks.push(chunk.slice());
    this.total += chunk.byteLength;
  }
  async close(): Promise<void> {}
  get size(): number {
    return this.total;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.total);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.byteLength;
    }
    return out;
  }
}

/**
 * A ByteSink that hands each chunk to a Blob as it arrives and ends as one Blob composed of
 * them (no concatenation copy): a GGUF built for download is never held whole as a JS buffer
 * (browsers keep blob data outside the JS heap, paging large blobs to disk; Blob is a web
 * standard that Node has too).
 */
/**
 * A ByteSink over a WritableStream (a file the page's save picker opened, a stream handed to a
 * worker): each write waits for the stream to take the chunk (its back-pressure paces the
 * writer) and passes a copy, since writers may reuse their buffers. `abort` errors the stream,
 * so whatever it writes into keeps nothing of a failed export.
 */
export function writableStreamSink(stream: WritableStream<Uint8Array>): ByteSink & {
  abort(reason: unknown): Promise<void>;
  readonly bytes: number;
} {
  const writer = stream.getWriter();
  let bytes = 0;
  return {
    async write(chunk) {
      await writer.write(chunk.slice());
      bytes += chunk.byteLength;
    },
    close: () => writer.close(),
    abort: (reason) => writer.abort(reason).catch(() => {}),
    get bytes() {
      return bytes;
    },
  };
}

/**
 * A folder of files (HF layout: config.json, *.safetensors, tokenizer.json …). Adapters:
 * Node directory (cli/), in-memory map (tests, merge output), hub URL (hub/), IndexedDB (store/).
 */
export interface FileSet {
  readonly name: string;
  /** File names relative to the folder root, '/'-separated. */
  list(): Promise<string[]>;
  /** Opens one file; rejects with a message naming the folder and file when it is missing. */
  open(file: string): Promise<ByteSource>;
}

export function memoryFileSet(files: Record<string, Uint8Array>, name = 'memory'): FileSet {
  return {
    name,
    async list() {
      return Object.keys(files).sort();
    },
    async open(file: string) {
      const bytes = Object.hasOwn(files, file) ? files[file] : undefined; // "constructor" is no file
      if (!bytes) throw new MissingFileError(name, file);
      return bytesSource(bytes, `${name}/${file}`);
    },
  };
}

/** A folder written file by file into memory (`open` is a writer's openSink), then read back as a FileSet. */
export function memoryFolder(): {
  open: (name: string) => Promise<MemorySink>;
  bytes: () => Record<string, Uint8Array>;
  files: (name: string) => FileSet;
} {
  const sinks = new Map<string, MemorySink>();
  const bytes = () => Object.fromEntries([...sinks].map(([file, sink]) => [file, sink.bytes()]));
  return {
    open: async (name) => {
      const sink = new MemorySink();
      sinks.set(name, sink);
      return sink;
    },
    bytes,
    files: (name) => memoryFileSet(bytes(), name),
  };
}

export async function readText(src: ByteSource): Promise<string> {
  return new TextDecoder().decode(await src.read(0, src.size));
}

/** Reads and parses a JSON file of a folder; bad JSON is a FormatError naming the file. */
// biome-ignore lint/suspicious/noExplicitAny: the caller checks the shape it reads
export async function readJsonFile(files: FileSet, file: string): Promise<any> {
  const text = await readText(await files.open(file));
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new FormatError(`${file}: invalid JSON: ${(error as Error).message}`);
  }
}
