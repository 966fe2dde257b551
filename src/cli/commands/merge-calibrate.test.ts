import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { calibrationDataSha256, type CalibrationText } from '../../core/calibrate/texts.ts';
import { parseMergeYaml } from '../../core/formats/mergekit-yaml.ts';
import { openSafetensorsFolder } from '../../core/formats/safetensors-folder.ts';
import type { FileSet } from '../../core/io/byte-source.ts';
import { randomHfFolder, testingDenseSpec } from '../../core/merge/models.testing.ts';
import { loadHfModel } from '../../core/model/load.ts';
import { dequantize } from '../../core/quant/convert.ts';
import { cpuBackend } from '../../core/runtime/cpu/backend.ts';
import { nodeDirFileSet } from '../node-io.ts';
import { runMergeCommand } from './merge.ts';

let dir: string;

const YAML = `base_model: org/base
gate_mode: hidden
experts_per_token: 1
experts:
  - source_model: org/a
    positive_prompts: ["Once upon a time"]
  - source_model: org/b
    positive_prompts: ["def add(a, b):"]
`;

const STORY_WORDS = ['Once', 'upon', 'a', 'time', 'there', 'was', 'a', 'little', 'cat', 'who', 'liked', 'the', 'sun'];
const CODE_WORDS = ['def', 'add(a,', 'b):', 'return', 'a', '+', 'b', 'if', 'x', '==', '0:', 'print(x)', 'import', 'os'];
/** Texts of two kinds, drawn with a fixed rotation so every run sees the same set. */
const TEXTS: CalibrationText[] = Array.from({ length: 16 }, (_, i) => {
  const words = i % 2 === 0 ? STORY_WORDS : CODE_WORDS;
  return { expert: i % 2, text: Array.from({ length: 24 }, (_, j) => words[(i * 5 + j * 3) % words.length]).join(' ') };
});

async function writeFolder(files: FileSet, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const f of await files.list()) {
    const src = await files.open(f);
    await writeFile(join(to, f), await src.read(0, src.size));
  }
}

function quiet(): { text: () => string; restore: () => void } {
  let out = '';
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  const std = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  return {
    text: () => out,
    restore: () => {
      err.mockRestore();
      std.mockRestore();
    },
  };
}

async function merge(out: string, ...flags: string[]): Promise<number> {
  const log = quiet();
  const code = await runMergeCommand([
    join(dir, 'moe.yml'),
    out,
    '--models-dir',
    join(dir, 'models'),
    ...flags,
  ]).finally(log.restore);
  if (code !== 0) throw new Error(log.text());
  return code;
}

