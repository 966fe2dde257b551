import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = join(import.meta.dirname, '..');

describe('first contact', () => {
  it("npm in the project prints no warning about the project's own config", () => {
    // `npm pkg get` reads the project's .npmrc (if any) and package.json, as every npm/npx call does.
    const run = spawnSync('npm', ['pkg', 'get', 'name'], { cwd: REPO, encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toBe('"moe-studio"');
    expect(run.stderr).not.toMatch(/npm warn/i);
  });
});
