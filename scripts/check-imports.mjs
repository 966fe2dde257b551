#!/usr/bin/env node
// The import graph holds the house's shape (STYLE "let a machine hold the shape"): it fails
// on an import cycle (type-only imports included: a cycle of types is still two files that
// cannot be read apart) and on an arrow that points up the layers of docs/ARCHITECTURE.md.
// Test files may import what they test from any layer, so they are left out of both checks.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

const ROOTS = ['src', 'workers'];
const SOURCE = /\.(ts|tsx)$/;
const TEST = /\.(test|browser\.test|testing)\.tsx?$|\.testing\.ts$/;

/** Who may import whom. A folder's rank: a file may import files of its own rank or lower. */
const LAYERS = [
  // core, bottom up: each folder may import the folders listed before it
  ['src/core/errors.ts', 'src/core/tensor.ts', 'src/core/io'],
  ['src/core/quant'],
  ['src/core/formats'],
  ['src/core/tokenizer'],
  ['src/core/model'],
  ['src/core/runtime'],
  ['src/core/merge'],
  ['src/core/store'],
  ['src/core/hub'],
  ['src/core/calibrate'],
  // above the core
  ['src/cli'],
  ['workers'],
  // the library API (createEngine): drives workers/engine from a page, or EngineHost in Node via src/cli's node:fs
  // adapters; the Chat store (src/state/chat.ts) is its first user, so it ranks below src/state
  ['src/api'],
  ['src/state'],
  ['src/ui'],
];
/** Layers that must not see each other although one ranks above the other. */
const FORBIDDEN = [
  ['src/cli', 'workers'],
  ['src/cli', 'src/state'],
  ['src/cli', 'src/ui'],
  ['workers', 'src/cli'],
  ['src/state', 'src/cli'],
  ['src/ui', 'src/cli'],
];

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (SOURCE.test(name) && !name.endsWith('.generated.ts')) out.push(p);
  }
  return out;
}

function layerOf(file) {
  let best = -1;
  let bestLen = -1;
  LAYERS.forEach((group, rank) => {
    for (const prefix of group) {
      if ((file === prefix || file.startsWith(`${prefix}/`)) && prefix.length > bestLen) {
        best = rank;
        bestLen = prefix.length;
      }
    }
  });
  return { rank: best, folder: best < 0 ? file : LAYERS[best].find((p) => file === p || file.startsWith(`${p}/`)) };
}

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

const files = ROOTS.flatMap((r) => walk(r)).map((f) => relative('.', f));
const known = new Set(files);
const graph = new Map();
for (const file of files) {
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  const deps = [];
  for (const m of text.matchAll(IMPORT)) {
    const target = normalize(join(dirname(file), m[1] ?? m[2]));
    if (known.has(target)) deps.push(target);
  }
  graph.set(file, deps);
}

const problems = [];
for (const [file, deps] of graph) {
  if (TEST.test(file)) continue;
  const from = layerOf(file);
  for (const dep of deps) {
    const to = layerOf(dep);
    const forbidden = FORBIDDEN.some(([a, b]) => from.folder.startsWith(a) && to.folder.startsWith(b));
    if (to.rank > from.rank || forbidden)
      problems.push(`upward import: ${file} → ${dep} (${from.folder} may not import ${to.folder})`);
  }
}

// Tarjan's strongly connected components over non-test files: every component of more than one file is a cycle.
let index = 0;
const stack = [];
const info = new Map();
function connect(v) {
  info.set(v, { index, low: index, onStack: true });
  index++;
  stack.push(v);
  for (const w of graph.get(v) ?? []) {
    if (TEST.test(w)) continue;
    if (!info.has(w)) {
      connect(w);
      info.get(v).low = Math.min(info.get(v).low, info.get(w).low);
    } else if (info.get(w).onStack) info.get(v).low = Math.min(info.get(v).low, info.get(w).index);
  }
  if (info.get(v).low === info.get(v).index) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      info.get(w).onStack = false;
      component.push(w);
    } while (w !== v);
    if (component.length > 1) problems.push(`import cycle: ${component.sort().join(' ⇄ ')}`);
  }
}
for (const file of files) if (!TEST.test(file) && !info.has(file)) connect(file);

const edges = [...graph.values()].reduce((n, d) => n + d.length, 0);
if (problems.length) {
  console.error(problems.join('\n'));
  console.error(`check-imports: ${problems.length} problem(s) in ${files.length} files, ${edges} imports`);
  process.exit(1);
}
console.log(`check-imports: ${files.length} files, ${edges} imports, no cycle, no upward import`);
