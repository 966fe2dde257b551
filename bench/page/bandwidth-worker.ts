/**
 * WASM memory bandwidth in a dedicated worker (bench/bandwidth.ts): the driver of `threads`
 * threads, the way the engine's pool runs: one shared WebAssembly.Memory, threads − 1 helper
 * workers (bandwidth-helper.ts) on it, each reading (or copying) its own contiguous slice of
 * one buffer. A rep starts when the driver bumps the generation counter and ends when every
 * helper has counted itself done; the best rep of each operation is kept.
 *
 * Control block (Int32 slots at byte 0): [0] generation, [1] op (1 read, 2 copy), [2] done,
 * [3] ready, [4] exit. Buffers start at CONTROL_BYTES: src [bytes], then dst [bytes].
 */
import {
  CONTROL_BYTES,
  runSlice,
  SLOT,
  type BandwidthRequest,
  type BandwidthRun,
  type StreamExports,
} from './bandwidth-stream.ts';

async function measure(request: BandwidthRequest): Promise<BandwidthRun> {
  const bytes = request.mib * 1024 * 1024;
  const pages = Math.ceil((CONTROL_BYTES + 2 * bytes) / 65536);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: 16384, shared: true });
  const module = await WebAssembly.compile(new Uint8Array(request.wasm));
  const stream = (await WebAssembly.instantiate(module, { env: { memory } })).exports as unknown as StreamExports;
  const control = new Int32Array(memory.buffer, 0, 16);
  new Uint32Array(memory.buffer, CONTROL_BYTES, bytes / 4).forEach((_, i, a) => (a[i] = i)); // touch every page
  const helpers = Array.from({ length: request.threads - 1 }, (_, i) => {
    const worker = new Worker(new URL('./bandwidth-helper.ts', import.meta.url), { type: 'module', name: 'bandwidth' });
    worker.postMessage({ module, memory, index: i + 1, threads: request.threads, bytes });
    return worker;
  });
  const deadline = performance.now() + 30_000;
  while (Atomics.load(control, SLOT.READY) < helpers.length) {
    if (performance.now() > deadline) throw new Error('bandwidth: the helper workers did not start in 30 s');
    await new Promise((r) => setTimeout(r, 5));
  }
  const best = { 1: Infinity, 2: Infinity } as Record<number, number>;
  let sink = 0;
  for (let rep = 0; rep < request.reps; rep++) {
    for (const op of [1, 2]) {
      Atomics.store(control, SLOT.OP, op);
      Atomics.store(control, SLOT.DONE, 0);
      const t0 = performance.now();
      Atomics.add(control, SLOT.GENERATION, 1);
      Atomics.notify(control, SLOT.GENERATION);
      sink += runSlice(stream, op, bytes, request.threads, 0);
      while (Atomics.load(control, SLOT.DONE) < helpers.length); // helpers finish within microseconds of each other
      best[op] = Math.min(best[op]!, performance.now() - t0);
    }
  }
  Atomics.store(control, SLOT.EXIT, 1);
  Atomics.add(control, SLOT.GENERATION, 1);
  Atomics.notify(control, SLOT.GENERATION);
  for (const h of helpers) h.terminate();
  if (sink === 0.5) throw new Error('unreachable'); // keeps the reads alive
  return {
    threads: request.threads,
    readBytesPerSecond: bytes / (best[1]! / 1000),
    copyBytesPerSecond: (2 * bytes) / (best[2]! / 1000),
  };
}

self.onmessage = async (event: MessageEvent<BandwidthRequest>) => {
  try {
    self.postMessage({ ok: true, run: await measure(event.data) });
  } catch (error) {
    self.postMessage({ ok: false, error: error instanceof Error ? error.message : String(error) });
  }
};
