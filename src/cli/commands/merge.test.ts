import { createServer, type Server } from 'node:http';
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FileSet } from '../../core/io/byte-source.ts';
import { openSafetensorsFolder } from '../../core/formats/safetensors-folder.ts';
import { randomHfFolder, testingDenseSpec } from '../../core/merge/models.testing.ts';
import { nodeDirFileSet } from '../node-io.ts';
import { parseShardSize, runMergeCommand } from './merge.ts';

let dir: string;
let server: Server;
let hubUrl: string;
const requests: string[] = [];

async function writeFolder(files: FileSet, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const f of await files.list()) {
    const src = await files.open(f);
    await writeFile(join(to, f), await src.read(0, src.size));
  }
}

/** A static HF-layout server: /<org>/<name>/resolve/main/<file>, HEAD and Range, 404 otherwise. */
function startHub(root: string): Promise<string> {
  server = createServer(async (req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const m = /^\/(.+)\/resolve\/main\/(.+)$/.exec(req.url ?? '');
    const body = m
      ? await readFile(join(root, decodeURIComponent(m[1]!), decodeURIComponent(m[2]!))).catch(() => undefined)
      : undefined;
    if (!body) {
      res.writeHead(404).end('not found');
      return;
    }
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-length': body.byteLength }).end();
      return;
    }
    if (range) {
      const [a, b] = [Number(range[1]), Number(range[2])];
      res
        .writeHead(206, { 'content-range': `bytes ${a}-${b}/${body.byteLength}`, 'content-length': b - a + 1 })
        .end(body.subarray(a, b + 1));
    } else res.writeHead(200, { 'content-length': body.byteLength }).end(body);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      resolve(`http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`);
    }),
  );
}

const YAML = `base_model: org/base
gate_mode: hidden
experts:
  - source_model: org/a
    positive_prompts: ["Once upon a time"]
  - source_model: org/b
    positive_prompts: ["def add(a, b):"]
`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'moe-merge-cli-'));
  const spec = testingDenseSpec();
  for (const [name, seed] of [
    ['base', 1],
    ['a', 2],
    ['b', 3],
  ] as const) {
    await writeFolder(
      (await randomHfFolder(`org/${name}`, seed, spec, 'bf16')).files,
      join(dir, 'models', 'org', name),
    );
  }
  await writeFile(join(dir, 'moe.yml'), YAML);
  hubUrl = await startHub(join(dir, 'models'));
});

afterAll(async () => {
  server?.close();
  await rm(dir, { recursive: true, force: true });
});

function captureStderr(): { text: () => string; restore: () => void } {
  let out = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  const outSpy = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  return {
    text: () => out,
    restore: () => {
      spy.mockRestore();
      outSpy.mockRestore();
    },
  };
}

