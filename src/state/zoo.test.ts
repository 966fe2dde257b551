import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseZooIndex } from './zoo.ts';

describe('zoo index', () => {
  it('reads the shipped public/zoo/index.json: one base, experts with domains, files with sizes', () => {
    const index = parseZooIndex(
      JSON.parse(readFileSync(new URL('../../public/zoo/index.json', import.meta.url), 'utf8')),
    );
    expect(index.models.filter((m) => m.role === 'base')).toHaveLength(1);
    for (const m of index.models) {
      expect(m.files.some((f) => f.name === 'config.json')).toBe(true);
      for (const f of m.files) expect(f.size).toBeGreaterThan(0);
    }
  });

  it('rejects a wrong schemaVersion and a model without a role, naming the field', () => {
    expect(() => parseZooIndex({ schemaVersion: 2, models: [] })).toThrow(/schemaVersion 2/);
    expect(() => parseZooIndex({ schemaVersion: 1, models: [{ id: 'x', path: 'x', files: [] }] })).toThrow(
      /models\[0\]\.role/,
    );
  });
});
