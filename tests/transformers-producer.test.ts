/**
 * What of `npm run test:transformers` runs here (PyPI is unreachable from these machines, so
 * transformers itself cannot be installed): the Node producer writes the HF folders and a
 * reference JSON of our greedy ids, logits and tokenizer ids, and the Python checker compiles.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CASES,
  GREEDY_TOKENS,
  MIXED_TEXT,
  produce,
  REFERENCE_SCHEMA,
  type Reference,
} from '../tools/transformers/produce.ts';
import { loadModel } from '../src/core/model/load.ts';
import { nodeDirFileSet } from '../src/cli/node-io.ts';

const out = mkdtempSync(join(tmpdir(), 'moe-transformers-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('tools/transformers producer', () => {
  it('lists every folder kind the issue asks transformers to load', () => {
    expect(Object.keys(CASES)).toEqual(['dense', 'mixtral-classic', 'mixtral-fused', 'qwen2-moe', 'calibrated']);
  });

  // Two cases, not five: the others (hidden gates, calibration) add ~10 s of CPU each run of npm test,
  // and exercise the same producer code; `npx tsx tools/transformers/produce.ts DIR` writes all five.
  it.each([
    ['dense', 'llama'],
    ['qwen2-moe', 'qwen2_moe'],
  ])(
    '%s: writes the HF folder and a reference of our greedy ids, logits and tokenizer ids',
    async (name, modelType) => {
      const [path] = await produce(out, [name]);
      expect(path).toBe(join(out, `${name}.reference.json`));
      const files = readdirSync(join(out, name));
      for (const f of ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'README.md'])
        expect(files, f).toContain(f);
      const ref = JSON.parse(readFileSync(path!, 'utf8')) as Reference;
      expect(ref.schema).toBe(REFERENCE_SCHEMA);
      expect(ref.modelType).toBe(modelType);
      const model = await loadModel(nodeDirFileSet(join(out, name)));
      expect(ref.greedyIds).toHaveLength(GREEDY_TOKENS);
      expect(ref.greedyIds.every((id) => Number.isInteger(id) && id >= 0 && id < model.spec.vocab)).toBe(true);
      expect(ref.lastLogits).toHaveLength(model.spec.vocab);
      // The first greedy id is the argmax of the stored logits: the two come from the same forward.
      expect(ref.greedyIds[0]).toBe(ref.lastLogits.indexOf(Math.max(...ref.lastLogits)));
      expect(ref.mixedText).toBe(MIXED_TEXT);
      expect(model.tokenizer!.decode(ref.mixedIds)).toContain('def add(a, b):');
      expect(ref.promptIds.length).toBeGreaterThan(5);
      expect(ref.chatText).toContain('What is 12 + 35?');
      expect(model.tokenizer!.decode(ref.chatIds)).toContain('You are a helpful assistant.');
    },
  );

  it('check.py compiles (python3 -m py_compile); it cannot run here without torch and transformers', () => {
    const cache = join(out, 'check.pyc');
    execFileSync('python3', [
      '-c',
      `import py_compile; py_compile.compile('tools/transformers/check.py', cfile='${cache}', doraise=True)`,
    ]);
    expect(existsSync(cache)).toBe(true);
  });
});
