import { describe, expect, it } from 'vitest';
import { MissingFileError } from '../errors.ts';
import { memoryFileSet } from './byte-source.ts';

describe('memoryFileSet', () => {
  it.each(['constructor', '__proto__', 'toString'])('has no file %s (no Object.prototype lookups)', async (name) => {
    const files = memoryFileSet({ 'config.json': new Uint8Array(2) }, 'folder');
    await expect(files.open(name)).rejects.toBeInstanceOf(MissingFileError);
    await expect(files.open(name)).rejects.toThrow(`folder: no file '${name}'`);
  });
});
