import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeDirFileSet, nodeDirSinkOpener, nodeFileSink, nodeFileSource, nodeSingleFileSet } from './node-io.ts';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'moe-node-io-'));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('node-io', () => {
  it('writes through a sink and reads exact ranges back', async () => {
    const dir = await tempDir();
    const sink = await nodeFileSink(join(dir, 'a', 'b.bin'));
    await sink.write(new Uint8Array([1, 2, 3]));
    await sink.write(new Uint8Array([4, 5]));
    await sink.close();
    const src = await nodeFileSource(join(dir, 'a', 'b.bin'));
    expect(src.size).toBe(5);
    expect([...(await src.read(1, 3))]).toEqual([2, 3, 4]);
    expect([...(await src.read(5, 0))]).toEqual([]);
    await expect(src.read(3, 3)).rejects.toThrow(/outside \[0, 5\)/);
  });

  it('lists a directory recursively with / separators and opens files by name', async () => {
    const dir = await tempDir();
    const open = nodeDirSinkOpener(dir);
    for (const name of ['config.json', 'sub/x.txt']) {
      const sink = await open(name);
      await sink.write(new TextEncoder().encode(name));
      await sink.close();
    }
    const files = nodeDirFileSet(dir);
    expect(await files.list()).toEqual(['config.json', 'sub/x.txt']);
    const src = await files.open('sub/x.txt');
    expect(new TextDecoder().decode(await src.read(0, src.size))).toBe('sub/x.txt');
    await expect(files.open('missing.json')).rejects.toThrow(`${dir}: no file 'missing.json'`);
    expect(await readFile(join(dir, 'config.json'), 'utf8')).toBe('config.json');
  });

  it('shows a single file as a one-file FileSet', async () => {
    const dir = await tempDir();
    const sink = await nodeFileSink(join(dir, 'm.gguf'));
    await sink.write(new Uint8Array([9]));
    await sink.close();
    const set = nodeSingleFileSet(join(dir, 'm.gguf'));
    expect(await set.list()).toEqual(['m.gguf']);
    expect((await set.open('m.gguf')).size).toBe(1);
    await expect(nodeFileSource(join(dir, 'nope'))).rejects.toThrow('no such file');
  });
});
