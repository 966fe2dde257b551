/** Display helpers. */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return '?';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
}

/** "1 model", "3 models". */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** A parameter count as people say it: 260K, 1.5M, 46.7B. */
export function formatParams(count: number): string {
  if (count < 1e3) return String(count);
  if (count < 1e6) return `${(count / 1e3).toFixed(count < 1e4 ? 1 : 0)}K`;
  if (count < 1e9) return `${(count / 1e6).toFixed(count < 1e7 ? 1 : 0)}M`;
  return `${(count / 1e9).toFixed(1)}B`;
}

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
