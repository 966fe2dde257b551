import { describe, expect, it } from 'vitest';
import { parseMergeYaml } from '../core/formats/mergekit-yaml.ts';
import type { ModelManifest } from '../core/store/manifest.ts';
import { manifestYaml, markdownCell, modelCard } from './export.ts';

const yaml =
  'base_model: zoo/base\ngate_mode: hidden\nexperts:\n  - source_model: zoo/stories\n    positive_prompts: ["Once upon a time"]\n  - source_model: zoo/code\n    positive_prompts: ["def f():"]\n    negative_prompts: ["Once"]\n';

const manifest: ModelManifest = {
  schemaVersion: 2,
  id: 'merge:x',
  title: 'My MoE',
  source: { kind: 'merge', yaml },
  files: [],
  chunkBytes: 1,
  totalBytes: 0,
  createdAt: 0,
  notes: {
    arch: 'Mixtral',
    base: 'zoo/base',
    experts: [
      { donor: 'zoo/stories', positive: ['Once upon a time'], negative: [] },
      { donor: 'zoo/code', positive: ['def f():'], negative: ['Once'] },
    ],
  },
};

describe('export', () => {
  it('the model card lists every donor with its prompts, the YAML verbatim, and usage', () => {
    const card = modelCard(manifest);
    expect(card).toContain('# My MoE');
    expect(card).toContain('(Mixtral architecture)');
    expect(card).toContain('| 0 | `zoo/stories` | Once upon a time | — |');
    expect(card).toContain('| 1 | `zoo/code` | def f(): | Once |');
    const fenced = /```yaml\n([\s\S]*?)```/.exec(card)![1];
    expect(parseMergeYaml(fenced)).toMatchObject({ ok: true });
    expect(fenced.trimEnd()).toBe(yaml.trimEnd());
    expect(card).toContain('AutoModelForCausalLM.from_pretrained');
  });

  it('prompts cannot break the experts table or inject HTML', () => {
    expect(markdownCell('a | b <script>x</script>\nnext\r\nlast & co')).toBe(
      'a \\| b &lt;script&gt;x&lt;/script&gt;<br>next<br>last &amp; co',
    );
    const card = modelCard({
      ...manifest,
      source: { kind: 'local', folderName: 'x' }, // no YAML: the card's experts come from the notes
      notes: {
        experts: [
          { donor: 'org/a|b', positive: ['x | y', '<img src=x onerror=alert(1)>'], negative: ['line1\nline2'] },
        ],
      },
    });
    const row = card.split('\n').find((l) => l.startsWith('| 0 |'))!;
    expect(row).toBe('| 0 | `org/a\\|b` | x \\| y<br>&lt;img src=x onerror=alert(1)&gt; | line1<br>line2 |');
    expect(row.replace(/\\\|/g, '').split('|')).toHaveLength(6); // 4 cells between the outer pipes
    expect(card).not.toContain('<img');
  });

  it('the YAML of a merged model is its source text; other models have none', () => {
    expect(manifestYaml(manifest)).toBe(yaml);
    expect(manifestYaml({ ...manifest, source: { kind: 'local', folderName: 'x' }, notes: {} })).toBeUndefined();
  });
});
