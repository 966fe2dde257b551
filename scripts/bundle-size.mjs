/**
 * The production build's sizes, for the README's table: what the first load fetches (the entry
 * script of dist/index.html and every chunk it imports statically, followed transitively), the
 * chunks loaded later (lazy pages, the model checker) and the workers, raw and gzip (level 9).
 *
 *   npx vite build && npm run sz:bundle
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const DIST = 'dist';
const ASSETS = join(DIST, 'assets');

const html = readFileSync(join(DIST, 'index.html'), 'utf8');
const entry = /<script type="module"[^>]*src="\/assets\/([^"]+\.js)"/.exec(html)?.[1];
if (!entry) throw new Error('bundle-size: no module script in dist/index.html (run npx vite build first)');

/** Static imports of a built chunk (`import … from "./x.js"`, `import "./x.js"`), not `import("./x.js")`. */
function staticImports(file) {
  const source = readFileSync(join(ASSETS, file), 'utf8');
  return [...source.matchAll(/(?:^|[;}\s])import\s*(?:[\w{}\s,*$]+from\s*)?["']\.\/([^"']+\.js)["']/g)].map(
    (m) => m[1],
  );
}

const firstLoad = new Set();
(function walk(file) {
  if (firstLoad.has(file)) return;
  firstLoad.add(file);
  for (const next of staticImports(file)) walk(next);
})(entry);

const size = (file) => {
  const bytes = readFileSync(join(ASSETS, file));
  return { raw: bytes.byteLength, gzip: gzipSync(bytes, { level: 9 }).byteLength };
};
const kB = (n) => `${(n / 1000).toFixed(1)} kB`;
const chunkName = (file) => file.replace(/-[\w-]{8}\.js$/, '.js');
const rows = readdirSync(ASSETS)
  .filter((f) => f.endsWith('.js'))
  .map((file) => ({
    file,
    when: firstLoad.has(file) ? 'first load' : /worker/.test(file) ? 'worker' : 'on demand',
    ...size(file),
  }))
  .sort((a, b) => a.when.localeCompare(b.when) || b.raw - a.raw);

const total = (when) =>
  rows
    .filter((r) => r.when === when)
    .reduce((t, r) => ({ raw: t.raw + r.raw, gzip: t.gzip + r.gzip }), { raw: 0, gzip: 0 });
console.log('| chunk | loaded | size | gzip |');
console.log('|---|---|---:|---:|');
for (const r of rows) console.log(`| ${chunkName(r.file)} | ${r.when} | ${kB(r.raw)} | ${kB(r.gzip)} |`);
for (const when of ['first load', 'on demand', 'worker']) {
  const t = total(when);
  console.log(`| **all ${when}** | | **${kB(t.raw)}** | **${kB(t.gzip)}** |`);
}
