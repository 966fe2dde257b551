/** Display helpers. */
export { formatBytes, formatParams, plural } from '../state/format.ts';

/** A fixed, colour-blind-aware palette for experts (Okabe–Ito, then extras). */
export const EXPERT_COLORS = [
  '#0072B2',
  '#E69F00',
  '#009E73',
  '#CC79A7',
  '#56B4E9',
  '#D55E00',
  '#F0E442',
  '#7f7f7f',
  '#8c564b',
  '#17becf',
];

export function expertColor(expert: number): string {
  return expert < 0 ? '#dddddd' : EXPERT_COLORS[expert % EXPERT_COLORS.length];
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
}): string {
  return s.temperature === 0
    ? `greedy · rep ${s.repetitionPenalty}`
    : `T ${s.temperature} · top-k ${s.topK} · top-p ${s.topP} · rep ${s.repetitionPenalty}`;
}
