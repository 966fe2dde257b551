/**
 * Browser File objects as a FileSet (folder picker, webkitdirectory input, drag and drop).
 * Paths are made relative to the picked folder.
 */
import { bytesSource, type FileSet } from '../core/io/byte-source.ts';
import { MissingFileError } from '../core/errors.ts';

export function filesToFileSet(
  files: { path: string; file: File }[],
  name: string,
): { fileSet: FileSet; totalBytes: number } {
  const byName = new Map(files.map((f) => [f.path, f.file]));
  const fileSet: FileSet = {
    name,
    async list() {
      return [...byName.keys()].sort();
    },
    async open(path) {
      const file = byName.get(path);
      if (!file) throw new MissingFileError(name, path);
      return {
        size: file.size,
        name: `${name}/${path}`,
        read: async (offset, length) => new Uint8Array(await file.slice(offset, offset + length).arrayBuffer()),
      };
    },
  };
  return { fileSet, totalBytes: files.reduce((s, f) => s + f.file.size, 0) };
}

/** From an <input webkitdirectory> FileList: strips the top folder name from each path. */
export function fileListToEntries(list: FileList | File[]): {
  folder: string;
  entries: { path: string; file: File }[];
} {
  const all = Array.from(list);
  const first = (all[0] as File & { webkitRelativePath?: string })?.webkitRelativePath ?? '';
  const folder = first.includes('/') ? first.split('/')[0] : 'folder';
  const entries = all.map((file) => {
    const rel = (file as File & { webkitRelativePath?: string }).webkitRelativePath || file.name;
    return { path: rel.includes('/') ? rel.split('/').slice(1).join('/') : rel, file };
  });
  return { folder, entries };
}

/** Walks a directory handle (showDirectoryPicker, or a dropped folder's getAsFileSystemHandle). */
export async function directoryHandleEntries(
  dir: FileSystemDirectoryHandle,
  prefix = '',
): Promise<{ path: string; file: File }[]> {
  const out: { path: string; file: File }[] = [];
  for await (const [name, handle] of (
    dir as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }
  ).entries()) {
    if (handle.kind === 'file')
      out.push({ path: prefix + name, file: await (handle as FileSystemFileHandle).getFile() });
    else out.push(...(await directoryHandleEntries(handle as FileSystemDirectoryHandle, `${prefix}${name}/`)));
  }
  return out;
}

export { bytesSource };
