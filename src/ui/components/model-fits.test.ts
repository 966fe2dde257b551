/** The Library's "where it fits" line: one memory, weight banks (multi-memory), or too big, with the reason. */
import { describe, expect, it } from 'vitest';
import { fitsText } from './ModelFits.tsx';

const GB = 1e9;

describe('fitsText', () => {
  it('a model within wasm32: its 4 GiB', () => {
    expect(fitsText(1 * GB, 'q4_0', { multiMemory: false })).toMatch(
      /^WASM in this tab: about [\d.]+ MB of weights in its 4 GiB · WebGPU: about [\d.]+ MB of GPU memory$/,
    );
  });

  it('past 4 GiB with multi-memory: spread over memories; without: too big, saying why', () => {
    const q8 = 6 * GB; // ~6.75 GB packed: two memories
    expect(fitsText(q8, 'q8_0', { multiMemory: true })).toMatch(
      /^WASM in this tab: about [\d.]+ GB of weights, past wasm32's 4 GiB, spread over 2 memories \(this tab needs that much free RAM\)/,
    );
    expect(fitsText(q8, 'q8_0', { multiMemory: false })).toMatch(
      /^Too big for WASM in a tab: .* past wasm32's 4 GiB, and this browser has no WebAssembly multi-memory to go past it: store it quantized to q4_0, or use WebGPU/,
    );
  });

  it('past the 4 memories a session may take: too big either way', () => {
    expect(fitsText(8 * GB, 'bf16', { multiMemory: true })).toMatch(
      /^Too big for WASM in a tab: about [\d.]+ GB of weights \(bf16\), past the 4 memories of 4 GiB a session may take/,
    );
  });
});