describe('moe-studio merge', () => {
  it('merges a models-dir config into an HF folder with shards, an index and the verbatim YAML', async () => {
    const out = join(dir, 'out-local');
    const err = captureStderr();
    const code = await runMergeCommand([
      join(dir, 'moe.yml'),
      out,
      '--models-dir',
      join(dir, 'models'),
      '--out-shard-size',
      '30K',
    ]).finally(err.restore);
    expect(code, err.text()).toBe(0);
    const files = (await readdir(out)).sort();
    expect(files).toContain('model.safetensors.index.json');
    expect(files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f)).length).toBeGreaterThan(1);
    expect(await readFile(join(out, 'mergekit_moe_config.yml'), 'utf8')).toBe(YAML);
    expect(JSON.parse(await readFile(join(out, 'config.json'), 'utf8')).num_local_experts).toBe(2);
    expect((await openSafetensorsFolder(nodeDirFileSet(out))).names()).toContain(
      'model.layers.1.block_sparse_moe.gate.weight',
    );
    expect(err.text()).toMatch(/plan: Mixtral \(classic\) · 2 experts/);
  });

  it('fetches models from --hub with Range reads and gives the same tensors', async () => {
    const out = join(dir, 'out-hub');
    requests.length = 0;
    const err = captureStderr();
    const code = await runMergeCommand([
      join(dir, 'moe.yml'),
      out,
      '--models-dir',
      join(dir, 'nowhere'),
      '--hub',
      hubUrl,
    ]).finally(err.restore);
    expect(code, err.text()).toBe(0);
    expect(requests.some((r) => r.startsWith('GET /org/a/resolve/main/model.safetensors'))).toBe(true);
    const local = await openSafetensorsFolder(nodeDirFileSet(join(dir, 'out-local')));
    const hub = await openSafetensorsFolder(nodeDirFileSet(out));
    for (const name of [
      'model.layers.0.block_sparse_moe.experts.1.w2.weight',
      'model.layers.1.block_sparse_moe.gate.weight',
    ]) {
      expect(Array.from((await hub.readTensor(name)).data)).toEqual(Array.from((await local.readTensor(name)).data));
    }
  });

  it('a missing hub model fails with exit 1 and an error naming the URL', async () => {
    await writeFile(join(dir, 'missing.yml'), YAML.replace('source_model: org/b\n', 'source_model: org/nope\n'));
    const { main } = await import('../main.ts');
    const err = captureStderr();
    const code = await main(['merge', join(dir, 'missing.yml'), join(dir, 'out-missing'), '--hub', hubUrl]).finally(
      err.restore,
    );
    expect(code).toBe(1);
    expect(err.text()).toContain(`${hubUrl}/org/nope/resolve/main/config.json`);
  });

  it('an invalid config exits 1 with mergekit messages; the flag lifts the same-model rule', async () => {
    const same = YAML.replace('source_model: org/b', 'source_model: org/a');
    await writeFile(join(dir, 'same.yml'), same);
    let err = captureStderr();
    const code = await runMergeCommand([
      join(dir, 'same.yml'),
      join(dir, 'out-same'),
      '--models-dir',
      join(dir, 'models'),
    ]).finally(err.restore);
    expect(code).toBe(1);
    expect(err.text()).toContain('All of your expert models are the same.');
    err = captureStderr();
    const ok = await runMergeCommand([
      join(dir, 'same.yml'),
      join(dir, 'out-same'),
      '--models-dir',
      join(dir, 'models'),
      '--i-understand-this-is-not-useful-without-training',
    ]).finally(err.restore);
    expect(ok, err.text()).toBe(0);
  });

  it('rule 35: mergekit merge-only flags are accepted and ignored; --no-copy-tokenizer and --random-seed take effect', async () => {
    await writeFile(join(dir, 'random.yml'), YAML.replace('gate_mode: hidden', 'gate_mode: random'));
    const routers: string[] = [];
    for (const seed of ['1', '2']) {
      const out = join(dir, `out-seed${seed}`);
      const err = captureStderr();
      const code = await runMergeCommand([
        join(dir, 'random.yml'),
        out,
        '--models-dir',
        join(dir, 'models'),
        '--allow-crimes',
        '--lazy-unpickle',
        '--clone-tensors',
        '--cuda',
        '--no-copy-tokenizer',
        '--random-seed',
        seed,
      ]).finally(err.restore);
      expect(code, err.text()).toBe(0);
      expect((await readdir(out)).some((f) => f.startsWith('tokenizer'))).toBe(false);
      routers.push(
        Buffer.from(
          (
            await (
              await openSafetensorsFolder(nodeDirFileSet(out))
            ).readTensor('model.layers.0.block_sparse_moe.gate.weight')
          ).data,
        ).toString('hex'),
      );
    }
    expect(routers[0]).not.toBe(routers[1]);
  });

  it('--gguf writes OUT_DIR/model.<type>.gguf that loads back as the same MoE', async () => {
    const out = join(dir, 'out-gguf');
    const err = captureStderr();
    const code = await runMergeCommand([
      join(dir, 'moe.yml'),
      out,
      '--models-dir',
      join(dir, 'models'),
      '--gguf',
      'f32',
    ]).finally(err.restore);
    expect(code, err.text()).toBe(0);
    const { loadGgufModel } = await import('../../core/model/gguf-model.ts');
    const { nodeFileSource } = await import('../node-io.ts');
    const { dequantize } = await import('../../core/quant/convert.ts');
    const gguf = await loadGgufModel(await nodeFileSource(join(out, 'model.f32.gguf')));
    expect(gguf.weights.spec.moe).toMatchObject({ experts: 2, expertsPerToken: 2 });
    const router = await (await openSafetensorsFolder(nodeDirFileSet(out))).readTensor(
      'model.layers.1.block_sparse_moe.gate.weight',
    );
    expect(Array.from(dequantize(gguf.weights.layers[1]!.moe!.router))).toEqual(Array.from(dequantize(router)));
  });

  it('--gguf for a Qwen MoE merge (norm_topk_prob true) is refused before anything is merged, naming the reason', async () => {
    const qwenYaml = `${YAML}shared_experts:\n  - source_model: org/base\n    positive_prompts: ["hello"]\n`;
    await writeFile(join(dir, 'qwen.yml'), qwenYaml);
    const out = join(dir, 'out-qwen-gguf');
    const args = [join(dir, 'qwen.yml'), out, '--models-dir', join(dir, 'models'), '--gguf', 'q8_0'];
    const err = captureStderr();
    const refusal = runMergeCommand(args).finally(err.restore);
    await expect(refusal).rejects.toMatchObject({
      name: 'ConfigError',
      message: expect.stringMatching(
        /^merge: --gguf q8_0 refused before merging.*qwen2moe never renormalizes.*norm_topk_prob: true.*HF folder/,
      ),
    });
    expect(err.text()).not.toMatch(/tensors:/); // no tensor was merged
    expect(await readdir(out).catch(() => [])).toEqual([]);
    // The same merge without --gguf builds the Qwen MoE HF folder.
    const ok = captureStderr();
    const code = await runMergeCommand(args.slice(0, -2)).finally(ok.restore);
    expect(code, ok.text()).toBe(0);
    expect(JSON.parse(await readFile(join(out, 'config.json'), 'utf8'))).toMatchObject({
      model_type: 'qwen2_moe',
      norm_topk_prob: true,
    });
  });

  it('bad usage exits 2 through main; --out-shard-size takes K/M/B (×1000)', async () => {
    const { main } = await import('../main.ts');
    const err = captureStderr();
    expect(await main(['merge', 'only-one-arg']).finally(err.restore)).toBe(2);
    expect(parseShardSize('1B')).toBe(1_000_000_000);
    expect(parseShardSize('500M')).toBe(500_000_000);
    expect(parseShardSize('2048')).toBe(2048);
    expect(() => parseShardSize('1GB')).toThrow(/--out-shard-size/);
  });
});
