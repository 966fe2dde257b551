/** One helper thread of bandwidth-worker.ts: waits for a generation, runs its slice, counts itself done. */
import { runSlice, SLOT, type StreamExports } from './bandwidth-stream.ts';

self.onmessage = async (
  event: MessageEvent<{
    module: WebAssembly.Module;
    memory: WebAssembly.Memory;
    index: number;
    threads: number;
    bytes: number;
  }>,
) => {
  const { module, memory, index, threads, bytes } = event.data;
  const stream = (await WebAssembly.instantiate(module, { env: { memory } })).exports as unknown as StreamExports;
  const control = new Int32Array(memory.buffer, 0, 16);
  let generation = Atomics.load(control, SLOT.GENERATION);
  Atomics.add(control, SLOT.READY, 1);
  for (;;) {
    // sleep until the driver bumps the generation (1 ms timeouts, so a missed notify costs little)
    while (Atomics.load(control, SLOT.GENERATION) === generation) Atomics.wait(control, SLOT.GENERATION, generation, 1);
    generation = Atomics.load(control, SLOT.GENERATION);
    if (Atomics.load(control, SLOT.EXIT)) return;
    runSlice(stream, Atomics.load(control, SLOT.OP), bytes, threads, index);
    Atomics.add(control, SLOT.DONE, 1);
  }
};
