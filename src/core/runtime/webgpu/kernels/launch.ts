/**
 * What every kernel wrapper returns for one dispatch: the packed `Params` uniform, the
 * dispatch grid and the bytes of weights the dispatch reads (for the bandwidth counters).
 * Wrappers are pure functions of shapes, so they are testable without a GPU.
 */
export const WORKGROUP_SIZE = 64;
/** Largest dispatch along one grid dimension we rely on (WebGPU's guaranteed minimum). */
export const MAX_GRID_DIM = 65535;

export interface KernelLaunch {
  params: Uint32Array; // the kernel's Params struct, 4-byte words
  grid: [number, number, number]; // workgroups
  weightBytes: number; // bytes of model weights this dispatch reads
}

/** A Params word: a u32, or an f32 stored by its bits. */
export type ParamWord = number | { f32: number };

export function packParams(words: readonly ParamWord[]): Uint32Array {
  const out = new Uint32Array(words.length);
  const asFloat = new Float32Array(out.buffer);
  words.forEach((w, i) => {
    if (typeof w === 'number') out[i] = w >>> 0;
    else asFloat[i] = w.f32;
  });
  return out;
}

export function groups(count: number, perGroup = WORKGROUP_SIZE): number {
  return Math.max(1, Math.ceil(count / perGroup));
}

/**
 * The rows one weight buffer holds when a matrix or expert stack is split past the binding
 * limit (upload.ts): rows [row0, row0 + rowCount) of each of the experts [expert0, expert0 +
 * expertCount), expert-major. A dense matrix is one expert. Unsplit, a part is the whole.
 */
export interface WeightPart {
  expert0: number;
  expertCount: number;
  row0: number;
  rowCount: number;
}

/** The part that is the whole of an `experts` × `rows` stack. */
export function wholePart(experts: number, rows: number): WeightPart {
  return { expert0: 0, expertCount: experts, row0: 0, rowCount: rows };
}
