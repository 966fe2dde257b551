/**
 * loadModelLazy + the exporters stream: each tensor of the source folder is read once, when
 * the writer reaches it, so at most one tensor (or one layer's expert stack) is resident.
 * Reads of the folder and writes to the sink are recorded in one event log (a counting
 * FileSet and sink around the real in-memory ones), and the outputs are compared byte for
 * byte with the eager loader's.
 */
import { describe, expect, it } from 'vitest';
import { bytesSource, type FileSet, MemorySink, memoryFolder } from '../io/byte-source.ts';
import { openSafetensors } from '../formats/safetensors.ts';
import { SAFETENSORS_SINGLE_FILE } from '../formats/safetensors-folder.ts';
import { buildTestingBpeTokenizer } from '../tokenizer/bpe.testing.ts';
import { exportHfFolder } from './export-hf.ts';
import { exportGguf } from './gguf-model.ts';
import { exportHfToMemory } from './hf.testing.ts';
import { loadModel, loadModelLazy } from './load.ts';
import type { MixtralLayout } from './names.ts';
import { randomModelWeights, tinyMoeSpec } from './random.ts';
import type { ExportableWeights } from './weights.ts';

const EXPERTS = 4;
const bpe = buildTestingBpeTokenizer(64);
const spec = tinyMoeSpec({
  vocab: Object.keys(bpe.tokenizerJson.model.vocab).length,
  hidden: 64,
  heads: 8,
  kvHeads: 2,
  headDim: 8,
  moe: { experts: EXPERTS, expertsPerToken: 2, normTopK: true, expertIntermediate: 64 },
});

/** 'read' = a read of a tensor's data range in the source's model.safetensors; 'write' = a sink write. */
type Event = { kind: 'read'; tensor: string } | { kind: 'write' };

async function sourceFolder(layout: MixtralLayout) {
  const weights = randomModelWeights(spec, 7, 'bf16');
  const { files } = await exportHfToMemory(weights, { mixtralLayout: layout });
  const header = await openSafetensors(bytesSource(files[SAFETENSORS_SINGLE_FILE]!));
  const tensorAt = new Map(header.tensors.map((t) => [`${t.dataOffset}:${t.byteLength}`, t.name]));
  const log: Event[] = [];
  const inner = memoryFolder();
  for (const [name, bytes] of Object.entries(files)) {
    const sink = await inner.open(name);
    await sink.write(bytes);
  }
  const plain = inner.files('source');
  const counted: FileSet = {
    name: plain.name,
    list: () => plain.list(),
    async open(file) {
      const src = await plain.open(file);
      if (file !== SAFETENSORS_SINGLE_FILE) return src;
      return {
        size: src.size,
        name: src.name,
        read(offset, length) {
          const tensor = tensorAt.get(`${offset}:${length}`);
          if (tensor) log.push({ kind: 'read', tensor });
          return src.read(offset, length);
        },
      };
    },
  };
  return { files: counted, log, tensorNames: header.tensors.map((t) => t.name) };
}

/** `sink`, logging each write into the shared event log. */
function counted(sink: MemorySink, log: Event[]): MemorySink {
  const write = sink.write.bind(sink);
  sink.write = (chunk) => {
    log.push({ kind: 'write' });
    return write(chunk);
  };
  return sink;
}

/** The most tensor reads between two consecutive sink writes, and the reads before the first write. */
function readsBetweenWrites(log: Event[]): { beforeFirstWrite: number; most: number } {
  const runs: number[] = [0];
  for (const e of log) {
    if (e.kind === 'write') runs.push(0);
    else runs[runs.length - 1]!++;
  }
  return { beforeFirstWrite: runs[0]!, most: Math.max(...runs) };
}

function readCounts(log: Event[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of log) if (e.kind === 'read') counts.set(e.tensor, (counts.get(e.tensor) ?? 0) + 1);
  return counts;
}

async function gguf(weights: ExportableWeights, log: Event[] = []): Promise<Uint8Array> {
  const sink = counted(new MemorySink(), log);
  await exportGguf(sink, weights, bpe, 'q4_0');
  return sink.bytes();
}

