/** The HF exporter and loader inside real Chromium (no Node APIs on the path). */
import { describe, expect, it } from 'vitest';
import { exportHfToMemory } from './hf.testing.ts';
import { loadHfModel } from './load.ts';
import { randomModelWeights, tinyMoeSpec } from './random.ts';

describe('HF folder round trip in the browser', () => {
  it('exports a fused-layout Mixtral in shards and loads the same bytes back', async () => {
    const spec = tinyMoeSpec({ intermediate: 40 });
    const weights = randomModelWeights(spec, 17);
    const { fileSet, written } = await exportHfToMemory(weights, {
      mixtralLayout: 'fused',
      dtype: 'f32',
      maxShardBytes: 50_000,
    });
    expect(written).toContain('model.safetensors.index.json');
    const loaded = await loadHfModel(fileSet);
    expect(loaded.spec).toEqual(spec);
    expect(loaded.mixtralLayout).toBe('fused');
    const expert = loaded.weights.layers[1]!.moe!.experts[3]!;
    const source = weights.layers[1]!.moe!.experts[3]!;
    for (const key of ['gate', 'up', 'down'] as const) {
      expect(Array.from(expert[key].data)).toEqual(Array.from(source[key].data));
    }
  });
});
