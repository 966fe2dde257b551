/**
 * The real CLI (bin/moe-studio.mjs, spawned) on models whose tokenizer or chat template runs
 * for hours (hanging.testing.ts): every command that encodes — generate, generate --chat,
 * route, merge's hidden gates, merge --calibrate — returns exit 1 with one line naming the
 * file once MOE_STUDIO_ENCODE_DEADLINE_MS has passed (nodeTokenizerGuard), instead of
 * never returning. Each test times out long before the hang would end.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HANGING_TEXT } from '../core/tokenizer/hanging.testing.ts';
import { type DeadlineModels, writeDeadlineModels } from './deadline-models.testing.ts';

const BIN = fileURLToPath(new URL('../../bin/moe-studio.mjs', import.meta.url));
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const DEADLINE_MS = 1_500;

interface Run {
  code: number;
  stderr: string;
  ms: number;
}

function cli(args: string[], deadline = String(DEADLINE_MS)): Promise<Run> {
  const started = performance.now();
  const env = { ...process.env, MOE_STUDIO_ENCODE_DEADLINE_MS: deadline };
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: REPO, env, maxBuffer: 64 << 20 }, (error, _stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stderr, ms: performance.now() - started });
    });
  });
}

const ENCODE_LINE =
  /^moe-studio: FormatError: tokenizer\.json: encoding took longer than 1\.5 s, so its worker thread was ended \(a normalizer or pre-tokenizer regex of the model's tokenizer that backtracks on this text\?\)\. Load the model again; a different text may encode\.$/;

/** One line on stderr (after any progress lines) that matches `line`, exit 1. */
function expectDeadlineLine(run: Run, line: RegExp): void {
  const lines = run.stderr.trim().split('\n');
  expect(lines.at(-1)).toMatch(line);
  expect(lines.filter((l) => l.startsWith('moe-studio:'))).toHaveLength(1);
  expect(run.code).toBe(1);
}

let root = '';
let models: DeadlineModels;
const mergeYaml = (prompt: string) => `base_model: org/hangs
gate_mode: hidden
experts_per_token: 1
experts:
  - source_model: org/fine
    positive_prompts: ["hello world"]
  - source_model: org/runaway
    positive_prompts: [${JSON.stringify(prompt)}]
`;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'moe-deadline-'));
  models = await writeDeadlineModels(join(root, 'models'));
  await writeFile(join(root, 'hangs.yml'), mergeYaml(`a${HANGING_TEXT}`));
  await writeFile(join(root, 'fine.yml'), mergeYaml('def f(x):'));
  const texts = [
    { expert: 0, text: 'hello world, the quick brown fox' },
    { expert: 1, text: `a${HANGING_TEXT}` },
  ];
  await writeFile(join(root, 'texts.jsonl'), texts.map((t) => JSON.stringify(t)).join('\n'));
}, 60_000);

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('the CLI ends a tokenizer that hangs (MOE_STUDIO_ENCODE_DEADLINE_MS)', () => {
  it('generate --prompt: one line naming tokenizer.json, exit 1', async () => {
    const run = await cli([
      'generate',
      models.hangs,
      '--prompt',
      HANGING_TEXT,
      '--max-tokens',
      '2',
      '--backend',
      'cpu',
    ]);
    expectDeadlineLine(run, ENCODE_LINE);
    // the same model answers a prompt its tokenizer encodes in time
    const ok = await cli(['generate', models.hangs, '--prompt', 'hello', '--max-tokens', '2', '--backend', 'cpu']);
    expect(ok.stderr).toMatch(/^2 tokens in /);
    expect(ok.code).toBe(0);
  }, 90_000);

  it('generate --chat: a chat template that runs away ends in one line naming tokenizer_config.json', async () => {
    const run = await cli([
      'generate',
      models.runaway,
      '--chat',
      '--prompt',
      'hi',
      '--max-tokens',
      '2',
      '--backend',
      'cpu',
    ]);
    expectDeadlineLine(
      run,
      /^moe-studio: FormatError: tokenizer_config\.json: rendering the chat template took longer than 1\.5 s, so its worker thread was ended \(a chat template that runs away on these messages\?\)/,
    );
  }, 90_000);

  it('route --prompt: one line naming tokenizer.json, exit 1', async () => {
    const run = await cli(['route', models.moeHangs, '--prompt', HANGING_TEXT, '--backend', 'cpu']);
    expectDeadlineLine(run, ENCODE_LINE);
  }, 90_000);

  it("merge: a hidden gate's prompt that hangs in the base tokenizer ends the merge with nothing written", async () => {
    const out = join(root, 'out-gates');
    const run = await cli(['merge', join(root, 'hangs.yml'), out, '--models-dir', join(root, 'models')]);
    expectDeadlineLine(run, ENCODE_LINE);
    expect(await readdir(out).catch(() => [])).not.toContain('config.json');
  }, 90_000);

  it('merge --calibrate: a calibration text that hangs in the merged tokenizer ends the merge', async () => {
    const out = join(root, 'out-calibrated');
    const run = await cli([
      'merge',
      join(root, 'fine.yml'),
      out,
      '--models-dir',
      join(root, 'models'),
      '--calibrate',
      join(root, 'texts.jsonl'),
    ]);
    expectDeadlineLine(run, ENCODE_LINE);
    expect(await readdir(out).catch(() => [])).not.toContain('config.json');
  }, 90_000);

  it('refuses a deadline that is not a whole number of milliseconds, exit 2', async () => {
    const run = await cli(['generate', models.fine, '--prompt', 'hi', '--max-tokens', '1'], 'soon');
    expect(run.stderr.trim()).toBe(
      'moe-studio: MOE_STUDIO_ENCODE_DEADLINE_MS must be a whole number of milliseconds ≥ 1, got "soon"',
    );
    expect(run.code).toBe(2);
  }, 60_000);
});
