/** Display helpers. */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return '?';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
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
