/**
 * Sessions from lazy weights (loadModelLazy over a GGUF): loading reads headers only, and a
 * backend's createSession reads each tensor once, one expert of a stacked [E, rows, cols]
 * tensor at a time, and computes exactly what a session from eagerly loaded weights does.
 * The GGUF's reads are logged by a ByteSource around the real in-memory one.
 */
import { describe, expect, it } from 'vitest';
import { type ByteSource, bytesSource, type FileSet, MemorySink } from '../io/byte-source.ts';
import { readGguf } from '../formats/gguf.ts';
import { buildTestingBpeTokenizer } from '../tokenizer/bpe.testing.ts';
import { exportGguf } from '../model/gguf-model.ts';
import { loadModel, loadModelLazy } from '../model/load.ts';
import { randomModelWeights, tinyMoeSpec, tinyQwenMoeSpec } from '../model/random.ts';
import type { ModelSpec } from '../model/spec.ts';
import type { GgufExportQuant } from '../model/gguf-names.ts';
import { cpuBackend } from './cpu/backend.ts';
import type { Backend } from './types.ts';
import { createWasmBackend } from './wasm/backend.ts';

const bpe = buildTestingBpeTokenizer(64);
const vocab = Object.keys(bpe.tokenizerJson.model.vocab).length;
const dims = { vocab, hidden: 64, heads: 4, kvHeads: 2, headDim: 16, intermediate: 96 };
const SPECS: [string, ModelSpec][] = [
  [
    'Mixtral, untied lm_head',
    tinyMoeSpec({ ...dims, moe: { experts: 4, expertsPerToken: 2, normTopK: true, expertIntermediate: 64 } }),
  ],
  [
    'Qwen2-MoE with a shared expert, tied',
    tinyQwenMoeSpec({
      ...dims,
      tieEmbeddings: true,
      moe: {
        experts: 3,
        expertsPerToken: 2,
        normTopK: false,
        expertIntermediate: 32,
        sharedExpert: { intermediate: 64, gated: true },
      },
    }),
  ],
];
const TOKENS = [1, 5, 9, 14, 3];

async function ggufBytes(spec: ModelSpec, quant: GgufExportQuant): Promise<Uint8Array> {
  const sink = new MemorySink();
  await exportGguf(sink, randomModelWeights(spec, 11, quant === 'f32' ? 'f32' : quant), bpe, quant);
  return sink.bytes();
}

/** model.gguf over `bytes`, every read of its data section logged as [offset, length]. */
function loggedGguf(bytes: Uint8Array, dataStart: number): { files: FileSet; reads: [number, number][] } {
  const reads: [number, number][] = [];
  const inner = bytesSource(bytes, 'model.gguf');
  const src: ByteSource = {
    size: inner.size,
    name: inner.name,
    read(offset, length) {
      if (offset >= dataStart) reads.push([offset, length]);
      return inner.read(offset, length);
    },
  };
  const files: FileSet = {
    name: 'logged',
    list: async () => ['model.gguf'],
    open: async () => src,
  };
  return { files, reads };
}

async function logits(backend: Backend, weights: Parameters<Backend['createSession']>[0]): Promise<Float32Array> {
  const session = await backend.createSession(weights, { maxContext: 16 });
  try {
    return (await session.forward(TOKENS)).logits;
  } finally {
    session.dispose();
  }
}

const backends: [string, () => Promise<Backend>][] = [
  ['cpu', async () => cpuBackend],
  ['wasm', () => createWasmBackend({ threads: 1 })],
];

describe.each(SPECS)('a session from a lazily loaded GGUF: %s', (_, spec) => {
  describe.each(backends)('%s backend', (_name, create) => {
    it.each(['f32', 'q4_0'] as const)(
      '%s: loading reads no tensor data, the session reads each tensor once, an expert at a time, with the same logits',
      async (quant) => {
        const bytes = await ggufBytes(spec, quant);
        const header = await readGguf(bytesSource(bytes));
        const { files, reads } = loggedGguf(bytes, header.dataStart);
        const lazy = await loadModelLazy(files);
        // Only the tied-or-not check may read: output.weight against token_embd.weight.
        const compared = reads
          .splice(0)
          .every(([offset]) =>
            ['token_embd.weight', 'output.weight'].includes(
              header.tensors.find((t) => t.dataOffset === offset)?.name ?? '',
            ),
          );
        expect(compared).toBe(true);
        const backend = await create();
        const fromLazy = await logits(backend, lazy.weights);
        const sessionReads = reads.splice(0);
        const fromEager = await logits(backend, (await loadModel(files)).weights);
        expect(Array.from(fromLazy)).toEqual(Array.from(fromEager));

        // A tied model's output.weight is token_embd's copy (qwen2moe GGUFs must have one): never read.
        const used = header.tensors.filter((t) => !(spec.tieEmbeddings && t.name === 'output.weight'));
        expect(lazy.spec.tieEmbeddings).toBe(spec.tieEmbeddings);
        const dataBytes = used.reduce((n, t) => n + t.byteLength, 0);
        expect(sessionReads.reduce((n, [, length]) => n + length, 0)).toBe(dataBytes);
        const largestPart = Math.max(
          ...used.map((t) => (t.name.endsWith('_exps.weight') ? t.byteLength / t.shape[0]! : t.byteLength)),
        );
        expect(Math.max(...sessionReads.map(([, length]) => length))).toBe(largestPart);
      },
    );
  });
});

describe('a lazily loaded GGUF with a corrupt weight', () => {
  it('loads, and the session refuses it naming the tensor (the eager loader refuses it at load)', async () => {
    const spec = SPECS[0]![1];
    const bytes = await ggufBytes(spec, 'q4_0');
    const header = await readGguf(bytesSource(bytes));
    const up = header.tensors.find((t) => t.name === 'blk.1.ffn_up_exps.weight')!;
    const expertBytes = up.byteLength / up.shape[0]!;
    const at = up.dataOffset + 2 * expertBytes; // expert 2's first q4_0 block: its f16 scale → NaN
    bytes.set([0x00, 0x7e], at);
    const { files } = loggedGguf(bytes, header.dataStart);
    const lazy = await loadModelLazy(files);
    await expect(logits(await createWasmBackend({ threads: 1 }), lazy.weights)).rejects.toThrow(
      /tensor 'blk\.1\.ffn_up_exps\.weight' holds NaN/,
    );
    await expect(loadModel(files)).rejects.toThrow(/tensor 'blk\.1\.ffn_up_exps\.weight' holds NaN/);
  });
});
