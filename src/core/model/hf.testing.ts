/**
 * Test helper: export ModelWeights to an in-memory HF folder (a FileSet), so tests of the
 * loader, the merge and the UI can build real folders without touching disk.
 */
import { memoryFileSet, memoryFolder, type FileSet } from '../io/byte-source.ts';
import { exportHfFolder, type ExportHfOptions } from './export-hf.ts';
import type { ModelWeights } from './weights.ts';

export async function exportHfToMemory(
  weights: ModelWeights,
  options: ExportHfOptions = {},
  name = 'memory-model',
): Promise<{ files: Record<string, Uint8Array>; fileSet: FileSet; written: string[] }> {
  const folder = memoryFolder();
  const { files: written } = await exportHfFolder(weights, folder.open, options);
  const files = folder.bytes();
  return { files, fileSet: memoryFileSet(files, name), written };
}
