import { describe, expect, it } from 'vitest';
import { textPieces } from './routing-domains.ts';

describe('textPieces', () => {
  it('keeps a short text whole and cuts a long one at line breaks, losing only the whitespace at the cuts', () => {
    expect(textPieces('  one line  ')).toEqual(['one line']);
    const lines = Array.from({ length: 200 }, (_, i) => `line ${i}:${'x'.repeat(i % 17)}`);
    const text = lines.join('\n');
    const pieces = textPieces(text, 300);
    expect(pieces.length).toBeGreaterThan(5);
    for (const p of pieces) expect(p.length).toBeLessThanOrEqual(300);
    expect(pieces.join('\n')).toBe(text); // every cut is at a line break
  });

  it('falls back to a space, then to a hard cut, in a text without line breaks', () => {
    const words = Array.from({ length: 100 }, (_, i) => `w${i}`).join(' ');
    const pieces = textPieces(words, 50);
    expect(pieces.join(' ')).toBe(words);
    const solid = 'y'.repeat(125);
    expect(textPieces(solid, 50)).toEqual(['y'.repeat(50), 'y'.repeat(50), 'y'.repeat(25)]);
  });
});
