import { describe, expect, it } from 'vitest';
import type { ZooIndex } from './zoo.ts';
import {
  alignedCalibrationTexts,
  calibrationFileTexts,
  calibrationRequestTexts,
  noCalibrationTexts,
  splitParagraphs,
  zooDomainOf,
} from './compose-calibration.ts';

describe('compose calibration texts', () => {
  it('one text per blank-line-separated paragraph; inner line breaks stay; CRLF and blank runs are one break', () => {
    expect(splitParagraphs('def f():\n    return 1\n\n\r\n  \nOnce upon a time\r\n\r\nthe end\n')).toEqual([
      'def f():\n    return 1',
      'Once upon a time',
      'the end',
    ]);
    expect(splitParagraphs(' \n\n ')).toEqual([]);
  });

  it('a .jsonl file gives its texts to the expert it was given to, whatever its expert field says', () => {
    const jsonl = '{"expert": 3, "text": "a"}\n\n{"text": "b"}\n';
    expect(calibrationFileTexts('code.JSONL', jsonl)).toEqual(['a', 'b']);
    expect(() => calibrationFileTexts('bad.jsonl', '{"expert": 0, "text": "a"}\nnot json\n')).toThrow(
      /bad\.jsonl:2 is not JSON/,
    );
    expect(calibrationFileTexts('notes.txt', 'one\n\ntwo')).toEqual(['one', 'two']);
  });

  it('labels texts by expert index and finds the zoo domain only of zoo experts', () => {
    const texts = [
      { ...noCalibrationTexts(), texts: ['s'] },
      noCalibrationTexts(),
      { ...noCalibrationTexts(), texts: ['m', 'n'] },
    ];
    expect(calibrationRequestTexts(texts)).toEqual([
      { expert: 0, text: 's' },
      { expert: 2, text: 'm' },
      { expert: 2, text: 'n' },
    ]);
    const zoo = {
      schemaVersion: 1,
      mergeConfigs: [],
      models: [
        { id: 'b', path: 'base', role: 'base', title: 'b', description: '', files: [] },
        { id: 'c', path: 'code', role: 'expert', domain: 'code', title: 'c', description: '', files: [] },
      ],
    } satisfies ZooIndex;
    expect(zooDomainOf('zoo/code', zoo)).toBe('code');
    expect(zooDomainOf('zoo/base', zoo)).toBeUndefined();
    expect(zooDomainOf('org/code', zoo)).toBeUndefined();
  });

  it('texts follow their expert: after a donor change or removal, that position has none', () => {
    const expert = (model: string) => ({ model, positive: [], negative: [], noiseScale: '', residualScale: '' });
    const given = [
      { ...noCalibrationTexts('zoo/stories'), texts: ['s'] },
      { ...noCalibrationTexts('zoo/code'), texts: ['c'] },
    ];
    const aligned = alignedCalibrationTexts([expert('zoo/code'), expert('zoo/code')], given);
    expect(aligned.map((t) => t.texts)).toEqual([[], ['c']]);
  });
});
