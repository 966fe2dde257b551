/**
 * One generated token as a DOM span coloured by its top-1 expert (at one layer, or the
 * majority of layers): underlined or tinted as a whole. Built with textContent, never innerHTML: model output is always plain text.
 */
import type { TokenRouting } from '../../core/runtime/types.ts';
import { majorityTop1 } from '../../state/routing-stats.ts';
import { expertRgba, weightAlpha } from '../format.ts';

/** Which layer colours a token: one layer's top-1 expert, or the one most layers chose. */
export type HeatLayer = number | 'majority';
/** A thin underline (the default: answers read as text first) or a background tint. */
export type TokenStyle = 'underline' | 'tint';

export function routingTitle(routing: TokenRouting | undefined): string {
  if (!routing?.layers.length) return 'no routing (dense model)';
  return routing.layers
    .map(
      (l, i) =>
        `layer ${i}: ${l.expertIds.map((e, k) => `E${e} ${(l.expertWeights[k] * 100).toFixed(0)}%`).join(', ')}`,
    )
    .join('\n');
}

export function tokenSpan(
  text: string,
  routing: TokenRouting | undefined,
  layer: HeatLayer,
  style: TokenStyle = 'underline',
): HTMLSpanElement {
  const span = document.createElement('span');
  span.className = 'tok';
  span.textContent = text;
  span.title = routingTitle(routing);
  span.tabIndex = -1;
  if (!routing?.layers.length) return span;
  // The whole token takes one colour (no extra element after it), so a word is never split.
  let expert: number;
  let strength: number;
  if (layer === 'majority') {
    ({ expert, share: strength } = majorityTop1(routing));
  } else {
    const l = routing.layers[Math.min(layer, routing.layers.length - 1)];
    expert = l?.expertIds[0] ?? -1;
    strength = l?.expertWeights[0] ?? 0;
  }
  span.dataset.expert = String(expert);
  if (style === 'tint') span.style.background = expertRgba(expert, 0.15 + 0.5 * strength);
  else {
    span.classList.add('tok-underline');
    span.style.textDecorationColor = expertRgba(expert, weightAlpha(strength));
  }
  return span;
}
