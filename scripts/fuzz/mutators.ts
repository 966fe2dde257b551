/**
 * Seeded, deterministic mutators for the fuzz suite: one PRNG stream per case (a hash of the
 * run seed, the target and the case index), byte-level mutations for binary formats, and
 * structure-aware mutations for JSON, YAML and template text. No Math.random anywhere.
 */

/** mulberry32: small, fast, and the same stream on every platform. */
export function rngFor(seed: number, target: string, index: number): Rng {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const c of `${target}#${index}`) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  let state = h;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
    chance: (p: number) => next() < p,
  };
}

export interface Rng {
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

/** Numbers at the edges: zero, signs, powers of two around int32/uint32/2^53, floats that overflow. */
export const BOUNDARY_NUMBERS = [
  0,
  -1,
  1,
  2,
  3,
  7,
  255,
  -2147483648,
  2147483647,
  2 ** 31,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 53),
  1e9,
  1e308,
  -1e308,
  0.5,
  1e-300,
  -0.0001,
] as const;

/** Texts that are not JSON numbers but parse as special values, or do not parse at all. */
const SPECIAL_NUMBER_TEXT = ['1e400', '-1e400', 'NaN', 'Infinity', '-0', '0x10', '1e-400', '00', '9'.repeat(400)];

// ── bytes ──────────────────────────────────────────────────────────────────────────────

const U32_VALUES = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe, 16, 1 << 20, 1 << 30];