async function hfFolder(
  weights: ExportableWeights,
  layout: MixtralLayout,
  log: Event[] = [],
): Promise<Record<string, Uint8Array>> {
  const out = memoryFolder();
  const open = async (name: string) => counted(await out.open(name), log);
  await exportHfFolder(weights, open, { mixtralLayout: layout, dtype: 'bf16' });
  return out.bytes();
}

describe('loadModelLazy: exports read each tensor once, when it is written', () => {
  it('the eager loader reads every tensor before the first write (what the lazy one avoids)', async () => {
    const source = await sourceFolder('classic');
    const model = await loadModel(source.files);
    await gguf(model.weights, source.log);
    expect(readsBetweenWrites(source.log).beforeFirstWrite).toBe(source.tensorNames.length);
  });

  it.each(['classic', 'fused'] as const)(
    'GGUF q4_0 from a %s folder: byte-identical, each tensor read once, at most one expert stack between writes',
    async (layout) => {
      const eager = await gguf((await loadModel((await sourceFolder(layout)).files)).weights);
      const source = await sourceFolder(layout);
      const lazy = await loadModelLazy(source.files);
      expect(source.log).toEqual([]); // loading read headers and config only
      const bytes = await gguf(lazy.weights, source.log);
      expect(bytes).toEqual(eager);
      const counts = readCounts(source.log);
      expect([...counts.keys()].sort()).toEqual([...source.tensorNames].sort());
      // Untied lm_head: every tensor once; fused gate_up_proj feeds gate_exps and up_exps from one read.
      expect([...counts.values()].every((n) => n === 1)).toBe(true);
      const { beforeFirstWrite, most } = readsBetweenWrites(source.log);
      expect(beforeFirstWrite).toBe(0);
      expect(most).toBe(layout === 'classic' ? EXPERTS : 1);
    },
  );

  // Most tensor reads between two writes: one, except a fused gate_up_proj built from classic experts (2E parts).
  it.each([
    ['classic', 'classic', 1],
    ['fused', 'fused', 1],
    ['fused', 'classic', 1],
    ['classic', 'fused', 2 * EXPERTS],
  ] as const)(
    'safetensors from a %s folder to %s: byte-identical, each tensor read once, ≤ %i reads between writes',
    async (from, to, most) => {
      const eager = await hfFolder((await loadModel((await sourceFolder(from)).files)).weights, to);
      const source = await sourceFolder(from);
      const lazy = await loadModelLazy(source.files);
      const written = await hfFolder(lazy.weights, to, source.log);
      expect(written).toEqual(eager);
      const counts = readCounts(source.log);
      expect(counts.size).toBe(source.tensorNames.length);
      expect([...counts.values()].every((n) => n === 1)).toBe(true);
      expect(readsBetweenWrites(source.log)).toEqual({ beforeFirstWrite: 0, most });
    },
  );
});

describe('loadModelLazy checks values when a tensor is read', () => {
  it('a NaN in an HF folder loads, and fails its first read naming the tensor (the eager loader fails at load)', async () => {
    const { files } = await exportHfToMemory(randomModelWeights(spec, 7, 'bf16'), { mixtralLayout: 'classic' });
    const header = await openSafetensors(bytesSource(files[SAFETENSORS_SINGLE_FILE]!));
    const wq = header.tensors.find((t) => t.name === 'model.layers.1.self_attn.q_proj.weight')!;
    files[SAFETENSORS_SINGLE_FILE]!.set([0xc0, 0x7f], wq.dataOffset + 6); // element 3 → bf16 NaN
    const folder = memoryFolder();
    for (const [name, bytes] of Object.entries(files)) await (await folder.open(name)).write(bytes);
    const lazy = await loadModelLazy(folder.files('corrupt'));
    const tensor = lazy.weights.layers[1]!.wq;
    expect('read' in tensor).toBe(true);
    await expect((tensor as { read(): Promise<Uint8Array> }).read()).rejects.toThrow(
      /tensor 'model\.layers\.1\.self_attn\.q_proj\.weight' holds NaN at element 3/,
    );
    await expect(loadModel(folder.files('corrupt'))).rejects.toThrow(/q_proj\.weight' holds NaN at element 3/);
  });
});
