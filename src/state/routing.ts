/**
 * Routing analysis: traces of the conversation's last answer or of any text (run through the
 * engine), up to two side by side. Traces are small arrays of numbers, not tensors.
 */
import { create } from 'zustand';
import type { RoutingOverrides } from '../core/runtime/types.ts';
import { chatCurrent } from './chat.ts';
import {
  engineCallback,
  engineClient,
  engineTokenizerDeadline,
  mergeClient,
  mergeTokenizerDeadline,
  PREVIEW_HINT,
} from './workers.ts';
import type { ModelSources } from '../../workers/merge/api.ts';
import type { AnalyzedText } from '../../workers/engine/api.ts';
import { parseRoutingTraceJson } from './routing-trace.ts';

export interface RoutingSlot {
  label: string;
  result?: AnalyzedText;
  error?: string;
  busy: boolean;
}

export interface RoutingState {
  slots: [RoutingSlot, RoutingSlot];
  layer: number;
}

const emptySlot = (label: string): RoutingSlot => ({ label, busy: false });
const initialRouting: RoutingState = { slots: [emptySlot('A'), emptySlot('B')], layer: 0 };
export const useRouting = create<RoutingState>()(() => ({ ...initialRouting }));

export function routingReset(): void {
  useRouting.setState({ ...initialRouting, slots: [emptySlot('A'), emptySlot('B')] }, true);
}

function setSlot(index: 0 | 1, patch: Partial<RoutingSlot>) {
  useRouting.setState((s) => {
    const slots = [...s.slots] as [RoutingSlot, RoutingSlot];
    slots[index] = { ...slots[index], ...patch };
    return { slots };
  });
}

export function routingSetLayer(layer: number): void {
  useRouting.setState({ layer });
}

/**
 * The current conversation's last answer, as generated (its recorded routing). `quiet`: when
 * there is none, leave the slot as it is (the page opening on its own) instead of saying so.
 */
export function routingFromConversation(index: 0 | 1, quiet = false): boolean {
  const turn = chatCurrent()
    ?.turns.filter((t) => t.role === 'assistant')
    .at(-1);
  if (!turn?.tokens?.length) {
    if (!quiet) setSlot(index, { error: 'The conversation has no answer with routing yet.', result: undefined });
    return false;
  }
  setSlot(index, {
    label: 'last answer',
    error: undefined,
    result: { pieces: turn.tokens.map((t) => t.text), routing: turn.tokens.map((t) => t.routing ?? { layers: [] }) },
  });
  return true;
}

/** The router the Compose page would build (gates recomputed from its YAML), on any text. */
export async function routingAnalyzeWithComposeGates(
  index: 0 | 1,
  text: string,
  yaml: string,
  sources: ModelSources,
): Promise<void> {
  setSlot(index, { busy: true, error: undefined });
  const deadline = mergeTokenizerDeadline('the text and the prompts', PREVIEW_HINT);
  try {
    const result = await Promise.race([
      mergeClient().preview(yaml, sources, text, engineCallback(deadline.onCall)),
      deadline.missed,
    ]);
    setSlot(index, { result, label: `Compose gates: ${text.length > 24 ? `${text.slice(0, 24)}…` : text}` });
  } catch (e) {
    setSlot(index, { error: `${(e as Error).name}: ${(e as Error).message}` });
  } finally {
    deadline.met();
    setSlot(index, { busy: false });
  }
}

export async function routingAnalyzeText(index: 0 | 1, text: string, overrides?: RoutingOverrides): Promise<void> {
  setSlot(index, { busy: true, error: undefined });
  const deadline = engineTokenizerDeadline('the text', 'Load the model again; a different text may encode.');
  try {
    const result = await Promise.race([
      engineClient().analyze(text, overrides, engineCallback(deadline.onCall)),
      deadline.missed,
    ]);
    setSlot(index, { result, label: text.length > 30 ? `${text.slice(0, 30)}…` : text });
  } catch (e) {
    setSlot(index, { error: `${(e as Error).name}: ${(e as Error).message}` });
  } finally {
    deadline.met();
    setSlot(index, { busy: false });
  }
}

/** A routing-trace JSON file (the studio's own export) into a slot; a bad file names its field in the slot's error. */
export async function routingOpenTraceFile(index: 0 | 1, file: Blob & { name: string }): Promise<void> {
  setSlot(index, { busy: true, error: undefined });
  try {
    const result = parseRoutingTraceJson(await file.text());
    setSlot(index, { result, label: file.name });
  } catch (e) {
    setSlot(index, { error: `${file.name}: ${(e as Error).name}: ${(e as Error).message}` });
  } finally {
    setSlot(index, { busy: false });
  }
}
