/**
 * Compose's calibration texts, per expert: pasted (one text per blank-line-separated
 * paragraph), a .txt file (the same rule) or a .jsonl file ({"text": ...} a line; an "expert"
 * field is ignored: the file belongs to the expert it was given to), the zoo's built-in set
 * for a zoo donor (public/zoo/calibration/<domain>.jsonl), or the expert's positive prompts.
 * Pure helpers; the store and its actions are in compose.ts.
 */
import { parseCalibrationJsonl, type CalibrationText } from '../core/calibrate/texts.ts';
import { checkedFetch } from '../core/hub/checked-fetch.ts';
import type { ExpertForm } from './compose-yaml.ts';
import type { ZooIndex } from './zoo.ts';

export type CalibrationOrigin = 'none' | 'pasted' | 'file' | 'zoo' | 'prompts';

export interface ExpertCalibrationTexts {
  origin: CalibrationOrigin;
  /** The texts sent to the worker (for 'pasted', the paragraphs of `pasted`). */
  texts: string[];
  /** What the person typed or pasted (kept as typed). */
  pasted: string;
  /** The file's name or the zoo set's path, for the label under the field. */
  from?: string;
  /** The expert's donor when the texts were given: texts follow their expert, not a list position. */
  donor: string;
}

export const noCalibrationTexts = (donor = ''): ExpertCalibrationTexts => ({
  origin: 'none',
  texts: [],
  pasted: '',
  donor,
});

/** The texts of each expert of `experts`: an entry given for another donor (the list changed since) counts as none. */
export function alignedCalibrationTexts(
  experts: readonly ExpertForm[],
  texts: readonly ExpertCalibrationTexts[],
): ExpertCalibrationTexts[] {
  return experts.map((e, i) => (texts[i]?.donor === e.model ? texts[i] : noCalibrationTexts(e.model)));
}

/** One text per paragraph: blank lines separate texts; a text keeps its inner line breaks. */
export function splitParagraphs(text: string): string[] {
  return text
    .replace(/\r\n?/g, '\n')
    .split(/\n[ \t]*\n+/)
    .map((p) => p.trim())
    .filter((p) => p !== '');
}

/** A file given to one expert: .jsonl lines {"text": ...}, anything else paragraphs. */
export function calibrationFileTexts(name: string, content: string): string[] {
  if (!/\.jsonl$/i.test(name)) return splitParagraphs(content);
  // Every line's expert is read as 0 of 1: the file's texts all go to the expert it was given to.
  const lines = content
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      try {
        const value = JSON.parse(l) as Record<string, unknown>;
        return typeof value === 'object' && value !== null ? JSON.stringify({ ...value, expert: 0 }) : l;
      } catch {
        return l; // parseCalibrationJsonl names the line
      }
    });
  return parseCalibrationJsonl(lines.join('\n'), name, 1).map((t) => t.text);
}

/** The zoo domain of an expert's donor (`zoo/<path>` of a zoo expert with a domain), if any. */
export function zooDomainOf(model: string, zoo: ZooIndex | undefined): string | undefined {
  const m = zoo?.models.find((z) => `zoo/${z.path}` === model);
  return m?.role === 'expert' ? m.domain : undefined;
}

/** Built-in texts of a zoo domain (public/zoo/calibration/<domain>.jsonl; never check-*.jsonl or heldout/). */
export async function fetchZooCalibrationTexts(domain: string): Promise<string[]> {
  const url = new URL(`${import.meta.env.BASE_URL}zoo/calibration/${domain}.jsonl`, location.href).href;
  const content = await (await checkedFetch(fetch, url)).text();
  return calibrationFileTexts(`${domain}.jsonl`, content);
}

/** The positive prompts of an expert, as its texts. */
export const promptTexts = (expert: ExpertForm) => expert.positive.filter((p) => p.trim() !== '');

/** The labelled request texts: expert i's texts get label i. */
export function calibrationRequestTexts(perExpert: ExpertCalibrationTexts[]): CalibrationText[] {
  return perExpert.flatMap((e, expert) => e.texts.map((text) => ({ expert, text })));
}
