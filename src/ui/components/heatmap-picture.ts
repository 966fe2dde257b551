/**
 * The routing picture as a file: the same layers × tokens grid the Heatmap shows (cells drawn
 * by cellBands: top-2 split or top-1 intensity, token text along the top, L0…Ln down the side,
 * a legend of donors), drawn whole, not just the visible window. PNG through a canvas, SVG as text.
 */
import type { LayerRouting, TokenRouting } from '../../core/runtime/types.ts';
import { expertColor, expertRgba, visibleWhitespace, weightAlpha } from '../format.ts';

/** How a cell shows its routing: 'split' = the first two experts as stacked bands; 'top1' = the first expert's colour at an opacity. */
export type CellMode = 'split' | 'top1';

export interface PictureInput {
  pieces: string[];
  trace: TokenRouting[];
  layers: number;
  expertNames: string[];
  experts: number;
  title: string;
  cells: CellMode;
}

/** One colour band of a cell; `top` and `height` are fractions of the cell's height (0…1). */
export interface CellBand {
  expert: number;
  top: number;
  height: number;
  alpha: number;
}

/**
 * A cell's bands, top to bottom. 'split': the expert ranked first, then the second, each band
 * as tall as that expert's weight, solid (what the weights leave, e.g. under top-p, stays empty).
 * 'top1': the first expert, full height, at the opacity weightAlpha gives its weight.
 */
export function cellBands(r: LayerRouting | undefined, mode: CellMode): CellBand[] {
  if (!r?.expertIds.length) return [];
  if (mode === 'top1')
    return [{ expert: r.expertIds[0]!, top: 0, height: 1, alpha: weightAlpha(r.expertWeights[0] ?? 0) }];
  const bands: CellBand[] = [];
  let top = 0;
  for (let k = 0; k < Math.min(2, r.expertIds.length); k++) {
    const height = Math.max(0, Math.min(1 - top, r.expertWeights[k] ?? 0));
    if (height > 0) bands.push({ expert: r.expertIds[k]!, top, height, alpha: 1 });
    top += height;
  }
  return bands;
}

/** The bands as one CSS background (hard-edged linear gradient, top to bottom). */
export function cellBackground(bands: CellBand[]): string | undefined {
  if (bands.length === 0) return undefined;
  const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;
  const stops = bands.map((b) => `${expertRgba(b.expert, b.alpha)} ${pct(b.top)} ${pct(b.top + b.height)}`);
  const end = bands.at(-1)!;
  if (end.top + end.height < 1) stops.push(`transparent ${pct(end.top + end.height)} 100%`);
  return `linear-gradient(to bottom, ${stops.join(', ')})`;
}

/** Experts per token in a trace (the most any layer chose): 1 means a split cell has nothing to split. */
export function tracePerToken(trace: TokenRouting[]): number {
  let most = 0;
  for (const t of trace) for (const l of t.layers) most = Math.max(most, l.expertIds.length);
  return most;
}

/** Canvas widths above ~32k px fail in Chromium: long traces get narrower cells instead. */
const MAX_PICTURE_WIDTH = 30_000;
const LABEL_W = 40;
const HEAD_H = 64;
const CELL_H = 20;
const LEGEND_ROW = 18;
/** Below this cell width token text would overlap: the picture leaves it out. */
const MIN_TEXT_CELL = 10;

interface Layout {
  cellW: number;
  width: number;
  height: number;
  gridTop: number;
  legendTop: number;
}

function layout(p: PictureInput): Layout {
  const cellW = Math.max(1, Math.min(16, Math.floor((MAX_PICTURE_WIDTH - LABEL_W) / Math.max(1, p.trace.length))));
  const gridTop = 24 + HEAD_H;
  const legendTop = gridTop + p.layers * CELL_H + 12;
  return {
    cellW,
    width: Math.max(420, LABEL_W + cellW * p.trace.length + 8),
    height: legendTop + (p.experts + 1) * LEGEND_ROW + 8,
    gridTop,
    legendTop,
  };
}

function legendLine(p: PictureInput, e: number): string {
  return `E${e} ${p.expertNames[e] ?? ''}`.trim();
}
const CELL_NOTES: Record<CellMode, string> = {
  top1: 'cell colour = top-1 expert; opacity = its weight (faint 0%, solid 100%)',
  split: 'cell: top band = top-1 expert, lower band = top-2 expert; band height = its weight (full cell 100%)',
};

