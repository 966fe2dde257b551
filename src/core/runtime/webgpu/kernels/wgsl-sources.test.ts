import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GENERATED_FILE, renderWgslSources } from './generate-wgsl-sources.node.ts';

describe('wgsl-sources.generated.ts', () => {
  it('holds exactly the current kernels/*.wgsl files (rerun generate-wgsl-sources.node.ts if not)', () => {
    expect(readFileSync(GENERATED_FILE, 'utf8')).toBe(renderWgslSources());
  });
});
