import { describe, expect, it } from 'vitest';
import type { TokenRouting } from '../../core/runtime/types.ts';
import { cellBackground, cellBands, routingPictureSvg } from './heatmap-picture.ts';

const trace: TokenRouting[] = [0, 1, 2].map((t) => ({
  layers: [0, 1].map((l) => ({
    expertIds: [(t + l) % 3, 0],
    expertWeights: [t === 2 ? 1 : 0, 0],
    moeProbs: [0.5, 0.3, 0.2],
  })),
}));

describe('routingPictureSvg', () => {
  const svg = routingPictureSvg({
    pieces: ['Once', ' <b>', '\n'],
    trace,
    layers: 2,
    experts: 3,
    expertNames: ['zoo/stories', 'zoo/code & more', 'zoo/math'],
    title: 'A "quoted" title',
    cells: 'top1',
  });

  it('draws one cell per token and layer, labels the layers and names each donor in the legend', () => {
    expect(svg.match(/<g><title>/g)).toHaveLength(3 * 2);
    expect(svg.match(/<rect [^>]*height="19" fill/g)).toHaveLength(3 * 2); // top-1: one full-height band per cell
    expect(svg).toContain('>L0</text>');
    expect(svg).toContain('>L1</text>');
    expect(svg).toContain('>E0 zoo/stories</text>');
    expect(svg).toContain('>E1 zoo/code &amp; more</text>');
    expect(svg).toContain('opacity = its weight');
  });

  it('writes token text with whitespace made visible and markup escaped', () => {
    expect(svg).toContain('>·&lt;b&gt;</text>');
    expect(svg).toContain('>↵</text>');
    expect(svg).toContain('A &quot;quoted&quot; title');
    expect(svg).not.toContain('<b>');
  });

  it('shows weight as opacity of the top-1 colour: 0 → 0.2, 1 → solid', () => {
    // Token 0 at layer 0: expert 0 (orange #E69F00) at weight 0; token 2 at layer 0: expert 2 (#009E73) at weight 1.
    expect(svg).toContain('fill="rgba(230, 159, 0, 0.2)"');
    expect(svg).toContain('fill="rgba(0, 158, 115, 1)"');
  });
});

describe('top-2 split cells', () => {
  const layer = { expertIds: [2, 0], expertWeights: [0.7, 0.3], moeProbs: [0.2, 0.1, 0.7] };

  it('a split cell is the first expert over the second, each band as tall as its weight', () => {
    expect(cellBands(layer, 'split')).toEqual([
      { expert: 2, top: 0, height: 0.7, alpha: 1 },
      { expert: 0, top: 0.7, height: 0.3, alpha: 1 },
    ]);
    expect(cellBackground(cellBands(layer, 'split'))).toBe(
      'linear-gradient(to bottom, rgba(0, 158, 115, 1) 0% 70%, rgba(230, 159, 0, 1) 70% 100%)',
    );
  });

  it('weights that leave room (top-p, k = 1 under 100%) leave the rest of the cell empty; top-1 is one band at an opacity', () => {
    const single = { expertIds: [1], expertWeights: [0.6], moeProbs: [0.2, 0.6, 0.2] };
    expect(cellBackground(cellBands(single, 'split'))).toBe(
      'linear-gradient(to bottom, rgba(86, 180, 233, 1) 0% 60%, transparent 60% 100%)',
    );
    expect(cellBands(layer, 'top1')).toEqual([{ expert: 2, top: 0, height: 1, alpha: 0.2 + 0.8 * 0.7 }]);
    expect(cellBands(undefined, 'split')).toEqual([]);
  });

  it('the SVG draws both bands of a split cell and says what the bands mean', () => {
    const svg = routingPictureSvg({
      pieces: ['a'],
      trace: [{ layers: [layer] }],
      layers: 1,
      experts: 3,
      expertNames: ['x', 'y', 'z'],
      title: 't',
      cells: 'split',
    });
    expect(svg).toContain('<title>a L0: E2 70%, E0 30%</title>');
    expect(svg).toContain('height="13.3" fill="rgba(0, 158, 115, 1)"');
    expect(svg).toContain('height="5.7" fill="rgba(230, 159, 0, 1)"');
    expect(svg).toContain('lower band = top-2 expert');
  });
});