/** One to four byte-level mutations: flips, boundary bytes, boundary u32/u64/f32, insert, delete, duplicate, truncate. */
export function mutateBytes(rng: Rng, input: Uint8Array, hotRanges: [number, number][] = []): Uint8Array {
  let bytes: Uint8Array = input.slice();
  const rounds = 1 + rng.int(4);
  for (let r = 0; r < rounds; r++) {
    // Most mutations land in the header (hotRanges), where the structure lives.
    const region = hotRanges.length > 0 && rng.chance(0.8) ? rng.pick(hotRanges) : [0, bytes.byteLength];
    const lo = Math.min(region[0]!, bytes.byteLength);
    const hi = Math.max(lo, Math.min(region[1]!, bytes.byteLength));
    const at = lo + rng.int(Math.max(1, hi - lo));
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    switch (rng.int(9)) {
      case 0:
        if (at < bytes.byteLength) bytes[at]! ^= 1 << rng.int(8);
        break;
      case 1:
        if (at < bytes.byteLength) bytes[at] = rng.pick([0, 0xff, 0x7f, 0x80, 0x20, 0x22, 0x7b, 0x5b]);
        break;
      case 2:
        if (at + 4 <= bytes.byteLength) view.setUint32(at & ~3, rng.pick(U32_VALUES), true);
        break;
      case 3:
        if (at + 8 <= bytes.byteLength)
          view.setBigUint64(
            at & ~7,
            rng.pick([0n, 1n, 2n ** 31n, 2n ** 32n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n]),
            true,
          );
        break;
      case 4:
        if (at + 4 <= bytes.byteLength)
          view.setFloat32(at & ~3, rng.pick([Number.NaN, Infinity, -Infinity, -1, 1e30, 0]), true);
        break;
      case 5: {
        const insert = Uint8Array.from({ length: 1 + rng.int(16) }, () => rng.int(256));
        bytes = concat(bytes.subarray(0, at), insert, bytes.subarray(at));
        break;
      }
      case 6:
        bytes = concat(bytes.subarray(0, at), bytes.subarray(Math.min(bytes.byteLength, at + 1 + rng.int(32))));
        break;
      case 7: {
        const len = 1 + rng.int(64);
        bytes = concat(bytes.subarray(0, at + len), bytes.subarray(at, at + len), bytes.subarray(at + len));
        break;
      }
      default:
        bytes = bytes.slice(0, rng.int(bytes.byteLength + 1));
    }
  }
  return bytes;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

// ── JSON values ───────────────────────────────────────────────────────────────────────

type Json = unknown;

/** Every path (list of keys/indices) into a JSON value, up to `limit` paths. */
function paths(value: Json, limit = 4000): (string | number)[][] {
  const out: (string | number)[][] = [];
  const walk = (v: Json, path: (string | number)[]) => {
    if (out.length >= limit) return;
    out.push(path);
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
  };
  walk(value, []);
  return out;
}

function replaceAt(root: Json, path: (string | number)[], make: (old: Json) => Json): Json {
  if (path.length === 0) return make(root);
  let node = root as Record<string | number, Json>;
  if (typeof node !== 'object' || node === null) return root;
  for (const key of path.slice(0, -1)) {
    node = node[key] as Record<string | number, Json>;
    if (typeof node !== 'object' || node === null) return root; // an earlier edit replaced this subtree
  }
  const last = path[path.length - 1]!;
  node[last] = make(node[last]);
  return root;
}

function replacement(rng: Rng, old: Json): Json {
  switch (rng.int(9)) {
    case 0:
    case 1:
      return rng.pick(BOUNDARY_NUMBERS);
    case 2:
      return typeof old === 'number' ? old * rng.pick([2, 1000, -1, 0.5]) + rng.pick([0, 1, -1]) : old;
    case 3:
      return rng.pick([null, true, false, '', 'x', [], {}, [1, 2], { a: 1 }, '__proto__', 'constructor']);
    case 4:
      return typeof old === 'number' ? String(old) : typeof old === 'string' ? old.length : [old];
    case 5: {
      let deep: Json = old;
      for (let i = 0, n = rng.pick([10, 100, 2000]); i < n; i++) deep = rng.chance(0.5) ? [deep] : { a: deep };
      return deep;
    }
    case 6:
      return 'A'.repeat(rng.pick([1000, 100_000, 2_000_000]));
    case 7:
      return Array.from({ length: rng.pick([100, 10_000, 200_000]) }, (_, i) => (rng.chance(0.5) ? i : `t${i}`));
    default:
      return undefined; // deletes the key (JSON.stringify drops undefined)
  }
}

/** A structurally mutated copy of `seed` (1–3 edits), serialised; sometimes also mutated as text. */
export function mutateJson(rng: Rng, seed: Json, favour: string[] = []): string {
  let value = structuredClone(seed);
  const all = paths(value);
  const favoured = favour.length ? all.filter((p) => favour.includes(String(p[p.length - 1]))) : [];
  for (let i = 0, n = 1 + rng.int(3); i < n; i++) {
    const pool = favoured.length && rng.chance(0.6) ? favoured : all;
    const path = rng.pick(pool);
    if (rng.chance(0.1) && path.length > 0) {
      // add a key the reader may look up: a prototype name
      value = replaceAt(value, path.slice(0, -1), (o) =>
        o && typeof o === 'object' && !Array.isArray(o)
          ? { ...o, [rng.pick(['__proto__', 'constructor', 'toString'])]: rng.pick(BOUNDARY_NUMBERS) }
          : o,
      );
      continue;
    }
    value = replaceAt(value, path, (old) => replacement(rng, old));
  }
  let text = JSON.stringify(value) ?? 'null';
  if (rng.chance(0.25)) text = mutateText(rng, text);
  return text;
}

// ── text ──────────────────────────────────────────────────────────────────────────────

/** Character-level edits plus splices of `snippets` (format-specific fragments). */
export function mutateText(rng: Rng, text: string, snippets: readonly string[] = []): string {
  let out = text;
  for (let i = 0, n = 1 + rng.int(3); i < n; i++) {
    const at = rng.int(out.length + 1);
    switch (rng.int(snippets.length ? 7 : 5)) {
      case 0:
        out = out.slice(0, at) + out.slice(at + 1 + rng.int(20));
        break;
      case 1:
        out =
          out.slice(0, at) +
          rng.pick(['{', '}', '[', ']', '"', ':', ',', '\\', '\n', '\u0000', '\ud800']) +
          out.slice(at);
        break;
      case 2: {
        const m = /-?\d+(\.\d+)?(e[+-]?\d+)?/g;
        const numbers = [...out.matchAll(m)];
        if (numbers.length) {
          const hit = rng.pick(numbers);
          const value = rng.chance(0.5) ? rng.pick(SPECIAL_NUMBER_TEXT) : String(rng.pick(BOUNDARY_NUMBERS));
          out = out.slice(0, hit.index) + value + out.slice(hit.index! + hit[0].length);
        }
        break;
      }
      case 3: {
        const len = 1 + rng.int(40);
        out = out.slice(0, at + len) + out.slice(at, at + len) + out.slice(at + len);
        break;
      }
      case 4:
        out = out.slice(0, rng.int(out.length + 1));
        break;
      default:
        out = out.slice(0, at) + rng.pick(snippets) + out.slice(at);
    }
  }
  return out;
}
