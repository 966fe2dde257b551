import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.ts';
import type { Tokenizer } from '../tokenizer/types.ts';
import {
  calibrationDataSha256,
  checkCalibrationTexts,
  MAX_CALIBRATION_TEXT_CHARS,
  MAX_CALIBRATION_TEXTS,
  parseCalibrationJsonl,
  sqrtBudgets,
  tokenizeCalibrationTexts,
} from './texts.ts';

/** Bad JSONL lines and the words their ConfigError must contain (file:line and the field). */
const BAD_LINES: [string, string, RegExp][] = [
  ['not JSON', '{"expert": 0, "text": "a"', /f\.jsonl:2 is not JSON/],
  ['an array', '[0, "a"]', /f\.jsonl:2 must be an object/],
  ['a string expert', '{"expert": "0", "text": "a"}', /f\.jsonl:2 field 'expert' must be an integer/],
  ['a fractional expert', '{"expert": 1.5, "text": "a"}', /field 'expert' must be an integer/],
  ['an expert out of range', '{"expert": 4, "text": "a"}', /field 'expert' is 4, outside \[0, 4\)/],
  ['a negative expert', '{"expert": -1, "text": "a"}', /outside \[0, 4\)/],
  ['a missing text', '{"expert": 0}', /f\.jsonl:2 field 'text' must be a string/],
  ['an empty text', '{"expert": 0, "text": "  "}', /field 'text' is empty/],
  [
    'a text over the limit',
    JSON.stringify({ expert: 0, text: 'x'.repeat(MAX_CALIBRATION_TEXT_CHARS + 1) }),
    /more than 200000/,
  ],
];

describe('parseCalibrationJsonl', () => {
  it('reads {expert, text} lines and skips blank ones', () => {
    const texts = parseCalibrationJsonl(
      '{"expert": 1, "text": "def f(): pass"}\n\n{"expert":0,"text":"Once"}\n',
      'f.jsonl',
      4,
    );
    expect(texts).toEqual([
      { expert: 1, text: 'def f(): pass' },
      { expert: 0, text: 'Once' },
    ]);
  });

  it.each(BAD_LINES)('rejects %s with a ConfigError naming the line', (_, line, message) => {
    const source = `{"expert": 0, "text": "ok"}\n${line}\n`;
    expect(() => parseCalibrationJsonl(source, 'f.jsonl', 4)).toThrow(ConfigError);
    expect(() => parseCalibrationJsonl(source, 'f.jsonl', 4)).toThrow(message);
  });

  it('rejects an empty file and more than MAX_CALIBRATION_TEXTS lines', () => {
    expect(() => parseCalibrationJsonl('\n\n', 'f.jsonl', 4)).toThrow(/f\.jsonl holds no texts/);
    const many = Array.from({ length: MAX_CALIBRATION_TEXTS + 1 }, () => '{"expert":0,"text":"a"}').join('\n');
    expect(() => parseCalibrationJsonl(many, 'f.jsonl', 4)).toThrow(/more than 4096 texts/);
  });
});

describe('checkCalibrationTexts', () => {
  it('names the experts without texts', () => {
    expect(() =>
      checkCalibrationTexts(
        [
          { expert: 0, text: 'a' },
          { expert: 2, text: 'b' },
        ],
        4,
      ),
    ).toThrow(/experts 1, 3/);
    expect(() => checkCalibrationTexts([], 4)).toThrow(/holds no texts/);
  });
});

/** A tokenizer of one id per character (BOS '^' = id 62) for window arithmetic. */
const charTokenizer = {
  bosToken: '^',
  encode: (text: string) => [...text].map((c) => c.charCodeAt(0) - 32),
} as unknown as Tokenizer;