/** Share of the texts' tokens whose top-1 expert, averaged over layers, is the text's expert; run in our engine. */
async function ownShare(folder: string): Promise<number> {
  const model = await loadHfModel(nodeDirFileSet(folder));
  const session = await cpuBackend.createSession(model.weights, { maxContext: 256 });
  let own = 0;
  let total = 0;
  for (const { expert, text } of TEXTS) {
    session.truncate(0);
    const ids = model.tokenizer!.encode(text, { addSpecialTokens: false });
    const { routing } = await session.forward(ids, { trace: true });
    for (const token of routing!)
      for (const layer of token.layers) {
        own += layer.expertIds[0] === expert ? 1 : 0;
        total++;
      }
  }
  session.dispose();
  return own / total;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'moe-merge-calibrate-'));
  const spec = testingDenseSpec();
  for (const [name, seed] of [
    ['base', 1],
    ['a', 2],
    ['b', 3],
  ] as const)
    await writeFolder(
      (await randomHfFolder(`org/${name}`, seed, spec, 'bf16')).files,
      join(dir, 'models', 'org', name),
    );
  await writeFile(join(dir, 'moe.yml'), YAML);
  await writeFile(join(dir, 'cal.jsonl'), TEXTS.map((t) => JSON.stringify(t)).join('\n'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('moe-studio merge --calibrate', () => {
  it('writes calibrated gate tensors that our engine loads and that route the texts to their expert', async () => {
    const plain = join(dir, 'out-plain');
    const calibrated = join(dir, 'out-calibrated');
    await merge(plain);
    await merge(calibrated, '--calibrate', join(dir, 'cal.jsonl'));
    const gate = 'model.layers.0.block_sparse_moe.gate.weight';
    const before = dequantize(await (await openSafetensorsFolder(nodeDirFileSet(plain))).readTensor(gate));
    const after = dequantize(await (await openSafetensorsFolder(nodeDirFileSet(calibrated))).readTensor(gate));
    expect(Array.from(after)).not.toEqual(Array.from(before));
    const [shareBefore, shareAfter] = [await ownShare(plain), await ownShare(calibrated)];
    expect(shareAfter).toBeGreaterThan(shareBefore);
    expect(shareAfter).toBeGreaterThan(0.9);
  });

  it('records the method and the data sha256 in README.md and as a YAML comment mergekit ignores', async () => {
    const out = join(dir, 'out-card');
    await merge(out, '--calibrate', join(dir, 'cal.jsonl'), '--calibrate-method', 'mean');
    const sha = calibrationDataSha256(TEXTS);
    const card = await readFile(join(out, 'README.md'), 'utf8');
    expect(card).toContain('method: mean');
    expect(card).toMatch(/packed windows of 64 \(at most 3840 tokens an expert\)/);
    expect(card).toContain(sha);
    const yamlCopy = await readFile(join(out, 'mergekit_moe_config.yml'), 'utf8');
    expect(yamlCopy.startsWith('# moe-studio: router calibrated')).toBe(true);
    expect(yamlCopy).toContain(sha);
    expect(yamlCopy.endsWith(YAML)).toBe(true);
    const reparsed = parseMergeYaml(yamlCopy);
    expect(reparsed.ok && reparsed.config.experts.length).toBe(2);
  });

  it('--calibrate-windowing per-text takes one window from each text and says so; a packed-only flag beside it is refused', async () => {
    const out = join(dir, 'out-per-text');
    await merge(out, '--calibrate', join(dir, 'cal.jsonl'), '--calibrate-windowing', 'per-text');
    expect(await readFile(join(out, 'README.md'), 'utf8')).toContain('windows of 64, 1 per text');
    expect(await ownShare(out)).toBeGreaterThan(0.9);
    const refused = join(dir, 'out-refused');
    await expect(
      merge(
        refused,
        '--calibrate',
        join(dir, 'cal.jsonl'),
        '--calibrate-windowing',
        'per-text',
        '--calibrate-tokens-per-expert',
        '128',
      ),
    ).rejects.toThrow(/tokensPerExpert applies to packed windows/);
  });

  it('--calibrate-method lm-loss trains for --calibrate-steps and records them', async () => {
    const out = join(dir, 'out-lm');
    await merge(out, '--calibrate', join(dir, 'cal.jsonl'), '--calibrate-method', 'lm-loss', '--calibrate-steps', '3');
    expect(await readFile(join(out, 'README.md'), 'utf8')).toContain('method: lm-loss (3 training steps)');
    expect(await ownShare(out)).toBeGreaterThan(0.9);
  });

  it.each([
    [
      'an expert index out of range',
      '{"expert": 2, "text": "x"}',
      /cal-bad\.jsonl:1 field 'expert' is 2, outside \[0, 2\)/,
    ],
    ['a line that is not an object', '"text"', /cal-bad\.jsonl:1 must be an object/],
    ['an expert without texts', '{"expert": 0, "text": "x"}', /no text for expert 1/],
  ])('exits 1 on %s, naming the file and line', async (_, line, message) => {
    await writeFile(join(dir, 'cal-bad.jsonl'), `${line}\n`);
    const { main } = await import('../main.ts');
    const log = quiet();
    const args = ['merge', join(dir, 'moe.yml'), join(dir, 'out-bad'), '--models-dir', join(dir, 'models')];
    const code = await main([...args, '--calibrate', join(dir, 'cal-bad.jsonl')]).finally(log.restore);
    expect(code).toBe(1);
    expect(log.text()).toMatch(message);
  });

  it('calibration flags without --calibrate are a usage error', async () => {
    const { main } = await import('../main.ts');
    const log = quiet();
    const args = ['merge', join(dir, 'moe.yml'), join(dir, 'out-usage'), '--models-dir', join(dir, 'models')];
    const code = await main([...args, '--calibrate-method', 'mean']).finally(log.restore);
    expect(code).toBe(2);
    expect(log.text()).toMatch(/need --calibrate/);
  });
});
