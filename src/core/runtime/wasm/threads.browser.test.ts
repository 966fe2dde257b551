/**
 * The thread pool in real Chromium: module Workers sharing the session's memory in a
 * cross-origin isolated page (vitest.config.ts sends COOP/COEP). Rows are split only, so
 * pooled logits must equal the single-threaded ones bit for bit.
 */
import { describe, expect, it } from 'vitest';
import { randomModelWeights, tinyMoeSpec } from '../../model/random.ts';
import { createWasmBackend } from './backend.ts';
import { threadsAvailable } from './threads.ts';

describe('wasm thread pool in the browser', () => {
  it('the test page is cross-origin isolated, so threads are available', () => {
    expect(crossOriginIsolated).toBe(true);
    expect(threadsAvailable()).toBe(true);
  });

  it('2 threads (Workers) give the same logits as 1', async () => {
    const spec = tinyMoeSpec({
      hidden: 96,
      heads: 6,
      kvHeads: 2,
      headDim: 16,
      vocab: 300,
      layers: 2,
      moe: { experts: 4, expertsPerToken: 2, normTopK: true, expertIntermediate: 160 },
    });
    const weights = randomModelWeights(spec, 8, 'q8_0');
    const serial = await (await createWasmBackend({ threads: 1 })).createSession(weights);
    const pooled = await (await createWasmBackend({ threads: 2, minParallelWork: 0 })).createSession(weights);
    expect((pooled as unknown as { threads: number }).threads).toBe(2);
    const prompt = [3, 1, 4, 1, 5, 9, 2, 6];
    expect((await pooled.forward(prompt)).logits).toEqual((await serial.forward(prompt)).logits);
    expect((await pooled.forward([42])).logits).toEqual((await serial.forward([42])).logits);
    pooled.dispose();
    serial.dispose();
  });
});
