/**
 * `generate --backend webgpu` from Node (Dawn, the optional `webgpu` package), spawned as
 * users run it (bin/moe-studio.mjs), against `--backend cpu` (the reference): the same
 * greedy ids on random dense and MoE GGUFs in f32, q8_0 and q4_0, and on the zoo MoE.
 *
 * The guard is what the CLI needs to find an adapter on a machine without its own Vulkan
 * driver: the package, and Chromium's SwiftShader (DEFAULT_SWIFTSHADER_DIR). When either is
 * missing, each case asserts the CLI's one clear error naming it instead of skipping.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportGguf } from '../core/model/gguf-model.ts';
import { randomModelWeights, tinyDenseSpec, tinyMoeSpec } from '../core/model/random.ts';
import type { ModelSpec } from '../core/model/spec.ts';
import type { GgufExportQuant } from '../core/model/gguf-names.ts';
import { buildTestingBpeTokenizer } from '../core/tokenizer/bpe.testing.ts';
import { nodeFileSink } from './node-io.ts';
import { swiftShaderDir } from './webgpu-node.ts';

const BIN = fileURLToPath(new URL('../../bin/moe-studio.mjs', import.meta.url));
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const TOKENS = 64;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: REPO, env, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** What the CLI should say instead of generating, when this machine lacks a part (undefined: it has them). */
function missingPart(): RegExp | undefined {
  if (!existsSync(join(REPO, 'node_modules/webgpu/package.json')))
    return /the optional package 'webgpu' \(Dawn for Node\) is not installed/;
  const icd = join(swiftShaderDir(), 'vk_swiftshader_icd.json');
  if (!existsSync(icd))
    return new RegExp(`no SwiftShader fallback \\(${icd.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} does not exist`);
  return undefined;
}

const { tokenizerJson, tokenizerConfig } = buildTestingBpeTokenizer(40);
const vocab = 256 + 40 + 3;
// No EOS anywhere, so every run makes all TOKENS ids; widths are multiples of 32 so q8_0 and
// q4_0 quantize every matrix (GGUF export keeps other widths in f16).
const shape: Partial<ModelSpec> = {
  vocab,
  hidden: 64,
  heads: 4,
  kvHeads: 2,
  headDim: 16,
  intermediate: 64,
  contextLength: 128,
  eosTokenIds: [],
  bosTokenId: undefined,
};
const SPECS = {
  dense: tinyDenseSpec(shape),
  moe: tinyMoeSpec({ ...shape, moe: { experts: 4, expertsPerToken: 2, normTopK: true, expertIntermediate: 64 } }),
};
const QUANTS: GgufExportQuant[] = ['f32', 'q8_0', 'q4_0'];
const PROMPT = ['--ids', '5,17,42', '--temperature', '0', '--json'];

let root = '';
const missing = missingPart();

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'moe-webgpu-cli-'));
  const tokenizer = { tokenizerJson, tokenizerConfig: { ...tokenizerConfig, eos_token: null } };
  for (const [kind, spec] of Object.entries(SPECS)) {
    const weights = randomModelWeights(spec, kind === 'dense' ? 31 : 32);
    for (const quant of QUANTS)
      await exportGguf(await nodeFileSink(join(root, `${kind}-${quant}.gguf`)), weights, tokenizer, quant);
  }
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

/** Runs the model on webgpu and cpu; the greedy ids must be equal (or the clear error, see missingPart). */
async function expectSameIdsAsCpu(model: string, args: string[], tokens: number): Promise<void> {
  const [gpu, cpu] = await Promise.all([
    cli(['generate', model, ...args, '--backend', 'webgpu']),
    cli(['generate', model, ...args, '--backend', 'cpu']),
  ]);
  expect(cpu.code, cpu.stderr).toBe(0);
  if (missing) {
    expect(gpu.code, gpu.stdout).toBe(1);
    expect(gpu.stderr.trim().split('\n').at(-1)).toMatch(
      /^moe-studio: BackendError: backend 'webgpu' is not available here: /,
    );
    expect(gpu.stderr).toMatch(missing);
    return;
  }
  expect(
    gpu.code,
    `webgpu run failed (needs node_modules/webgpu and ${swiftShaderDir()} or a Vulkan GPU):\n${gpu.stderr}`,
  ).toBe(0);
  const cpuIds = JSON.parse(cpu.stdout).ids as number[];
  expect(cpuIds).toHaveLength(tokens);
  expect(JSON.parse(gpu.stdout).ids).toEqual(cpuIds);
  expect(gpu.stderr).toMatch(/backend webgpu\)/);
}

describe('moe-studio generate --backend webgpu (Dawn in Node) gives the CPU reference greedy ids', () => {
  for (const kind of Object.keys(SPECS)) {
    for (const quant of QUANTS) {
      it(`random ${kind} ${quant}: ${TOKENS} tokens`, async () => {
        await expectSameIdsAsCpu(
          join(root, `${kind}-${quant}.gguf`),
          [...PROMPT, '--max-tokens', String(TOKENS)],
          TOKENS,
        );
      });
    }
  }

  for (const quant of ['f32', 'q8_0'] as const)
    it(`random moe ${quant} with dynamic routing (--experts-top-p 0.7 --max-experts 3): ${TOKENS} tokens`, async () => {
      const dynamic = ['--experts-top-p', '0.7', '--max-experts', '3'];
      await expectSameIdsAsCpu(
        join(root, `moe-${quant}.gguf`),
        [...PROMPT, ...dynamic, '--max-tokens', String(TOKENS)],
        TOKENS,
      );
    });

  it(`zoo MoE (moe-random.yml merged here; f16 safetensors and q4_0 GGUF): ${TOKENS} tokens`, async () => {
    const zoo = join(root, 'zoo-moe');
    const merged = await cli(['merge', 'public/zoo/moe-random.yml', zoo, '--models-dir', 'public', '--gguf', 'q4_0']);
    expect(merged.code, merged.stderr).toBe(0);
    const args = ['--prompt', 'Once upon a time', '--temperature', '0', '--json', '--max-tokens', String(TOKENS)];
    await expectSameIdsAsCpu(zoo, args, TOKENS);
    await expectSameIdsAsCpu(join(zoo, 'model.q4_0.gguf'), args, TOKENS);
  }, 300_000); // SwiftShader runs the zoo MoE at ~5 tokens/s: ~40 s here for both files

  it('says clearly when no adapter can be found', async () => {
    // No SwiftShader fallback and no Vulkan driver the loader may use: no adapter on any machine.
    const env = {
      ...process.env,
      MOE_STUDIO_SWIFTSHADER_DIR: join(root, 'no-chromium'),
      VK_ICD_FILENAMES: join(root, 'no-driver.json'),
    };
    await writeFile(join(root, 'no-driver.json'), '{}');
    const run = await cli(['generate', join(root, 'dense-f32.gguf'), '--ids', '1,2', '--backend', 'webgpu'], env);
    expect(run.code).toBe(1);
    const lastLine = run.stderr.trim().split('\n').at(-1);
    if (missing?.source.includes('not installed')) {
      expect(lastLine).toMatch(missing);
      return;
    }
    expect(lastLine).toBe(
      "moe-studio: BackendError: backend 'webgpu' is not available here: webgpu: requestAdapter() returned null (no WebGPU adapter); " +
        `Dawn found no Vulkan driver and no SwiftShader fallback (${join(root, 'no-chromium', 'vk_swiftshader_icd.json')} does not exist: ` +
        'install chromium, or set MOE_STUDIO_SWIFTSHADER_DIR to a folder with libvulkan.so.1 and vk_swiftshader_icd.json)',
    );
  });
});
