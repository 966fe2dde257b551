import { describe, expect, it } from 'vitest';
import { FormatError } from '../errors.ts';
import { memoryFileSet } from '../io/byte-source.ts';
import { readZipEntries, ZIP_CHUNK_BYTES, zipFileSet, zipSinks } from './zip.ts';

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);
/** Byte equality without toEqual, whose element-by-element diff of megabyte arrays exhausts the heap. */
const same = (a: Uint8Array | undefined, b: Uint8Array) => !!a && Buffer.from(a).equals(Buffer.from(b));

describe('zip writer and reader', () => {
  it('a FileSet round-trips under its folder, with replaced files', async () => {
    const big = new Uint8Array(ZIP_CHUNK_BYTES + 5).map((_, i) => i % 251);
    const files = memoryFileSet({
      'config.json': new TextEncoder().encode('{}'),
      'model.bin': big,
      'README.md': new Uint8Array(1),
    });
    const entries = readZipEntries(await collect(zipFileSet(files, 'm', { 'README.md': '# card' })));
    expect([...entries.keys()].sort()).toEqual(['m/README.md', 'm/config.json', 'm/model.bin']);
    expect(text(entries.get('m/README.md'))).toBe('# card');
    expect(same(entries.get('m/model.bin'), big)).toBe(true);
  });

  it('sinks written one after another become entries, in order, byte for byte', async () => {
    const zip = zipSinks('out');
    const archive = collect(zip.stream);
    const big = new Uint8Array(2 * ZIP_CHUNK_BYTES + 3).map((_, i) => (i * 7) % 256);
    const a = await zip.openSink('model.safetensors');
    await a.write(big.subarray(0, 10));
    await a.write(big.subarray(10));
    await a.close();
    const b = await zip.openSink('config.json');
    await b.write(new TextEncoder().encode('{"a":1}'));
    await b.close();
    zip.close();
    const entries = readZipEntries(await archive);
    expect([...entries.keys()]).toEqual(['out/model.safetensors', 'out/config.json']);
    expect(same(entries.get('out/model.safetensors'), big)).toBe(true);
    expect(text(entries.get('out/config.json'))).toBe('{"a":1}');
  });

  it("a sink's write waits until the archive's reader takes the chunk (nothing piles up)", async () => {
    const zip = zipSinks('out');
    const reader = zip.stream.getReader();
    const sink = await zip.openSink('x.bin');
    let written = 0;
    const writing = (async () => {
      for (let i = 0; i < 4; i++) {
        await sink.write(new Uint8Array(1024).fill(i));
        written++;
      }
    })();
    await new Promise((r) => setTimeout(r, 50));
    expect(written).toBe(0); // nobody reads: the first chunk waits for the archive
    const before = written;
    await reader.read(); // the local header
    await reader.read(); // a chunk of data
    await new Promise((r) => setTimeout(r, 20));
    expect(written).toBeGreaterThan(before);
    await reader.cancel(new Error('disk full'));
    await expect(writing).rejects.toThrow('disk full'); // a reader that gives up fails the writer
  });

  it('abort fails the archive and the sink being written with the reason', async () => {
    const zip = zipSinks('out');
    const archive = collect(zip.stream);
    const sink = await zip.openSink('model.safetensors');
    const writing = sink.write(new Uint8Array(10));
    const reason = Object.assign(new Error('merge: cancelled'), { name: 'CancelledError' });
    zip.abort(reason);
    await expect(archive).rejects.toThrow('merge: cancelled');
    await expect(writing).rejects.toThrow('merge: cancelled');
    await expect(zip.openSink('config.json')).rejects.toThrow('merge: cancelled');
  });

  it('the reader refuses what it does not read, naming it', async () => {
    expect(() => readZipEntries(new Uint8Array(100))).toThrow(FormatError);
    expect(() => readZipEntries(new Uint8Array(100))).toThrow('zip: no end-of-central-directory record');
    const zip = await collect(zipFileSet(memoryFileSet({ a: new Uint8Array(4) }), 'f'));
    expect(() => readZipEntries(zip.subarray(60))).toThrow(/^zip: /);
  });
});
