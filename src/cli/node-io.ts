/**
 * ByteSource / FileSet / ByteSink over node:fs — the adapters that keep the core
 * platform-free (STYLE habit 6). This is the only file of the project that touches fs for
 * model data.
 */
import { mkdir, open, readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { ConfigError, FormatError, MissingFileError } from '../core/errors.ts';
import { type ByteSink, type ByteSource, checkRead, type FileSet } from '../core/io/byte-source.ts';

/** A file as a ByteSource; each read opens, reads exactly `length` bytes and closes. */
export async function nodeFileSource(path: string): Promise<ByteSource> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new MissingFileError(path);
  if (!info.isFile()) throw new ConfigError(`${path}: is a folder or device, expected a file`);
  const size = info.size;
  return {
    size,
    name: path,
    async read(offset: number, length: number): Promise<Uint8Array> {
      checkRead(path, offset, length, size);
      const out = new Uint8Array(length);
      const handle = await open(path, 'r');
      try {
        let done = 0;
        while (done < length) {
          const { bytesRead } = await handle.read(out, done, length - done, offset + done);
          if (bytesRead === 0)
            throw new FormatError(
              `${path}: file ended at ${offset + done} (expected ${size} bytes; was it changed while reading?)`,
            );
          done += bytesRead;
        }
      } finally {
        await handle.close();
      }
      return out;
    },
  };
}

/** A whole text file (a YAML config); a missing path or a folder is a typed error naming it. */
export async function readTextFile(path: string): Promise<string> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new MissingFileError(path);
  if (!info.isFile()) throw new ConfigError(`${path}: is a folder or device, expected a file`);
  return readFile(path, 'utf8');
}

async function listRecursive(root: string, dir: string, out: string[]): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) await listRecursive(root, full, out);
    else if (entry.isFile()) out.push(relative(root, full).split(sep).join('/'));
  }
}

/** A directory as a FileSet (names relative to it, '/'-separated, sorted). */
export function nodeDirFileSet(dir: string): FileSet {
  return {
    name: dir,
    async list() {
      const out: string[] = [];
      await listRecursive(dir, dir, out);
      return out.sort();
    },
    async open(file: string) {
      const path = join(dir, ...file.split('/'));
      const info = await stat(path).catch(() => undefined);
      if (!info?.isFile()) throw new MissingFileError(dir, file);
      return nodeFileSource(path);
    },
  };
}

/** One file seen as a FileSet holding just that file (for .gguf / .bin models). */
export function nodeSingleFileSet(path: string): FileSet {
  const dir = dirname(path);
  const name = basename(path);
  const inner = nodeDirFileSet(dir);
  return {
    name: path,
    async list() {
      return [name];
    },
    async open(file: string) {
      if (file !== name) throw new MissingFileError(path, file);
      return inner.open(file);
    },
  };
}

/** A file sink (parent directories created; an existing file is truncated). */
export async function nodeFileSink(path: string): Promise<ByteSink> {
  await mkdir(dirname(path), { recursive: true });
  const handle = await open(path, 'w');
  let closed = false;
  return {
    async write(chunk: Uint8Array) {
      let done = 0;
      while (done < chunk.byteLength) {
        const { bytesWritten } = await handle.write(chunk, done, chunk.byteLength - done);
        done += bytesWritten;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await handle.close();
    },
  };
}

/** openSink for writers that produce folders (exportHfFolder, the merge). */
export function nodeDirSinkOpener(dir: string): (fileName: string) => Promise<ByteSink> {
  return (fileName) => nodeFileSink(join(dir, ...fileName.split('/')));
}

export async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

export async function pathExists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined)) !== undefined;
}