describe('tokenizeCalibrationTexts', () => {
  it('prefixes BOS once and spreads windows over a long text', () => {
    const text = 'a'.repeat(9) + 'b'.repeat(10) + 'c'.repeat(10) + 'd'.repeat(10) + 'e'.repeat(10);
    const windows = tokenizeCalibrationTexts(charTokenizer, [{ expert: 2, text }], {
      windowTokens: 10,
      windowsPerText: 3,
    });
    expect(windows.map((w) => String.fromCharCode(...w.tokens.map((t) => t + 32))[1])).toEqual(['a', 'c', 'e']);
    expect(windows[0].tokens[0]).toBe(62);
    expect(windows.every((w) => w.expert === 2)).toBe(true);
    const chat = tokenizeCalibrationTexts(charTokenizer, [{ expert: 0, text: '^hi' }], { windowTokens: 10 });
    expect(chat[0].tokens).toEqual([62, 72, 73]);
  });

  it("packs each expert's texts into one stream and spreads windows over it within tokensPerExpert", () => {
    const texts = [
      { expert: 1, text: 'abc' },
      { expert: 0, text: 'wxyz' },
      { expert: 1, text: 'defgh' },
    ];
    const decode = (tokens: number[]) => String.fromCharCode(...tokens.map((t) => t + 32));
    // expert 1's stream is 'abc\n\ndefgh' (10 characters): windows of 4 → 2 whole windows
    const all = tokenizeCalibrationTexts(charTokenizer, texts, { windowTokens: 4, packed: { tokensPerExpert: 100 } });
    expect(all.map((w) => [w.expert, decode(w.tokens)])).toEqual([
      [0, 'wxyz'],
      [1, 'abc\n'],
      [1, '\ndef'],
    ]);
    // no BOS: packed windows start mid-stream, as text does once a conversation is under way
    expect(all.some((w) => w.tokens.includes(62))).toBe(false);
    const capped = tokenizeCalibrationTexts(charTokenizer, texts, { windowTokens: 4, packed: { tokensPerExpert: 4 } });
    expect(capped.filter((w) => w.expert === 1).map((w) => decode(w.tokens))).toEqual(['abc\n']);
    expect(() =>
      tokenizeCalibrationTexts(charTokenizer, texts, { windowTokens: 4, packed: { tokensPerExpert: 3 } }),
    ).toThrow(/tokensPerExpert 3/);
  });

  it("shares packed tokens ∝ √(an expert's stream), capped by the stream, the rest to the others", () => {
    // 400 : 100 : 100 tokens, 300 to share: √ weights 20 : 10 : 10 → 150, 75, 75
    expect(sqrtBudgets([400, 100, 100], 300)).toEqual([150, 75, 75]);
    // a short stream keeps only what it has (10) and the rest goes to the others by the same rule
    expect(sqrtBudgets([400, 100, 10], 300)).toEqual([193, 96, 10]);
    // more to share than there is text: every stream whole
    expect(sqrtBudgets([40, 9], 1000)).toEqual([40, 9]);
    expect(sqrtBudgets([0, 16], 8)).toEqual([0, 8]);
    for (const b of [sqrtBudgets([12_345, 678, 9_999, 3], 5_000)]) {
      expect(b.reduce((x, y) => x + y, 0)).toBeLessThanOrEqual(5_000);
      expect(b.reduce((x, y) => x + y, 0)).toBeGreaterThan(5_000 - 4);
    }
    // in windows: expert 1 has 4× the text of expert 0, so 2× the windows at the same total
    const texts = [
      { expert: 0, text: 'a'.repeat(64) },
      { expert: 1, text: 'b'.repeat(256) },
    ];
    const windows = tokenizeCalibrationTexts(charTokenizer, texts, {
      windowTokens: 4,
      packed: { tokensPerExpert: 48, share: 'sqrt' },
    });
    expect(windows.filter((w) => w.expert === 0)).toHaveLength(8); // 96 × 8/24 = 32 tokens
    expect(windows.filter((w) => w.expert === 1)).toHaveLength(16); // 96 × 16/24 = 64 tokens
  });

  it('rejects window settings outside their limits', () => {
    expect(() => tokenizeCalibrationTexts(charTokenizer, [], { windowTokens: 1 })).toThrow(/windowTokens 1/);
    expect(() => tokenizeCalibrationTexts(charTokenizer, [], { windowsPerText: 0 })).toThrow(/windowsPerText 0/);
  });
});

describe('calibrationDataSha256', () => {
  it('depends on every text and label', () => {
    const a = calibrationDataSha256([{ expert: 0, text: 'a' }]);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(calibrationDataSha256([{ expert: 1, text: 'a' }])).not.toBe(a);
    expect(calibrationDataSha256([{ expert: 0, text: 'b' }])).not.toBe(a);
  });
});
