/**
 * The engine's backend choice decides from shapes alone what fits where: a model past wasm32's
 * 4 GiB is refused by the wasm backend before any tensor is read, and the CPU reference does not
 * take over as a fallback when its f32 copy would pass CPU_FALLBACK_MAX_BYTES; the error names both.
 * When the user chooses the CPU reference, it is not capped.
 */
import { describe, expect, it } from 'vitest';
import { tinyLlamaMoeSpec, unreadableWeights } from '../src/core/model/unreadable.testing.ts';
import { randomModelWeights, tinyMoeSpec } from '../src/core/model/random.ts';
import { cpuFallbackRefusal, openCpuSession, openSessionWithFallback } from '../workers/engine/backend-choice.ts';

const platform = { wasm: { threads: 1 } };

describe('backend choice for a model too big for the tab', () => {
  const big = unreadableWeights(tinyLlamaMoeSpec(8), 'q8_0');

  it('wasm refuses it and the CPU fallback is not tried: one error naming both, nothing read', async () => {
    await expect(openSessionWithFallback(big, 'wasm', 1024, platform)).rejects.toThrow(
      /no backend could run this model \(wasm failed: wasm: this model needs [\d.]+ GB of linear memory.*; cpu not tried: the reference would hold [\d.]+ GB of f32 weights/,
    );
  });

  it('the CPU reference does not take over mid-generation either', async () => {
    await expect(openCpuSession(big, 1024, 'wasm failed: lost')).rejects.toThrow(
      /^engine: wasm failed: lost; cpu not tried/,
    );
  });

  it('a small model may fall back to the reference', async () => {
    const small = randomModelWeights(tinyMoeSpec(), 1);
    expect(cpuFallbackRefusal(small, 64)).toBeUndefined();
    const opened = await openCpuSession(small, 64, 'wasm failed: lost');
    expect(opened.report.name).toBe('cpu');
    opened.session.dispose();
  });
});
