/**
 * The routing picture as a file: the same layers × tokens grid the Heatmap shows (colour =
 * top-1 expert, opacity = its weight, token text along the top, L0…Ln down the side, a
 * legend of donors), drawn whole, not just the visible window. PNG through a canvas, SVG as text.
 */
import type { TokenRouting } from '../../core/runtime/types.ts';
import { top1Grid } from '../../state/routing-stats.ts';
import { expertColor, expertRgba, visibleWhitespace, weightAlpha } from '../format.ts';

export interface PictureInput {
  pieces: string[];
  trace: TokenRouting[];
  layers: number;
  expertNames: string[];
  experts: number;
  title: string;
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
const OPACITY_NOTE = 'cell colour = top-1 expert; opacity = its weight (faint 0%, solid 100%)';

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
  top1Grid(p.trace, p.layers).forEach((row, l) => {
    ctx.fillStyle = '#1b1b1b';
    ctx.fillText(`L${l}`, 4, L.gridTop + l * CELL_H + 14);
    row.forEach((cell, t) => {
      ctx.fillStyle = expertRgba(cell.expert, cell.expert < 0 ? 1 : weightAlpha(cell.weight));
      ctx.fillRect(LABEL_W + t * L.cellW, L.gridTop + l * CELL_H, Math.max(1, L.cellW - 1), CELL_H - 1);
    });
  });
  ctx.font = '12px system-ui, sans-serif';
  for (let e = 0; e < p.experts; e++) {
    const y = L.legendTop + e * LEGEND_ROW;
    ctx.fillStyle = expertColor(e);
    ctx.fillRect(4, y, 12, 12);
    ctx.fillStyle = '#1b1b1b';
    ctx.fillText(legendLine(p, e), 22, y + 11);
  }
  ctx.fillText(OPACITY_NOTE, 4, L.legendTop + p.experts * LEGEND_ROW + 11);
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
  top1Grid(p.trace, p.layers).forEach((row, l) => {
    const y = L.gridTop + l * CELL_H;
    out.push(`<text x="4" y="${y + 14}" font-size="11">L${l}</text>`);
    row.forEach((cell, t) => {
      const title = `${visibleWhitespace(p.pieces[t] ?? '')} L${l}: E${cell.expert} ${(cell.weight * 100).toFixed(0)}%`;
      out.push(
        `<rect x="${LABEL_W + t * L.cellW}" y="${y}" width="${Math.max(1, L.cellW - 1)}" height="${CELL_H - 1}" fill="${expertRgba(cell.expert, cell.expert < 0 ? 1 : weightAlpha(cell.weight))}"><title>${escapeXml(title)}</title></rect>`,
      );
    });
  });
  for (let e = 0; e < p.experts; e++) {
    const y = L.legendTop + e * LEGEND_ROW;
    out.push(`<rect x="4" y="${y}" width="12" height="12" fill="${expertColor(e)}"/>`);
    out.push(`<text x="22" y="${y + 11}" font-size="12">${escapeXml(legendLine(p, e))}</text>`);
  }
  out.push(
    `<text x="4" y="${L.legendTop + p.experts * LEGEND_ROW + 11}" font-size="12">${OPACITY_NOTE}</text>`,
    '</svg>',
  );
  return `${out.join('\n')}\n`;
}
