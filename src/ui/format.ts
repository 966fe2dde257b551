/** Display helpers. */
export { formatBytes, formatParams, plural } from '../state/format.ts';

/**
 * Expert colours: the Okabe–Ito palette in its fixed order (colour-blind safe, ../design
 * "Expert colours"). Expert 8 and up reuse the hues at a darker lightness, so no two of the
 * first 16 experts share a colour. Weight is never shown by hue: callers use expertRgba's alpha.
 */
export const EXPERT_COLORS = ['#E69F00', '#56B4E9', '#009E73', '#F0E442', '#0072B2', '#D55E00', '#CC79A7', '#999999'];

/** The colour of a dense layer or a missing record. */
export const NO_EXPERT_COLOR = '#dddddd';

function hexRgb(hex: string): [number, number, number] {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** [r, g, b] 0..255 of an expert's colour (second round of the palette at 60% lightness). */
export function expertRgb(expert: number): [number, number, number] {
  if (expert < 0) return hexRgb(NO_EXPERT_COLOR);
  const rgb = hexRgb(EXPERT_COLORS[expert % EXPERT_COLORS.length]!);
  const darken = Math.floor(expert / EXPERT_COLORS.length) % 2 === 1 ? 0.6 : 1;
  return rgb.map((c) => Math.round(c * darken)) as [number, number, number];
}

export function expertColor(expert: number): string {
  const [r, g, b] = expertRgb(expert);
  return `rgb(${r}, ${g}, ${b})`;
}

/** An expert's colour at an opacity (0..1): how the routing pictures show a weight. */
export function expertRgba(expert: number, alpha: number): string {
  const [r, g, b] = expertRgb(expert);
  return `rgba(${r}, ${g}, ${b}, ${Math.round(Math.max(0, Math.min(1, alpha)) * 1000) / 1000})`;
}

/** The opacity a routing picture gives a top-1 weight: 0.2 (weight 0) to 1 (weight 1), never invisible. */
export function weightAlpha(weight: number): number {
  return 0.2 + 0.8 * Math.max(0, Math.min(1, weight));
}

/** "E1 zoo/code" where the donor is known, else "E1". */
export function expertLabel(names: readonly string[], expert: number): string {
  return expert < 0 ? 'no expert' : names[expert] ? `E${expert} ${names[expert]}` : `E${expert}`;
}

/** A token's text with its whitespace made visible (· space, ↵ newline, → tab), for axis labels. */
export function visibleWhitespace(piece: string): string {
  return piece.replace(/ /g, '·').replace(/\r?\n/g, '↵').replace(/\t/g, '→') || '∅';
}

export function percent(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

/** "top-3 experts · ban 1 at layers 0, 2 · force 0" — routing interventions in words ('' for none). */
export function describeRouting(
  routing:
    | {
        expertsPerToken?: number;
        expertsTopP?: { p: number; minExperts?: number; maxExperts?: number; layers?: number[] };
        ban?: { experts: number[]; layers?: number[] };
        force?: { experts: number[]; layers?: number[] };
      }
    | undefined,
  expertName: (e: number) => string = String,
): string {
  if (!routing) return '';
  const scoped = (what: string, o: { experts: number[]; layers?: number[] }) =>
    `${what} ${o.experts.map(expertName).join(', ')}${o.layers ? ` at layers ${o.layers.join(', ')}` : ''}`;
  const parts: string[] = [];
  if (routing.expertsPerToken !== undefined) parts.push(`top-${routing.expertsPerToken} experts`);
  const topP = routing.expertsTopP;
  if (topP) {
    const bounds = [topP.minExperts && `min ${topP.minExperts}`, topP.maxExperts && `max ${topP.maxExperts}`];
    const extra = [...bounds.filter(Boolean), topP.layers && `at layers ${topP.layers.join(', ')}`].filter(Boolean);
    parts.push(`experts top-p ${topP.p}${extra.length ? ` (${extra.join(', ')})` : ''}`);
  }
  if (routing.ban?.experts.length) parts.push(scoped('ban', routing.ban));
  if (routing.force?.experts.length) parts.push(scoped('force', routing.force));
  return parts.join(' · ');
}

/** "T 0.7 · top-k 40 · top-p 0.95 · rep 1.1" */
export function describeSampling(s: {
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
  stop?: string[];
}): string {
  const base =
    s.temperature === 0
      ? `greedy · rep ${s.repetitionPenalty}`
      : `T ${s.temperature} · top-k ${s.topK} · top-p ${s.topP} · rep ${s.repetitionPenalty}`;
  return s.stop?.length ? `${base} · stop ${s.stop.map((t) => JSON.stringify(t)).join(' ')}` : base;
}

/** "1, 3" → [1, 3]; '' → every layer (undefined); a number outside [0, layers) is an error naming it. */
export function parseLayerList(
  text: string,
  layers: number,
): { ok: true; layers?: number[] } | { ok: false; message: string } {
  const parts = text.split(/[\s,]+/).filter(Boolean);
  if (parts.length === 0) return { ok: true };
  const out: number[] = [];
  for (const part of parts) {
    const n = Number(part);
    if (!/^\d+$/.test(part) || n >= layers)
      return { ok: false, message: `'${part}' is not a layer of this model (0 to ${layers - 1}); nothing changed` };
    if (!out.includes(n)) out.push(n);
  }
  return { ok: true, layers: out.sort((a, b) => a - b) };
}
