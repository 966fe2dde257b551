/**
 * The fuzz suite's smoke run inside `npm test`: every target, a few hundred seeded cases,
 * each in a child under the same heap cap, RSS cap and deadline as the long run
 * (`npm run fuzz`, docs/reliability.md). Any untyped crash, hang or out-of-memory fails.
 */
import { describe, expect, it } from 'vitest';
import { formatTable, runFuzz } from './pool.ts';
import { FUZZ_TARGETS } from './targets.ts';

const SMOKE_CASES = 200;

describe('fuzz smoke (npm run fuzz runs the long version)', () => {
  it(`${SMOKE_CASES} cases per target end parsed or in a typed error naming the file`, async () => {
    const result = await runFuzz({
      targets: FUZZ_TARGETS.map((t) => t.name),
      cases: SMOKE_CASES,
      seed: 20261203,
      workers: 2,
      deadlineMs: 5000,
      memoryMb: 512,
      budgetMs: 240_000,
    });
    const bad = [...result.stats].flatMap(([target, s]) =>
      s.examples
        .filter((e) => e.outcome !== 'typed-unnamed')
        .map((e) => `${target}:${e.index} ${e.outcome}: ${e.error}`),
    );
    expect(bad, formatTable(result)).toEqual([]);
    for (const [target, s] of result.stats) {
      expect(s.untyped + s.hang + s.oom, target).toBe(0);
      expect(s.cases, `${target} ran every case within the budget`).toBe(SMOKE_CASES);
    }
  });

  it('is deterministic: the same seed gives the same outcome for every case', async () => {
    const run = () =>
      runFuzz({
        targets: FUZZ_TARGETS.map((t) => t.name),
        cases: 15,
        seed: 7,
        workers: 2,
        deadlineMs: 5000,
        memoryMb: 512,
        budgetMs: 120_000,
      });
    const [a, b] = [await run(), await run()];
    for (const [target, s] of a.stats) expect(b.stats.get(target)!.outcomes, target).toEqual(s.outcomes);
  });
});
