/**
 * Chat's sampling settings: what each input accepts and the message for a value it does not,
 * and the Stop strings field parsed with the library API's limits. Pure: the chat store
 * (chat.ts) keeps the values.
 */
import type { SamplerOptions } from '../core/runtime/types.ts';
import { MAX_STOP_STRINGS, MAX_STOP_STRING_CHARS } from '../core/runtime/generate.ts';

export type Sampling = Required<Pick<SamplerOptions, 'temperature' | 'topK' | 'topP' | 'repetitionPenalty'>> & {
  maxTokens: number;
  seed?: number;
  /** Texts that end an answer (not shown in it). */
  stop?: string[];
};

export type SamplingKey = Exclude<keyof Sampling, 'seed' | 'stop'>;

/**
 * What each sampling input accepts: inside what the sampler itself checks (checkOptions in
 * core/runtime/sampler.ts: temperature ≥ 0, topK an integer ≥ 1, topP in (0, 1]; generate:
 * maxTokens an integer), the upper caps are the studio's (the ranges its inputs offer).
 */
export const SAMPLING_LIMITS = {
  temperature: { label: 'Temperature', min: 0, max: 2, step: 0.1, integer: false, minExclusive: false },
  topK: { label: 'Top-k', min: 1, max: 1000, step: 1, integer: true, minExclusive: false },
  topP: { label: 'Top-p', min: 0, max: 1, step: 0.05, integer: false, minExclusive: true },
  repetitionPenalty: { label: 'Repetition penalty', min: 1, max: 2, step: 0.05, integer: false, minExclusive: false },
  maxTokens: { label: 'Max tokens', min: 1, max: 1024, step: 8, integer: true, minExclusive: false },
} satisfies Record<
  SamplingKey,
  { label: string; min: number; max: number; step: number; integer: boolean; minExclusive: boolean }
>;

export type SamplingCheck = { ok: true; value: number } | { ok: false; message: string };

/** The text of one sampling input → its value, or a message that names the field, the value and the range. */
export function samplingCheck(key: SamplingKey, text: string): SamplingCheck {
  const { label, min, max, integer, minExclusive } = SAMPLING_LIMITS[key];
  const range = `${integer ? 'a whole number' : 'a number'} ${minExclusive ? `above ${min}, at most ${max}` : `from ${min} to ${max}`}`;
  if (text.trim() === '') return { ok: false, message: `${label} is empty: enter ${range}.` };
  const value = Number(text);
  const inRange = (minExclusive ? value > min : value >= min) && value <= max;
  if (!Number.isFinite(value) || !inRange || (integer && !Number.isInteger(value)))
    return { ok: false, message: `${label} ${text} is not ${range}.` };
  return { ok: true, value };
}

/**
 * The Stop strings field → the strings, one per line (`\n` and `\t` stand for a line break and a
 * tab; `\\` for a backslash), or a message naming the limit the API checks.
 */
export function parseStopStrings(text: string): { ok: true; stop: string[] } | { ok: false; message: string } {
  const stop = text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => line.replace(/\\(\\|n|t)/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : '\\')));
  if (stop.length > MAX_STOP_STRINGS)
    return { ok: false, message: `Stop strings: ${stop.length} lines, at most ${MAX_STOP_STRINGS}.` };
  const long = stop.find((s) => s.length > MAX_STOP_STRING_CHARS);
  if (long !== undefined)
    return {
      ok: false,
      message: `Stop string “${long.slice(0, 20)}…” has ${long.length} characters, at most ${MAX_STOP_STRING_CHARS}.`,
    };
  return { ok: true, stop };
}
