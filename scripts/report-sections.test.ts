import { describe, expect, it } from 'vitest';
import { extractSection, replaceSection } from './report-sections.ts';

const ours = { begin: '<!-- ours:begin (scripts/ours.ts) -->', end: '<!-- ours:end -->' };
const doc = [
  '# Report',
  '',
  '<!-- theirs:begin (scripts/theirs.ts) -->',
  'their table',
  '<!-- theirs:end -->',
  '',
  'tail text',
  '',
].join('\n');

describe('marked report sections', () => {
  it('appends a missing section and leaves everything else byte for byte', () => {
    const out = replaceSection(doc, ours, '## Ours\n\n| a |');
    expect(out.startsWith(doc.trimEnd())).toBe(true);
    expect(extractSection(out, ours)).toBe(`${ours.begin}\n## Ours\n\n| a |\n${ours.end}`);
  });

  it('replaces an existing section in place, whatever note its begin marker had', () => {
    const first = replaceSection(doc, ours, 'old').replace(ours.begin, '<!-- ours:begin (an older note) -->');
    const second = replaceSection(first, ours, 'new');
    expect(second).toContain(`${ours.begin}\nnew\n${ours.end}`);
    expect(second).not.toContain('old');
    expect(second.replace(extractSection(second, ours), '')).toBe(first.replace(extractSection(first, ours), ''));
    expect(extractSection(second, { begin: '<!-- theirs:begin', end: '<!-- theirs:end -->' })).toBe(
      '<!-- theirs:begin (scripts/theirs.ts) -->\ntheir table\n<!-- theirs:end -->',
    );
  });

  it('refuses a begin marker without its end, rather than eating the rest of the file', () => {
    expect(() => replaceSection(`${doc}${ours.begin}\nhalf`, ours, 'x')).toThrow(/has no '<!-- ours:end -->'/);
  });
});
