/**
 * One generated token as a DOM span coloured by its top-1 expert (at a layer, or a strip of
 * all layers). Built with textContent, never innerHTML: model output is always plain text.
 */
import type { TokenRouting } from '../../core/runtime/types.ts';
import { expertColor } from '../format.ts';

export type HeatLayer = number | 'all';

export function routingTitle(routing: TokenRouting | undefined): string {
  if (!routing?.layers.length) return 'no routing (dense model)';
  return routing.layers
    .map(
      (l, i) =>
        `layer ${i}: ${l.expertIds.map((e, k) => `E${e} ${(l.expertWeights[k] * 100).toFixed(0)}%`).join(', ')}`,
    )
    .join('\n');
}

export function tokenSpan(text: string, routing: TokenRouting | undefined, layer: HeatLayer): HTMLSpanElement {
  const span = document.createElement('span');
  span.className = 'tok';
  span.textContent = text;
  span.title = routingTitle(routing);
  span.tabIndex = -1;
  if (routing?.layers.length) {
    if (layer === 'all') {
      const strip = document.createElement('span');
      strip.className = 'tok-strip';
      strip.setAttribute('aria-hidden', 'true');
      for (const l of routing.layers) {
        const cell = document.createElement('i');
        cell.style.background = expertColor(l.expertIds[0] ?? -1);
        strip.appendChild(cell);
      }
      span.appendChild(strip);
    } else {
      const l = routing.layers[Math.min(layer, routing.layers.length - 1)];
      const e = l?.expertIds[0] ?? -1;
      span.style.background = `color-mix(in srgb, ${expertColor(e)} ${Math.round(25 + 50 * (l?.expertWeights[0] ?? 0))}%, white)`;
      span.dataset.expert = String(e);
    }
  }
  return span;
}
