/** What bandwidth-worker.ts (the driver) and bandwidth-helper.ts (its helpers) share: the request, the control block, the slicing. */
export interface BandwidthRequest {
  wasm: number[]; // stream.wat's binary (bench/bandwidth.ts assembles it)
  threads: number;
  mib: number; // per buffer
  reps: number;
}
export interface BandwidthRun {
  threads: number;
  readBytesPerSecond: number;
  copyBytesPerSecond: number; // bytes read + written
}
export const CONTROL_BYTES = 65536;
export const SLOT = { GENERATION: 0, OP: 1, DONE: 2, READY: 3, EXIT: 4 } as const;

export interface StreamExports {
  read(p: number, bytes: number): number;
  copy(dst: number, src: number, bytes: number): void;
}

/** Thread `index`'s slice of `bytes` (64-byte steps; the last thread takes the remainder). */
export function slice(bytes: number, threads: number, index: number): { offset: number; bytes: number } {
  const step = Math.floor(bytes / threads / 64) * 64;
  return { offset: step * index, bytes: index === threads - 1 ? bytes - step * index : step };
}

/** One thread's share of op 1 (read) or 2 (copy). */
export function runSlice(stream: StreamExports, op: number, bytes: number, threads: number, index: number): number {
  const part = slice(bytes, threads, index);
  if (op === 1) return stream.read(CONTROL_BYTES + part.offset, part.bytes);
  stream.copy(CONTROL_BYTES + bytes + part.offset, CONTROL_BYTES + part.offset, part.bytes);
  return 0;
}
