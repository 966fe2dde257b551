/**
 * One model card for one model, whichever path wrote it: the CLI's `merge` and
 * `export --format safetensors` (src/cli) and the Export page's HF folder (modelCard in
 * src/state/export.ts) give the same README.md text for the same merge. Lives in tests/
 * because it drives both src/cli and src/state, which must not import each other.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { runExportCommand } from '../src/cli/commands/export.ts';
import { runMergeCommand } from '../src/cli/commands/merge.ts';
import type { ModelManifest } from '../src/core/store/manifest.ts';
import { modelCard } from '../src/state/export.ts';

const YAML = `base_model: zoo/base
gate_mode: random
dtype: float32
experts:
  - source_model: zoo/stories
    positive_prompts: ["Once upon a time"]
  - source_model: zoo/code
    positive_prompts: ["def add(a, b):", "   "]
    negative_prompts: ["Once | upon <b>"]
`;

const TITLE = 'Zoo-Card-MoE';
const dir = mkdtempSync(join(tmpdir(), 'moe-card-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The manifest the merge worker stores for this YAML built in Compose (notes as composeBuild writes them). */
const manifest: ModelManifest = {
  schemaVersion: 2,
  id: 'merge:card',
  title: TITLE,
  source: { kind: 'merge', yaml: YAML },
  files: [],
  chunkBytes: 1,
  totalBytes: 0,
  createdAt: 0,
  notes: {
    arch: 'Mixtral',
    base: 'zoo/base',
    experts: [
      { donor: 'zoo/stories', positive: ['Once upon a time'], negative: [] },
      { donor: 'zoo/code', positive: ['def add(a, b):'], negative: ['Once | upon <b>'] },
    ],
    yaml: YAML,
  },
};

async function quietly(run: () => Promise<number>): Promise<number> {
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    return await run();
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe('the CLI and the Export page write the same README.md', () => {
  const merged = join(dir, 'merged', TITLE);

  it('moe-studio merge', async () => {
    writeFileSync(join(dir, 'card.yml'), YAML);
    expect(await quietly(() => runMergeCommand([join(dir, 'card.yml'), merged, '--models-dir', 'public']))).toBe(0);
    const card = readFileSync(join(merged, 'README.md'), 'utf8');
    expect(card).toBe(modelCard(manifest));
    // Not vacuous: the card names the donors, escapes the prompt cell, holds the YAML.
    expect(card).toContain(`# ${TITLE}`);
    expect(card).toContain('| 1 | `zoo/code` | def add(a, b): | Once \\| upon &lt;b&gt; |');
    expect(card).toContain(YAML.trimEnd());
  });

  it('moe-studio export --format safetensors of the merged folder', async () => {
    const out = join(dir, 'exported', TITLE);
    expect(
      await quietly(() => runExportCommand([merged, '--format', 'safetensors', '--quant', 'f32', '--out', out])),
    ).toBe(0);
    expect(readFileSync(join(out, 'README.md'), 'utf8')).toBe(modelCard(manifest));
  });

  it('a dense export gets the card of a plain model, the same as the Export page gives a stored one', async () => {
    const out = join(dir, 'dense', 'Zoo-Base');
    expect(
      await quietly(() =>
        runExportCommand(['public/zoo/base', '--format', 'safetensors', '--quant', 'f32', '--out', out]),
      ),
    ).toBe(0);
    const card = readFileSync(join(out, 'README.md'), 'utf8');
    expect(card).toBe(
      modelCard({ ...manifest, title: 'Zoo-Base', source: { kind: 'local', folderName: 'base' }, notes: {} }),
    );
    expect(card).toContain('A model exported from MoE Studio.');
  });
});
