/**
 * npm run fuzz -- [--cases 10000] [--seed 1] [--workers 2] [--deadline-ms 5000] [--memory-mb 512]
 *                 [--budget-s 3600] [--targets a,b] [--out docs/reliability.md] [--only target:index]
 *
 * Runs every fuzz target (targets.ts) for --cases seeded cases each, in a pool of children
 * (pool.ts), prints the outcome table and writes it with the command line to --out, between
 * the FUZZ_BEGIN and FUZZ_END marker lines when the file has them (the rest of the file, such
 * as docs/reliability.md's checklist, is kept as written).
 * --only reproduces one case in this process and prints its error with the stack.
 * Exit code 1 when any case was an untyped crash, a hang or an out-of-memory.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { rngFor } from './mutators.ts';
import { formatTable, runFuzz, type FuzzResult } from './pool.ts';
import { FUZZ_TARGETS } from './targets.ts';

const FUZZ_BEGIN = '<!-- fuzz:begin (written by scripts/fuzz/main.ts; do not edit by hand) -->';
const FUZZ_END = '<!-- fuzz:end -->';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '10000' },
    seed: { type: 'string', default: '1' },
    workers: { type: 'string', default: '2' },
    'deadline-ms': { type: 'string', default: '5000' },
    'memory-mb': { type: 'string', default: '512' },
    'budget-s': { type: 'string', default: '3600' },
    targets: { type: 'string' },
    out: { type: 'string', default: 'docs/reliability.md' },
    only: { type: 'string' },
  },
});

if (values.only) {
  const [name, index] = values.only.split(':');
  const target = FUZZ_TARGETS.find((t) => t.name === name);
  if (!target) throw new Error(`no target '${name}' (${FUZZ_TARGETS.map((t) => t.name).join(', ')})`);
  try {
    console.log(await target.run(rngFor(Number(values.seed), name!, Number(index))));
  } catch (e) {
    console.log(e);
  }
  process.exit(0);
}

const targets = values.targets ? values.targets.split(',') : FUZZ_TARGETS.map((t) => t.name);
const options = {
  targets,
  cases: Number(values.cases),
  seed: Number(values.seed),
  workers: Number(values.workers),
  deadlineMs: Number(values['deadline-ms']),
  memoryMb: Number(values['memory-mb']),
  budgetMs: Number(values['budget-s']) * 1000,
};
let shown = 0;
const result = await runFuzz({
  ...options,
  onProgress(done, total) {
    if (done - shown >= 500 || done === total) {
      shown = done;
      process.stderr.write(`fuzz: ${done}/${total} cases\n`);
    }
  },
});
const table = formatTable(result);
console.log(table);
const command = `npm run fuzz -- ${process.argv.slice(2).join(' ')}`.trim();
writeFileSync(values.out!, spliceReport(values.out!, report(result, table, command)));
const bad = [...result.stats.values()].reduce((n, s) => n + s.untyped + s.hang + s.oom, 0);
process.exit(bad > 0 ? 1 : 0);

/** The file at `path` with its marked section replaced by `section` (appended when it has none). */
function spliceReport(path: string, section: string): string {
  const marked = `${FUZZ_BEGIN}\n${section}${FUZZ_END}\n`;
  if (!existsSync(path)) return `# Reliability: the fuzz suite\n\n${marked}`;
  const text = readFileSync(path, 'utf8');
  const begin = text.indexOf(FUZZ_BEGIN);
  const end = text.indexOf(FUZZ_END);
  if (begin < 0 || end < begin) return `${text.trimEnd()}\n\n${marked}`;
  return text.slice(0, begin) + marked + text.slice(end + FUZZ_END.length).replace(/^\n/, '');
}

function report(r: FuzzResult, tableText: string, commandLine: string): string {
  const lines = [
    '## The fuzz run',
    '',
    `Command: \`${commandLine}\``,
    '',
    `Seed ${options.seed}, ${options.workers} child processes, each case under a ${options.deadlineMs} ms deadline,`,
    `\`--max-old-space-size=${options.memoryMb}\` and an RSS cap of ${options.memoryMb} MB + 256 MB; ${(r.elapsedMs / 1000).toFixed(0)} s wall,`,
    `Node ${process.version}, ${new Date().toISOString().slice(0, 10)}.`,
    r.budgetExhausted
      ? `**The time budget (${options.budgetMs / 1000} s) ran out before ${options.cases} cases per target**: the counts below are what was reached.`
      : `Every target ran its ${options.cases} cases.`,
    '',
    tableText,
    '',
    'Outcomes: *parsed* — accepted end to end (loaded, encoded, one forward step; merged for `merge`); *typed',
    "error* — one of the project's error classes (src/core/errors.ts), or a mergekit or plan issue list; the next column counts typed errors",
    'whose message names none of the input files; *untyped crash* — any other throw or a dead child;',
    '*hang* — past the deadline; *out-of-memory* — the heap cap or the RSS cap was hit.',
    '',
    '### Targets',
    '',
    ...FUZZ_TARGETS.filter((t) => options.targets.includes(t.name)).map((t) => `- **${t.name}**: ${t.what}`),
    '',
  ];
  const examples = [...r.stats].flatMap(([t, s]) => s.examples.map((e) => ({ t, ...e })));
  if (examples.length > 0) {
    lines.push('### Examples (reproduce one with `npm run fuzz -- --only TARGET:INDEX --seed SEED`)', '');
    for (const e of examples) lines.push(`- ${e.t}:${e.index} ${e.outcome}: ${e.error.replace(/\|/g, '/')}`);
    lines.push('');
  }
  return lines.join('\n');
}
