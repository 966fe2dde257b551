import { describe, expect, it } from 'vitest';
import { MissingFileError } from '../errors.ts';
import { memoryFileSet, writableStreamSink } from './byte-source.ts';

describe('memoryFileSet', () => {
  it.each(['constructor', '__proto__', 'toString'])('has no file %s (no Object.prototype lookups)', async (name) => {
    const files = memoryFileSet({ 'config.json': new Uint8Array(2) }, 'folder');
    await expect(files.open(name)).rejects.toBeInstanceOf(MissingFileError);
    await expect(files.open(name)).rejects.toThrow(`folder: no file '${name}'`);
  });
});

describe('writableStreamSink', () => {
  it('passes exactly the bytes written, in order, and keeps no view of the caller’s buffers', async () => {
    const chunks: Uint8Array[] = [];
    const sink = writableStreamSink(new WritableStream<Uint8Array>({ write: (chunk) => void chunks.push(chunk) }));
    const reused = new Uint8Array(3);
    for (const fill of [1, 2, 3]) {
      reused.fill(fill); // a writer may reuse its buffer after write() resolves
      await sink.write(reused);
    }
    await sink.write(new Uint8Array(0));
    await sink.close();
    expect(sink.bytes).toBe(9);
    expect(chunks.flatMap((c) => Array.from(c))).toEqual([1, 1, 1, 2, 2, 2, 3, 3, 3]);
  });
});