export async function routingPicturePng(p: PictureInput): Promise<Uint8Array> {
  const L = layout(p);
  const canvas = document.createElement('canvas');
  canvas.width = L.width;
  canvas.height = L.height;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('this browser gives no 2D canvas to draw the PNG');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, L.width, L.height);
  ctx.fillStyle = '#1b1b1b';
  ctx.font = '14px system-ui, sans-serif';
  ctx.fillText(p.title, 4, 16);
  ctx.font = '11px ui-monospace, monospace';
  if (L.cellW >= MIN_TEXT_CELL)
    p.pieces.forEach((piece, t) => {
      ctx.save();
      ctx.translate(LABEL_W + t * L.cellW + L.cellW / 2 + 4, L.gridTop - 4);
      ctx.rotate(-Math.PI / 2);
      ctx.fillText(visibleWhitespace(piece).slice(0, 10), 0, 0);
      ctx.restore();
    });
  for (let l = 0; l < p.layers; l++) {
    ctx.fillStyle = '#1b1b1b';
    ctx.fillText(`L${l}`, 4, L.gridTop + l * CELL_H + 14);
    p.trace.forEach((t, i) => {
      for (const b of cellBands(t.layers[l], p.cells)) {
        ctx.fillStyle = expertRgba(b.expert, b.alpha);
        const y = L.gridTop + l * CELL_H + b.top * (CELL_H - 1);
        ctx.fillRect(LABEL_W + i * L.cellW, y, Math.max(1, L.cellW - 1), b.height * (CELL_H - 1));
      }
    });
  }
  ctx.font = '12px system-ui, sans-serif';
  for (let e = 0; e < p.experts; e++) {
    const y = L.legendTop + e * LEGEND_ROW;
    ctx.fillStyle = expertColor(e);
    ctx.fillRect(4, y, 12, 12);
    ctx.fillStyle = '#1b1b1b';
    ctx.fillText(legendLine(p, e), 22, y + 11);
  }
  ctx.fillText(CELL_NOTES[p.cells], 4, L.legendTop + p.experts * LEGEND_ROW + 11);
  const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/png'));
  if (!blob) throw new Error(`the canvas (${L.width}×${L.height} px) could not be encoded as PNG`);
  return new Uint8Array(await blob.arrayBuffer());
}

const escapeXml = (s: string) =>
  s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);

export function routingPictureSvg(p: PictureInput): string {
  const L = layout(p);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${L.width}" height="${L.height}" font-family="system-ui, sans-serif">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="4" y="16" font-size="14">${escapeXml(p.title)}</text>`,
  ];
  if (L.cellW >= MIN_TEXT_CELL)
    p.pieces.forEach((piece, t) => {
      const x = LABEL_W + t * L.cellW + L.cellW / 2 + 4;
      out.push(
        `<text font-size="11" font-family="ui-monospace, monospace" transform="translate(${x} ${L.gridTop - 4}) rotate(-90)">${escapeXml(visibleWhitespace(piece).slice(0, 10))}</text>`,
      );
    });
  for (let l = 0; l < p.layers; l++) {
    const y = L.gridTop + l * CELL_H;
    out.push(`<text x="4" y="${y + 14}" font-size="11">L${l}</text>`);
    p.trace.forEach((t, i) => {
      const r = t.layers[l];
      const shown = r ? r.expertIds.slice(0, p.cells === 'split' ? 2 : 1) : [];
      const title = `${visibleWhitespace(p.pieces[i] ?? '')} L${l}: ${shown.map((e, k) => `E${e} ${((r!.expertWeights[k] ?? 0) * 100).toFixed(0)}%`).join(', ')}`;
      out.push(`<g><title>${escapeXml(title)}</title>`);
      for (const b of cellBands(r, p.cells)) {
        const h = Math.round(b.height * (CELL_H - 1) * 100) / 100;
        const top = Math.round((y + b.top * (CELL_H - 1)) * 100) / 100;
        out.push(
          `<rect x="${LABEL_W + i * L.cellW}" y="${top}" width="${Math.max(1, L.cellW - 1)}" height="${h}" fill="${expertRgba(b.expert, b.alpha)}"/>`,
        );
      }
      out.push('</g>');
    });
  }
  for (let e = 0; e < p.experts; e++) {
    const y = L.legendTop + e * LEGEND_ROW;
    out.push(`<rect x="4" y="${y}" width="12" height="12" fill="${expertColor(e)}"/>`);
    out.push(`<text x="22" y="${y + 11}" font-size="12">${escapeXml(legendLine(p, e))}</text>`);
  }
  out.push(
    `<text x="4" y="${L.legendTop + p.experts * LEGEND_ROW + 11}" font-size="12">${CELL_NOTES[p.cells]}</text>`,
    '</svg>',
  );
  return `${out.join('\n')}\n`;
}
