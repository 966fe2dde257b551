/**
 * The real CLI, spawned as users run it (bin/moe-studio.mjs → tsx → src/cli/main.ts), on
 * HF folders generated into a temp dir (randomModelWeights + exportHfFolder + a tiny BPE).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportHfFolder } from '../core/model/export-hf.ts';
import { loadHfModel } from '../core/model/load.ts';
import { randomModelWeights, tinyDenseSpec, tinyMoeSpec } from '../core/model/random.ts';
import { cpuBackend } from '../core/runtime/cpu/backend.ts';
import { generate } from '../core/runtime/generate.ts';
import { buildTestingBpeTokenizer } from '../core/tokenizer/bpe.testing.ts';
import { nodeDirFileSet, nodeDirSinkOpener } from './node-io.ts';
import { errorLine } from './main.ts';
import { ConfigError } from '../core/errors.ts';

const BIN = fileURLToPath(new URL('../../bin/moe-studio.mjs', import.meta.url));
const REPO = fileURLToPath(new URL('../../', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: REPO, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

let root = '';
let moeDir = '';
let denseDir = '';
// vocab must cover the test tokenizer's ids (256 bytes + merges + 3 specials).
const { tokenizerJson, tokenizerConfig } = buildTestingBpeTokenizer(40);
const vocab = 256 + 40 + 3;
// hidden and expert width are multiples of 32 so q8_0 GGUF export quantizes the experts.
const moeSpec = tinyMoeSpec({
  vocab,
  hidden: 64,
  heads: 4,
  kvHeads: 2,
  headDim: 16,
  intermediate: 64,
  moe: { experts: 4, expertsPerToken: 2, normTopK: true, expertIntermediate: 64 },
  eosTokenIds: [vocab - 1],
  bosTokenId: undefined,
});

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'moe-cli-'));
  moeDir = join(root, 'moe');
  denseDir = join(root, 'dense');
  const sidecarDir = join(root, 'tok');
  const open = nodeDirSinkOpener(sidecarDir);
  for (const [file, value] of [
    ['tokenizer.json', tokenizerJson],
    ['tokenizer_config.json', tokenizerConfig],
  ] as const) {
    const sink = await open(file);
    await sink.write(new TextEncoder().encode(JSON.stringify(value)));
    await sink.close();
  }
  const sidecarFiles = nodeDirFileSet(sidecarDir);
  await exportHfFolder(randomModelWeights(moeSpec, 21), nodeDirSinkOpener(moeDir), { sidecarFiles });
  await exportHfFolder(randomModelWeights(tinyDenseSpec({ vocab }), 22), nodeDirSinkOpener(denseDir), {
    sidecarFiles,
    dtype: 'f16',
  });
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('moe-studio CLI', () => {
  it('--help lists every command and exits 0', async () => {
    const run = await cli('--help');
    expect(run.code).toBe(0);
    for (const command of ['inspect', 'generate', 'route', 'export', 'merge'])
      expect(run.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    const sub = await cli('generate', '--help');
    expect(sub.code).toBe(0);
    expect(sub.stdout).toContain('--trace FILE');
  });

  it('rejects an unknown command and a bad flag with one line and exit 2', async () => {
    const unknown = await cli('frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trim().split('\n')).toEqual([
      "moe-studio: unknown command 'frobnicate' (commands: inspect, generate, route, export, merge; see --help)",
    ]);
    const bad = await cli('generate', moeDir, '--ids', '1', '--temperature', 'hot');
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe('moe-studio: --temperature must be a number ≥ 0, got "hot"');
  });

  it('reports a failing command in one line without a stack, and with a stack under --verbose', async () => {
    const run = await cli('inspect', join(root, 'missing'));
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([
      `moe-studio: MissingFileError: ${join(root, 'missing')}: no such file or directory`,
    ]);
    const verbose = await cli('inspect', join(root, 'missing'), '--verbose');
    expect(verbose.code).toBe(1);
    expect(verbose.stderr).toMatch(/\n\s+at /);
  });

  it('names the path and what to do in one line for a folder or a missing file (no raw EISDIR/ENOENT)', async () => {
    const folder = await cli('merge', root, join(root, 'out'));
    expect(folder.code).toBe(1);
    expect(folder.stderr.trim().split('\n')).toEqual([
      `moe-studio: ConfigError: ${root}: is a folder or device, expected a file`,
    ]);
    const tokenizer = await cli('generate', moeDir, '--ids', '1', '--tokenizer', root);
    expect(tokenizer.stderr).not.toMatch(/EISDIR|ENOENT|\n\s+at /);
    const command = await cli('constructor');
    expect(command.code).toBe(2);
    expect(command.stderr).toMatch(/^moe-studio: unknown command 'constructor'/);
  });

  it('refuses a config.json with 2^53 layers at once, in one line naming the file and the key', async () => {
    const dir = join(root, 'huge-layers');
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, 'config.json'),
      JSON.stringify({
        model_type: 'mixtral',
        hidden_size: 64,
        intermediate_size: 64,
        num_hidden_layers: 2 ** 53,
        num_attention_heads: 4,
        vocab_size: 99,
        num_local_experts: 8,
      }),
    );
    const started = performance.now();
    const run = await cli('inspect', dir);
    expect(performance.now() - started).toBeLessThan(30_000);
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([
      'moe-studio: ConfigError: config.json: num_hidden_layers 9007199254740992 is outside [1, 1024] (SPEC_LIMITS)',
    ]);
  });

  it('inspect --json gives the spec and every tensor', async () => {
    const run = await cli('inspect', moeDir, '--json');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.format).toBe('hf');
    expect(report.spec).toEqual(moeSpec);
    const router = report.tensors.find(
      (t: { name: string }) => t.name === 'model.layers.1.block_sparse_moe.gate.weight',
    );
    expect(router).toMatchObject({ dtype: 'f32', shape: [4, 64], bytes: 4 * 64 * 4, file: 'model.safetensors' });
    expect(report.bytes).toBe(report.tensors.reduce((s: number, t: { bytes: number }) => s + t.bytes, 0));
    expect(report.check).toEqual({ layout: 'classic', missing: [], extra: [], wrongShape: [] });
    const text = await cli('inspect', join(denseDir, 'model.safetensors'));
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/model\.layers\.0\.mlp\.down_proj\.weight\s+f16\s+\[48, 80\]/);
  });

  it('generate --json prints exactly one object with the ids the in-process cpu backend gives', async () => {
    const run = await cli(
      'generate',
      moeDir,
      '--prompt',
      'Once upon a time',
      '--temperature',
      '0',
      '--max-tokens',
      '6',
      '--json',
      '--backend',
      'cpu',
    );
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const out = JSON.parse(lines[0]!);
    expect(Object.keys(out).sort()).toEqual(['ids', 'text']);

    const model = await loadHfModel(nodeDirFileSet(moeDir));
    const promptIds = model.tokenizer!.encode('Once upon a time');
    const session = await cpuBackend.createSession(model.weights, { maxContext: promptIds.length + 6 });
    const expected: number[] = [];
    let text = '';
    for await (const token of generate(session, model.tokenizer, promptIds, { temperature: 0, maxTokens: 6 })) {
      expected.push(token.id);
      text += token.text;
    }
    expect(out.ids).toEqual(expected);
    expect(out.text).toBe(text);
    const viaFile = await cli(
      'generate',
      join(moeDir, 'model.safetensors'),
      '--prompt',
      'Once upon a time',
      '--temperature',
      '0',
      '--max-tokens',
      '6',
      '--json',
      '--backend',
      'cpu',
    );
    expect(JSON.parse(viaFile.stdout)).toEqual(out);
    // The default backend is wasm; on this model it must give the reference's greedy ids.
    const viaDefault = await cli(
      'generate',
      moeDir,
      '--prompt',
      'Once upon a time',
      '--temperature',
      '0',
      '--max-tokens',
      '6',
      '--json',
    );
    expect(viaDefault.code, viaDefault.stderr).toBe(0);
    expect(JSON.parse(viaDefault.stdout).ids).toEqual(expected);
  });

  it('generate --chat --trace writes per-token, per-layer routing', async () => {
    const tracePath = join(root, 'trace.json');
    const run = await cli(
      'generate',
      moeDir,
      '--prompt',
      'hi',
      '--chat',
      '--system',
      'be brief',
      '--temperature',
      '0.7',
      '--seed',
      '3',
      '--max-tokens',
      '4',
      '--trace',
      tracePath,
      '--json',
    );
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout);
    const trace = JSON.parse(await readFile(tracePath, 'utf8'));
    expect(trace.tokens.map((t: { id: number }) => t.id)).toEqual(out.ids);
    expect(trace.prompt).toHaveLength(trace.promptIds.length);
    expect(trace.promptIds[0]).toBe(tokenizerJson.model.vocab['<|im_start|>']);
    const model = await loadHfModel(nodeDirFileSet(moeDir));
    expect(model.tokenizer!.decode(trace.promptIds)).toBe(
      '<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n',
    );
    for (const token of [...trace.tokens, ...trace.prompt]) {
      expect(token.layers).toHaveLength(moeSpec.layers);
      for (const layer of token.layers) {
        expect(layer.expertIds).toHaveLength(2);
        expect(layer.moeProbs).toHaveLength(4);
        expect(layer.expertWeights[0] + layer.expertWeights[1]).toBeCloseTo(1, 5);
      }
    }
  });

  // --backend webgpu (available or not, with its error line) is tested in webgpu.test.ts.

  it('export --format safetensors writes a loadable folder (fused Mixtral layout, f16) with the tokenizer', async () => {
    const out = join(root, 'exported');
    const run = await cli(
      'export',
      moeDir,
      '--format',
      'safetensors',
      '--quant',
      'f16',
      '--layout',
      'fused',
      '--out',
      out,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim().split('\n')).toEqual([
      'config.json',
      'generation_config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
      'README.md',
    ]);
    const loaded = await loadHfModel(nodeDirFileSet(out));
    expect(loaded.mixtralLayout).toBe('fused');
    expect(loaded.spec).toEqual(moeSpec);
    expect(loaded.weights.layers[0]!.moe!.experts[3]!.down.dtype).toBe('f16');
    expect(loaded.tokenizer?.decode(loaded.tokenizer.encode('def f(x):\n    return x'))).toBe(
      'def f(x):\n    return x',
    );
    const again = await cli('export', moeDir, '--format', 'safetensors', '--quant', 'f16', '--out', out);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('exists; pass --force');
    const q8 = await cli('export', moeDir, '--format', 'safetensors', '--quant', 'q8_0', '--out', join(root, 'q8'));
    expect(q8.code).toBe(2);
    expect(q8.stderr.trim()).toBe(
      'moe-studio: export: safetensors cannot store q8_0; use --format gguf or --quant f32|f16|bf16',
    );
  });

  it('export --format gguf round-trips: the GGUF generates the same greedy ids as the HF folder', async () => {
    const gguf = join(root, 'moe-f32.gguf');
    const exported = await cli('export', moeDir, '--format', 'gguf', '--quant', 'f32', '--out', gguf);
    expect(exported.code, exported.stderr).toBe(0);
    const args = ['--prompt', 'Once upon a time', '--temperature', '0', '--max-tokens', '8', '--json'];
    const [fromHf, fromGguf] = await Promise.all([cli('generate', moeDir, ...args), cli('generate', gguf, ...args)]);
    expect(fromGguf.code, fromGguf.stderr).toBe(0);
    expect(JSON.parse(fromGguf.stdout)).toEqual(JSON.parse(fromHf.stdout));

    const q8 = join(root, 'moe-q8.gguf');
    expect((await cli('export', moeDir, '--format', 'gguf', '--quant', 'q8_0', '--out', q8)).code).toBe(0);
    const report = JSON.parse((await cli('inspect', q8, '--json')).stdout);
    expect(report.format).toBe('gguf');
    expect(report.metadata['llama.expert_count']).toBe(4);
    expect(report.tensors.find((t: { name: string }) => t.name === 'blk.0.ffn_down_exps.weight')).toMatchObject({
      dtype: 'q8_0',
      shape: [4, 64, 64],
    });
  });

  it('refuses GGUF export of a model without an HF tokenizer', async () => {
    const stories = join(REPO, 'tests/fixtures/stories260K/stories260K.bin');
    const run = await cli('export', stories, '--format', 'gguf', '--quant', 'f16', '--out', join(root, 'stories.gguf'));
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe(
      'moe-studio: ConfigError: export: GGUF export needs an HF tokenizer (tokenizer.json); this model has none',
    );
  });

  it('runs a llama2.c checkpoint with the tokenizer beside it, and its HF export gives the same ids', async () => {
    const stories = join(REPO, 'tests/fixtures/stories260K/stories260K.bin');
    const args = ['--ids', '1,403,407', '--temperature', '0', '--max-tokens', '16', '--json'];
    const direct = await cli('generate', stories, ...args);
    expect(direct.code, direct.stderr).toBe(0);
    expect(JSON.parse(direct.stdout).text).toMatch(/^ a time/);
    const hfDir = join(root, 'stories-hf');
    expect((await cli('export', stories, '--format', 'safetensors', '--quant', 'f32', '--out', hfDir)).code).toBe(0);
    const viaHf = await cli('generate', hfDir, ...args);
    expect(viaHf.code, viaHf.stderr).toBe(0);
    expect(JSON.parse(viaHf.stdout).ids).toEqual(JSON.parse(direct.stdout).ids);
  });

  it("route --json shows every token's experts and honours --ban-experts", async () => {
    const run = await cli('route', moeDir, '--prompt', 'def add(a, b):', '--json');
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.usage).toHaveLength(moeSpec.layers);
    for (const counts of report.usage)
      expect(counts.reduce((a: number, b: number) => a + b, 0)).toBe(report.tokens.length * 2);
    expect(report.tokens.map((t: { piece: string }) => t.piece).join('')).toBe('def add(a, b):');
    const banned = JSON.parse(
      (await cli('route', moeDir, '--prompt', 'def add(a, b):', '--ban-experts', '0', '--json')).stdout,
    );
    for (const counts of banned.usage) expect(counts[0]).toBe(0);
    for (const token of banned.tokens) for (const layer of token.layers) expect(layer.expertIds).not.toContain(0);
    expect(banned.experts).toBeNull(); // an exported random MoE carries no merge config, so no donor names
    const layerBan = JSON.parse(
      (await cli('route', moeDir, '--prompt', 'def add(a, b):', '--ban-experts', '0', '--ban-layers', '1', '--json'))
        .stdout,
    );
    expect(layerBan.usage[1][0]).toBe(0);
    expect(report.usage[1][0]).toBeGreaterThan(0); // so the ban, not chance, emptied it
    expect(layerBan.usage[0]).toEqual(report.usage[0]); // layer 0 runs before the banned layer: untouched
    expect(banned.usage[0]).not.toEqual(report.usage[0]); // while an unscoped ban does change it
    expect((await cli('route', moeDir, '--ids', '1,2', '--ban-layers', '1')).code).toBe(2);
    const dense = await cli('route', denseDir, '--ids', '1,2');
    expect(dense.code).toBe(1);
    expect(dense.stderr).toContain('is a dense llama model (no experts to route to)');
  });

  it('route --experts-top-p routes each token to the fewest experts reaching p, within --min/--max-experts', async () => {
    const p = 0.6;
    const args = ['--prompt', 'def add(a, b):', '--experts-top-p', String(p), '--max-experts', '3', '--json'];
    const run = await cli('route', moeDir, ...args);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    const counts = new Set<number>();
    for (const token of report.tokens)
      for (const layer of token.layers as { expertIds: number[]; moeProbs: number[] }[]) {
        const n = layer.expertIds.length;
        counts.add(n);
        expect(n).toBeGreaterThanOrEqual(1);
        expect(n).toBeLessThanOrEqual(3);
        const mass = (ids: number[]) => ids.reduce((sum, e) => sum + layer.moeProbs[e]!, 0);
        // the set reaches p unless capped at 3, and one expert fewer would not (the smallest such set)
        if (n < 3) expect(mass(layer.expertIds)).toBeGreaterThanOrEqual(p - 1e-6);
        if (n > 1) expect(mass(layer.expertIds.slice(0, -1))).toBeLessThan(p + 1e-6);
      }
    expect(counts.size, 'tokens get different expert counts').toBeGreaterThan(1);
    const mean = report.tokens.reduce(
      (sum: number, t: { layers: { expertIds: number[] }[] }) => sum + t.layers[0]!.expertIds.length,
      0,
    );
    expect(report.meanExpertsPerToken[0]).toBeCloseTo(mean / report.tokens.length, 12);
    const wasmGreedy = await cli(
      'generate',
      moeDir,
      '--ids',
      '1,2,3',
      '--experts-top-p',
      '0.7',
      '--temperature',
      '0',
      '--max-tokens',
      '6',
      '--json',
    );
    const cpuGreedy = await cli(
      'generate',
      moeDir,
      '--ids',
      '1,2,3',
      '--experts-top-p',
      '0.7',
      '--temperature',
      '0',
      '--max-tokens',
      '6',
      '--json',
      '--backend',
      'cpu',
    );
    expect(wasmGreedy.code, wasmGreedy.stderr).toBe(0);
    expect(JSON.parse(wasmGreedy.stdout).ids).toEqual(JSON.parse(cpuGreedy.stdout).ids);
  });

  it.each([
    [['--experts-top-p', '1.5'], '--experts-top-p must be a number ≥ 0 and ≤ 1, got "1.5"'],
    [['--experts-top-p', '0'], '--experts-top-p must be a number > 0 and ≤ 1'],
    [['--min-experts', '2'], '--min-experts needs --experts-top-p'],
    [['--experts-top-p', '0.5', '--min-experts', '3', '--max-experts', '2'], '--min-experts 3 exceeds --max-experts 2'],
    [['--experts-top-p', '0.5', '--max-experts', '0'], '--max-experts must be an integer ≥ 1'],
    [['--experts-top-p', '0.5', '--experts-per-token', '2'], 'cap top-p with --max-experts'],
  ])('route %j is refused: %s', async (flags, message) => {
    const run = await cli('route', moeDir, '--ids', '1,2', ...flags);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
  });

  it('an expertsTopP the model cannot take is a ConfigError naming the field', async () => {
    const run = await cli('route', moeDir, '--ids', '1,2', '--experts-top-p', '0.5', '--max-experts', '9');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('routing: expertsTopP.maxExperts 9 is outside [1, 4]');
  });

  it('route names the experts of a merged zoo MoE by their donors, in the table and in --json', async () => {
    const out = join(root, 'zoo-moe');
    const merged = await cli(
      'merge',
      join(REPO, 'public/zoo/moe-hidden.yml'),
      out,
      '--models-dir',
      join(REPO, 'public'),
    );
    expect(merged.code, merged.stderr).toBe(0);
    // transformers 5 validates field types: a float written as `0` fails to load (router_jitter_noise)
    const config = await readFile(join(out, 'config.json'), 'utf8');
    expect(config).toContain('"router_jitter_noise": 0.0');
    expect(config).toMatch(/"rope_theta": \d+\.0/);
    const json = JSON.parse(
      (await cli('route', out, '--prompt', 'Once upon a time', '--backend', 'cpu', '--json')).stdout,
    );
    expect(json.experts).toEqual(['zoo/stories', 'zoo/code', 'zoo/math', 'zoo/chat']);
    const table = await cli('route', out, '--prompt', 'Once upon a time', '--backend', 'cpu');
    expect(table.stdout).toContain('experts: 0 zoo/stories, 1 zoo/code, 2 zoo/math, 3 zoo/chat');
    expect(table.stdout).toMatch(/layer 0: stories=\d+ {2}code=\d+ {2}math=\d+ {2}chat=\d+/);
  });

  it('dispatches merge to the merge command', async () => {
    const run = await cli('merge', '--help');
    expect(run.stderr).not.toContain('unknown command');
  });
});

describe('errorLine: one line for every error', () => {
  const system = (code: string, message: string, path?: string) =>
    Object.assign(new Error(message), { code, ...(path === undefined ? {} : { path }) });
  it('turns Node system errors into "path: meaning (what to do)"', () => {
    expect(errorLine(system('ENOENT', "ENOENT: no such file or directory, open '/x/y'", '/x/y'))).toBe(
      'moe-studio: /x/y: no such file or directory (check the path)',
    );
    expect(errorLine(system('EISDIR', 'EISDIR: illegal operation on a directory, read'))).toMatch(
      /: is a folder, expected a file \(name a file inside it\)$/,
    );
    expect(errorLine(system('ENOSPC', 'ENOSPC: no space', '/out/model.gguf'))).toMatch(
      /^moe-studio: \/out\/model\.gguf: no space left/,
    );
  });
  it('keeps typed errors, cuts multi-line messages to the first line, and marks untyped ones as internal', () => {
    expect(errorLine(new ConfigError('config.json: bad'))).toBe('moe-studio: ConfigError: config.json: bad');
    const crash = errorLine(new Error('webgpu: shader failed\n  line 1: error\n  line 2: error'));
    expect(crash.split('\n')).toHaveLength(1);
    expect(crash).toBe(
      'moe-studio: internal error: Error: webgpu: shader failed (please report it; --verbose prints the stack)',
    );
    expect(errorLine(Object.assign(new Error('x'), { name: 'BackendError' }))).toBe('moe-studio: BackendError: x');
  });
});
