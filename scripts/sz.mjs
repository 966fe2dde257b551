#!/usr/bin/env node
// Size is a number we watch (STYLE habit 15): lines per source file under src/ and workers/,
// grouped by module, with the files over the soft cap (~400 lines for core files) listed.
// Printed in every CI run so growth is seen when it happens.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOTS = ['src', 'workers'];
const EXT = /\.(ts|tsx|wgsl|wat|mjs)$/;
const SOFT_CAP = 400;

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (EXT.test(name)) out.push(p);
  }
  return out;
}

const files = ROOTS.flatMap((r) => {
  try {
    return walk(r);
  } catch {
    return [];
  }
});
const rows = files.map((f) => {
  const text = readFileSync(f, 'utf8');
  const lines = text.split('\n').length;
  const isTest = /\.(test|testing)\.tsx?$/.test(f);
  const parts = relative('.', f).split('/');
  const module = parts[0] === 'src' && parts[1] === 'core' ? parts.slice(0, 3).join('/') : parts.slice(0, 2).join('/');
  return { f, lines, isTest, module };
});

const byModule = new Map();
for (const r of rows) {
  const m = byModule.get(r.module) ?? { files: 0, src: 0, test: 0 };
  m.files += 1;
  if (r.isTest) m.test += r.lines;
  else m.src += r.lines;
  byModule.set(r.module, m);
}
console.log('| module | files | source lines | test lines |');
console.log('|---|---:|---:|---:|');
let totalSrc = 0,
  totalTest = 0;
for (const [m, v] of [...byModule].sort()) {
  console.log(`| ${m} | ${v.files} | ${v.src} | ${v.test} |`);
  totalSrc += v.src;
  totalTest += v.test;
}
console.log(`| **total** | ${rows.length} | ${totalSrc} | ${totalTest} |`);
const big = rows.filter((r) => !r.isTest && r.lines > SOFT_CAP).sort((a, b) => b.lines - a.lines);
if (big.length) {
  console.log(`\nOver the ${SOFT_CAP}-line soft cap:`);
  for (const r of big) console.log(`  ${r.lines}\t${r.f}`);
}
