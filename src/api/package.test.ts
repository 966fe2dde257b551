/**
 * The built package as a user gets it: `npm run build:lib` (run here, so the test checks the
 * current sources), then a Node script that imports 'moe-studio' by name, and a TypeScript
 * file type-checked against the package's exported types (NodeNext resolution).
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatCompletionChunk } from './types.ts';
import { mergeZooMoe, REPO } from './zoo-moe.testing.ts';

const run = promisify(execFile);
let moeDir = '';
let removeMoe = async () => {};

beforeAll(async () => {
  await run('nice', ['node', 'scripts/build-lib.mjs'], { cwd: REPO });
  ({ dir: moeDir, remove: removeMoe } = await mergeZooMoe());
}, 300_000);
afterAll(() => removeMoe());

describe("the built package 'moe-studio'", () => {
  it('package.json exports name built files that exist, with types, for Node and for pages', () => {
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
    expect(pkg.name).toBe('moe-studio');
    const root = pkg.exports['.'];
    for (const condition of ['node', 'browser']) {
      expect(Object.keys(root[condition])).toEqual(['types', 'default']);
      for (const file of Object.values(root[condition]) as string[]) {
        expect(file).toMatch(/^\.\/dist-lib\/.*\.(js|d\.ts)$/);
        expect(existsSync(join(REPO, file)), file).toBe(true);
      }
    }
  });

  it('a Node script imports it by name and streams a completion (WASM on two worker_threads)', async () => {
    const { stdout } = await run('node', ['tests/api-consumer/consumer.mjs', moeDir], { cwd: REPO });
    const out = JSON.parse(stdout) as { backend: { name: string }; chunks: ChatCompletionChunk[] };
    expect(out.backend.name).toBe('wasm');
    const last = out.chunks.at(-1)!;
    expect(last.choices[0]!.finish_reason).toBe('length');
    expect(last.usage?.completion_tokens).toBe(8);
    expect(out.chunks).toHaveLength(9);
    for (const c of out.chunks.slice(0, -1)) expect(c.moe.tokens[0]!.layers).toHaveLength(4);
    expect(
      out.chunks
        .map((c) => c.choices[0]!.delta.content ?? '')
        .join('')
        .trim().length,
    ).toBeGreaterThan(0);
  });

  it('docs/api.md shows docs/examples/node-chat.mjs verbatim, and the example runs on the zoo chat model', async () => {
    const example = readFileSync(join(REPO, 'docs/examples/node-chat.mjs'), 'utf8');
    expect(readFileSync(join(REPO, 'docs/api.md'), 'utf8')).toContain(`\`\`\`js\n${example}\`\`\``);
    const { stdout } = await run('node', ['docs/examples/node-chat.mjs', 'public/zoo/chat'], { cwd: REPO });
    expect(stdout).toMatch(/^model public\/zoo\/chat on wasm /);
    const cached = Number(/^cached_tokens: (\d+)$/m.exec(stdout)?.[1]); // the last line, not the usage object
    expect(cached).toBeGreaterThan(10);
  });

  it("its exported types resolve by name and are real types (the consumer's @ts-expect-error lines hold)", async () => {
    const tsc = join(REPO, 'node_modules/.bin/tsc');
    const result = await run(tsc, ['-p', 'tests/api-consumer/tsconfig.json'], { cwd: REPO }).catch(
      (e: { stdout: string; code: number }) => e,
    );
    expect('code' in result ? result.stdout : '').toBe('');
  });
});
