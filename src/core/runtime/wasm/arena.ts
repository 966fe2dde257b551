/**
 * A bump allocator over one WebAssembly.Memory. Every allocation happens while a session is
 * built (weights, KV cache, scratch), so typed-array views taken afterwards stay valid:
 * `grow` would detach a plain memory's buffer, and nothing grows after `freeze()`. A session
 * past one memory has several arenas: `index` 0 is the main memory (activations, KV cache and
 * the weights that fit), 1… the weight banks (memory-plan.ts planWasmMemories).
 */
import { BackendError, assert } from '../../errors.ts';

const PAGE_BYTES = 65536;
/** wasm32 addresses: 4 GiB of 64 KiB pages (the module's declared maximum). */
export const MAX_PAGES = 65536;
/** The most linear memory a session can have: wasm32's 4 GiB. */
export const WASM32_MAX_BYTES = MAX_PAGES * PAGE_BYTES;
/** Allocation alignment: a cache line (v128 loads need only 16). */
export const ALIGN = 64;

/** The arena top after `allocations` (bytes each, in order) from an empty arena: alloc's own rounding. */
export function arenaTopAfter(allocations: Iterable<number>, top = ALIGN): number {
  for (const bytes of allocations) top = Math.ceil(top / ALIGN) * ALIGN + bytes;
  return top;
}

export class WasmArena {
  private top = ALIGN; // keep 0 as a null pointer
  private frozen = false;
  constructor(
    readonly memory: WebAssembly.Memory,
    /** Which of the session's memories this is (0: main; PackedMatrix.memory). */
    readonly index = 0,
    /** The most bytes this arena may take (tests shrink it to spread a small model over banks). */
    readonly limitBytes = WASM32_MAX_BYTES,
  ) {}

  /** Returns the byte offset of `bytes` fresh (zeroed) bytes, aligned to 64. */
  alloc(bytes: number, what: string): number {
    assert(!this.frozen, `wasm arena: alloc(${what}) after freeze`);
    const at = Math.ceil(this.top / ALIGN) * ALIGN;
    const end = at + bytes;
    if (end > this.limitBytes) {
      throw new BackendError(
        `wasm: ${what} needs ${end} bytes of linear memory, more than this memory's ${this.limitBytes} (wasm32: 4 GiB)`,
      );
    }
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      try {
        this.memory.grow(Math.ceil((end - have) / PAGE_BYTES));
      } catch (error) {
        throw new BackendError(`wasm: could not grow memory to ${end} bytes for ${what}: ${String(error)}`);
      }
    }
    this.top = end;
    return at;
  }

  get bytesUsed(): number {
    return this.top;
  }
  freeze(): void {
    this.frozen = true;
  }

  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, length);
  }
  u16(ptr: number, length: number): Uint16Array {
    return new Uint16Array(this.memory.buffer, ptr, length);
  }
  u8(ptr: number, length: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, ptr, length);
  }
  i8(ptr: number, length: number): Int8Array {
    return new Int8Array(this.memory.buffer, ptr, length);
  }
}
