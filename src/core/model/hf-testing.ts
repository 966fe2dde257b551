/**
 * Test helper: export ModelWeights to an in-memory HF folder (a FileSet), so tests of the
 * loader, the merge and the UI can build real folders without touching disk.
 */
import { MemorySink, memoryFileSet, type FileSet } from '../io/byte-source.ts';
import { exportHfFolder, type ExportHfOptions } from './export-hf.ts';
import type { ModelWeights } from './weights.ts';

export async function exportHfToMemory(
  weights: ModelWeights,
  options: ExportHfOptions = {},
  name = 'memory-model',
): Promise<{ files: Record<string, Uint8Array>; fileSet: FileSet; written: string[] }> {
  const sinks = new Map<string, MemorySink>();
  const { files: written } = await exportHfFolder(weights, async (file) => {
    const sink = new MemorySink();
    sinks.set(file, sink);
    return sink;
  }, options);
  const files: Record<string, Uint8Array> = {};
  for (const [file, sink] of sinks) files[file] = sink.bytes();
  return { files, fileSet: memoryFileSet(files, name), written };
}
