/**
 * embed.wgsl — x[t, :] = table[tokenIds[t], :] dequantized to f32.
 * Bindings: 0 params, 1 table (read, [vocab, hidden] in its dtype's layout), 2 tokenIds
 * (read, [nTokens] u32), 3 x (read_write, [nTokens, hidden]).
 * Workgroup 64 (4 dims per invocation); grid (ceil(hidden/4/64), nTokens, 1).
 * A table split by rows (upload.ts) runs once per part; `rows` = {row0, count} of the part,
 * and each token is written by the one part holding its row.
 * Bytes moved: one table row per token (nTokens·rowBytes) + 4·hidden·nTokens.
 */
import { WGSL_SOURCES } from './wgsl-sources.generated.ts';
import { groups, packParams, type KernelLaunch } from './launch.ts';
import { weightReaderSource, weightRowBytes, type GpuWeightDType } from './weight-formats.ts';

const source = WGSL_SOURCES['embed.wgsl'];

export function embedSource(dtype: GpuWeightDType): string {
  return `${weightReaderSource(dtype, 'table')}\n${source}`;
}

export function embedLaunch(
  dtype: GpuWeightDType,
  hidden: number,
  nTokens: number,
  rows: { row0: number; count: number; vocab: number },
): KernelLaunch {
  return {
    params: packParams([hidden, nTokens, rows.row0, rows.count]),
    grid: [groups(Math.ceil(hidden / 4)), nTokens, 1],
    // each token's row is read by one part: share the total by the part's rows
    weightBytes: (nTokens * weightRowBytes(dtype, hidden) * rows.count) / rows.vocab,
  };
}
