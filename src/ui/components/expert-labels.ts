/**
 * Who each expert of the loaded model is: its donor and prompts, from the stored model's
 * notes (written by Compose). Zoo and imported models have none: callers fall back to "E<i>".
 */
import { useEngine } from '../../state/engine.ts';
import { useLibrary } from '../../state/library.ts';

export interface ExpertLabel {
  donor: string;
  positive: string[];
  negative: string[];
}

export function useLoadedNotes(): Record<string, unknown> | undefined {
  const modelId = useEngine((s) => s.model?.id);
  return useLibrary((s) => s.stored.find((m) => m.id === modelId)?.notes);
}

export function useExpertLabels(): ExpertLabel[] {
  return (useLoadedNotes()?.experts as ExpertLabel[] | undefined) ?? NO_LABELS;
}
/** One stable empty list, so a selector default never builds a fresh array (React error #185). */
const NO_LABELS: ExpertLabel[] = [];
