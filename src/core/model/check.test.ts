/**
 * checkModelFiles: a folder is accepted only when loadModel would open it, and the summary the
 * Library shows comes from headers alone. Corrupt folders are a catalogue, each with its error.
 */
import { describe, expect, it } from 'vitest';
import { MemorySink, type FileSet, memoryFileSet } from '../io/byte-source.ts';
import { buildTestingBpeTokenizer } from '../tokenizer/bpe.testing.ts';
import { checkModelFiles } from './check.ts';
import { exportGguf } from './gguf-model.ts';
import { exportHfToMemory } from './hf.testing.ts';
import { loadModel } from './load.ts';
import { randomModelWeights, tinyDenseSpec, tinyMoeSpec } from './random.ts';

const enc = (x: unknown) => new TextEncoder().encode(typeof x === 'string' ? x : JSON.stringify(x));
const bpe = buildTestingBpeTokenizer();
const TOKENIZER = { 'tokenizer.json': enc(bpe.tokenizerJson), 'tokenizer_config.json': enc(bpe.tokenizerConfig) };

async function hfFolder(spec = tinyDenseSpec({ vocab: 400 })): Promise<Record<string, Uint8Array>> {
  const { files } = await exportHfToMemory(randomModelWeights(spec, 7));
  return { ...files, ...TOKENIZER };
}

function seededBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** A FileSet that counts the bytes read from each file. */
function countingFileSet(files: FileSet): { fileSet: FileSet; read: Map<string, number> } {
  const read = new Map<string, number>();
  return {
    read,
    fileSet: {
      name: files.name,
      list: () => files.list(),
      async open(file) {
        const src = await files.open(file);
        return {
          size: src.size,
          name: src.name,
          read: (offset, length) => {
            read.set(file, (read.get(file) ?? 0) + length);
            return src.read(offset, length);
          },
        };
      },
    },
  };
}

describe('checkModelFiles accepts what loadModel opens', () => {
  it('summarises a dense HF folder from its headers without reading tensor data', async () => {
    const files = await hfFolder();
    const { fileSet, read } = countingFileSet(memoryFileSet(files, 'dense'));
    const summary = await checkModelFiles(fileSet);
    const loaded = await loadModel(memoryFileSet(files, 'dense'));
    const params = [loaded.weights.embed, loaded.weights.finalNorm, loaded.weights.lmHead!]
      .concat(loaded.weights.layers.flatMap((l) => [l.attnNorm, l.wq, l.wk, l.wv, l.wo, l.ffnNorm]))
      .concat(loaded.weights.layers.flatMap((l) => [l.mlp!.gate, l.mlp!.up, l.mlp!.down]))
      .reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
    expect(summary).toEqual({
      format: 'hf',
      arch: 'llama',
      params,
      layers: 2,
      hidden: 48,
      vocab: 400,
      contextLength: 64,
      dtype: 'f32',
      tokenizer: 'tokenizer.json',
    });
    expect(read.get('model.safetensors')).toBeLessThan(files['model.safetensors']!.byteLength / 10);
  });

  it('reports experts and experts per token of a Mixtral folder', async () => {
    const summary = await checkModelFiles(memoryFileSet(await hfFolder(tinyMoeSpec({ vocab: 400 })), 'moe'));
    expect(summary).toMatchObject({ arch: 'mixtral', experts: 4, expertsPerToken: 2 });
  });

  it('reads a quantized GGUF import through its header: q8_0, tokenizer.json beside it', async () => {
    const weights = randomModelWeights(tinyDenseSpec({ vocab: 400, hidden: 64, headDim: 8, heads: 8 }), 3);
    const sink = new MemorySink();
    await exportGguf(sink, weights, bpe, 'q8_0');
    const files = { 'model.gguf': sink.bytes(), 'config.json': enc({}), ...TOKENIZER };
    const summary = await checkModelFiles(memoryFileSet(files, 'quantized'));
    expect(summary).toMatchObject({ format: 'gguf', arch: 'llama', dtype: 'q8_0', tokenizer: 'tokenizer.json' });
  });
});

/** Each corruption of a good HF folder and the error it must raise. */
const CORRUPTIONS: [string, (files: Record<string, Uint8Array>) => void, RegExp, string][] = [
  ['a config.json without model_type', (f) => (f['config.json'] = enc({ foo: 1 })), /config\.json/, 'ConfigError'],
  ['a config.json that is not JSON', (f) => (f['config.json'] = enc('{oops')), /config\.json/, 'FormatError'],
  [
    'random bytes as model.safetensors',
    (f) => (f['model.safetensors'] = seededBytes(4096)),
    /folder\/model\.safetensors/,
    'FormatError',
  ],
  [
    'a config.json whose hidden_size disagrees with the tensors',
    (f) => {
      const config = JSON.parse(new TextDecoder().decode(f['config.json']));
      f['config.json'] = enc({
        ...config,
        hidden_size: 56,
        head_dim: 8,
        num_attention_heads: 7,
        num_key_value_heads: 7,
      });
    },
    /shape .* config\.json implies/,
    'ConfigError',
  ],
  [
    'a config.json with more layers than the checkpoint has',
    (f) => {
      const config = JSON.parse(new TextDecoder().decode(f['config.json']));
      f['config.json'] = enc({ ...config, num_hidden_layers: 3 });
    },
    /missing tensor/,
    'FormatError',
  ],
  ['a tokenizer.json that is not JSON', (f) => (f['tokenizer.json'] = enc('{')), /tokenizer\.json/, 'FormatError'],
  ['no model.safetensors', (f) => delete f['model.safetensors'], /no \.safetensors file/, 'FormatError'],
];

describe('checkModelFiles refuses a folder loadModel would refuse', () => {
  it.each(CORRUPTIONS)('rejects %s', async (_, corrupt, message, kind) => {
    const files = await hfFolder();
    corrupt(files);
    const error = await checkModelFiles(memoryFileSet(files, 'folder')).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect({ name: (error as Error).name, message: (error as Error).message }).toMatchObject({
      name: kind,
      message: expect.stringMatching(message),
    });
  });

  it('rejects a tokenizer.json with more tokens than config.json vocab_size', async () => {
    const files = await hfFolder(tinyDenseSpec({ vocab: 200 }));
    await expect(checkModelFiles(memoryFileSet(files, 'folder'))).rejects.toThrow(
      /tokenizer\.json: \d+ tokens, but config\.json vocab_size is 200/,
    );
  });

  it('rejects a folder that holds no model', async () => {
    await expect(checkModelFiles(memoryFileSet({ 'notes.txt': enc('hi') }, 'stuff'))).rejects.toThrow(
      /stuff: not a model/,
    );
  });
});
