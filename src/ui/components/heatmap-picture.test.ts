import { describe, expect, it } from 'vitest';
import type { TokenRouting } from '../../core/runtime/types.ts';
import { routingPictureSvg } from './heatmap-picture.ts';

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
  });

  it('draws one cell per token and layer, labels the layers and names each donor in the legend', () => {
    expect(svg.match(/<rect [^>]*><title>/g)).toHaveLength(3 * 2);
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
