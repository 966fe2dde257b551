/**
 * Test helper (not used by the app): a tiny 4-expert Mixtral merged by runMerge from
 * seeded random dense donors, stored in a test IndexedDB database under `id`.
 */
import { writeSafetensors } from '../../src/core/formats/safetensors.ts';
import { MemorySink, memoryFileSet, type FileSet } from '../../src/core/io/byte-source.ts';
import { mergeInMemory, randomHfFolder } from '../../src/core/merge/models.testing.ts';
import { modelStoreImportFileSet } from '../../src/core/store/import-files.ts';
import { idbKvStore } from '../../src/core/store/kv.ts';

export const TESTING_MOE_YAML = `base_model: org/base
gate_mode: random
experts_per_token: 2
experts:
  - source_model: org/e0
  - source_model: org/e1
  - source_model: org/e2
  - source_model: org/e3
`;

export async function storeTestingMoe(dbName: string, id: string, seed: number): Promise<void> {
  const folders: Record<string, FileSet> = {};
  for (const [i, name] of ['base', 'e0', 'e1', 'e2', 'e3'].entries())
    folders[`org/${name}`] = (await randomHfFolder(name, seed + i)).files;
  const { output } = await mergeInMemory(TESTING_MOE_YAML, folders, { allowAllSameModels: true });
  const sink = new MemorySink();
  const tensors = [...output.tensors.values()];
  await writeSafetensors(
    sink,
    tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape })),
    async (n) => output.tensors.get(n)!.data,
  );
  const files = Object.fromEntries(
    [...output.files.entries()].filter(([n]) => !n.endsWith('.safetensors') && !n.endsWith('index.json')),
  );
  await modelStoreImportFileSet(idbKvStore(dbName, 'models'), {
    id,
    title: 'Tiny MoE',
    source: { kind: 'merge', yaml: TESTING_MOE_YAML },
    files: memoryFileSet({ ...files, 'model.safetensors': sink.bytes() }),
    chunkBytes: 64 * 1024,
  });
}
