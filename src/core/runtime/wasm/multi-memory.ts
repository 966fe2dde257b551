/**
 * Whether this JS engine runs WebAssembly multi-memory, which lets a wasm session hold a model
 * past wasm32's 4 GiB in weight banks (memory-plan.ts planWasmMemories). Its own module, free of
 * the kernels' binaries, so the main thread can ask (the Library's "where it fits") cheaply.
 */
let multiMemorySupported: boolean | undefined;
/**
 * True when this engine validates a module with two memories (multi-memory: Chromium ≥ 120,
 * Firefox ≥ 125, Node ≥ 22; not Node 20). Checked on a 25-byte module, so it costs nothing.
 */
export function wasmMultiMemorySupported(): boolean {
  if (multiMemorySupported === undefined) {
    // (module (import "e" "m" (memory 0)) (import "e" "w" (memory 0)))
    const twoMemories = new Uint8Array([
      0, 97, 115, 109, 1, 0, 0, 0, 2, 15, 2, 1, 101, 1, 109, 2, 0, 0, 1, 101, 1, 119, 2, 0, 0,
    ]);
    try {
      multiMemorySupported = WebAssembly.validate(twoMemories as BufferSource);
    } catch {
      multiMemorySupported = false;
    }
  }
  return multiMemorySupported;
}
