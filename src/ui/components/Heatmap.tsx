import { useEffect, useRef, useState } from 'react';
import type { TokenRouting } from '../../core/runtime/types.ts';
import { top1Grid } from '../../state/routing-stats.ts';
import { expertColor } from '../format.ts';
import { routingTitle } from './TokenSpan.ts';

const CELL_W = 14;
const CELL_H = 14;

/**
 * Layers × tokens on a canvas: colour = top-1 expert, intensity = its weight. Hover or
 * arrow keys show the token's per-layer top-k below (the canvas has a text alternative).
 */
export function Heatmap({
  pieces,
  trace,
  layers,
  label,
}: {
  pieces: string[];
  trace: TokenRouting[];
  layers: number;
  label: string;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [focus, setFocus] = useState(0);
  useEffect(() => {
    const c = canvas.current;
    const ctx = c?.getContext('2d');
    if (!c || !ctx) return;
    const grid = top1Grid(trace, layers);
    c.width = Math.max(1, trace.length) * CELL_W;
    c.height = Math.max(1, layers) * CELL_H;
    ctx.clearRect(0, 0, c.width, c.height);
    grid.forEach((row, l) =>
      row.forEach((cell, t) => {
        ctx.globalAlpha = cell.expert < 0 ? 1 : 0.25 + 0.75 * cell.weight;
        ctx.fillStyle = expertColor(cell.expert);
        ctx.fillRect(t * CELL_W, l * CELL_H, CELL_W - 1, CELL_H - 1);
      }),
    );
    ctx.globalAlpha = 1;
    ctx.strokeStyle = '#000';
    ctx.strokeRect(focus * CELL_W + 0.5, 0.5, CELL_W - 1, c.height - 1);
  }, [trace, layers, focus]);
  const token = Math.min(focus, Math.max(0, trace.length - 1));
  return (
    <figure className="heatmap" data-testid="heatmap">
      <figcaption>
        {label}: {layers} layers × {trace.length} tokens (colour = top-1 expert, intensity = its weight)
      </figcaption>
      <div className="heatmap-scroll">
        <canvas
          ref={canvas}
          tabIndex={0}
          role="img"
          aria-label={`Routing heatmap of ${trace.length} tokens; use arrow keys to inspect tokens`}
          onMouseMove={(e) => {
            const r = e.currentTarget.getBoundingClientRect();
            setFocus(Math.max(0, Math.min(trace.length - 1, Math.floor((e.clientX - r.left) / CELL_W))));
          }}
          onKeyDown={(e) => {
            if (e.key === 'ArrowRight') setFocus((f) => Math.min(trace.length - 1, f + 1));
            if (e.key === 'ArrowLeft') setFocus((f) => Math.max(0, f - 1));
          }}
        />
      </div>
      {trace.length > 0 && (
        <pre className="heatmap-detail" aria-live="polite">
          token {token} “{pieces[token]}”{'\n'}
          {routingTitle(trace[token])}
        </pre>
      )}
    </figure>
  );
}
