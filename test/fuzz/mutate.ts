/**
 * Seeded mutations of JSON values, text and bytes for the model-input fuzz tests. Everything is derived from one
 * seed, so a failing case is reproduced by its seed and index alone.
 */

/** A small seeded PRNG (mulberry32). */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

type Json = unknown;
type Container = Record<string, Json> | Json[];

const STRINGS = ['', ' ', 'x', 'BPE', 'default', 'ByteLevel', 'Sequence', '__proto__', 'constructor', '<|pad|>',
  '\u0000', '\uD800', 'ü'.repeat(3), 'a'.repeat(300)];
const NUMBERS = [0, -0, 1, -1, 2, 3, 0.5, 1.5, -2.5, 255, 256, 65535, 2 ** 26, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2,
  -(2 ** 31), 1e21, 1e308, -1e308, 5e-324];
const JSON_PIECES = ['{', '}', '[', ']', ',', ':', '"', '\\', '0', '-', 'e', 'null', '\u0000', '\uFFFF'];

/** A random JSON value: scalars of every kind, empty and small containers. */
export function randomValue(r: Rng, depth = 0): Json {
  switch (r.int(depth > 2 ? 4 : 6)) {
    case 0:
      return r.pick([null, true, false]);
    case 1:
      return r.pick(NUMBERS);
    case 2:
      return r.pick(STRINGS);
    case 3:
      return r.chance(0.5) ? [] : {};
    case 4:
      return Array.from({ length: 1 + r.int(3) }, () => randomValue(r, depth + 1));
    default: {
      const o: Record<string, Json> = {};
      for (let i = 0, n = 1 + r.int(3); i < n; i++) o[r.pick(STRINGS)] = randomValue(r, depth + 1);
      return o;
    }
  }
}

function isContainer(v: Json): v is Container {
  return typeof v === 'object' && v !== null;
}

/** A number close to `x` that often lands on an edge: off by one, negated, halved, scaled or replaced. */
function tweakNumber(r: Rng, x: number): number {
  return r.pick([x + 1, x - 1, -x, x / 2, x * 2, x * 1000, x + 0.5, 0, r.pick(NUMBERS)]);
}

/**
 * A random walk from the root that stops at a container with probability `stop` at each level, so that fields
 * near the top (the interesting ones) are hit about as often as entries of a 1000-entry vocabulary.
 */
function pickContainer(r: Rng, root: Container, stop = 0.35): Container {
  let node = root;
  for (;;) {
    const kids = (Array.isArray(node) ? node : Object.values(node)).filter(isContainer);
    if (kids.length === 0 || r.chance(stop)) return node;
    node = r.pick(kids);
  }
}

/** Applies one random structural change inside `root` (in place). */
export function mutateJsonOnce(r: Rng, root: Container): void {
  const node = pickContainer(r, root);
  if (Array.isArray(node)) {
    const i = r.int(node.length + 1);
    switch (r.int(6)) {
      case 0:
        node.splice(i, 1);
        break;
      case 1:
        node.splice(i, 0, randomValue(r));
        break;
      case 2:
        node.length = r.int(node.length + 1);
        break;
      case 3:
        if (node.length) node.splice(i, 0, node[r.int(node.length)]);
        break;
      default:
        if (i >= node.length) break;
        node[i] = typeof node[i] === 'number' && r.chance(0.7) ? tweakNumber(r, node[i] as number) : randomValue(r);
    }
    return;
  }
  const keys = Object.keys(node);
  const key = keys.length && r.chance(0.85) ? r.pick(keys) : r.pick(STRINGS);
  switch (r.int(5)) {
    case 0:
      delete node[key];
      break;
    case 1: {
      // Swap in the value of a sibling: right shape, wrong place.
      if (keys.length) node[key] = structuredClone(node[r.pick(keys)]);
      break;
    }
    default: {
      const v = node[key];
      if (typeof v === 'number' && r.chance(0.7)) node[key] = tweakNumber(r, v);
      else if (typeof v === 'string' && r.chance(0.5)) {
        node[key] = r.chance(0.5) ? v.slice(0, r.int(v.length + 1)) : v + r.pick(STRINGS);
      }
      else node[key] = randomValue(r);
    }
  }
}

/** A mutated deep copy of `base`: 1–4 structural changes. */
export function mutateJson(r: Rng, base: Json): Json {
  const root = structuredClone(base) as Container;
  for (let i = 0, n = 1 + r.int(4); i < n; i++) mutateJsonOnce(r, root);
  return root;
}

/** Character-level damage to JSON text: cut, delete, duplicate or insert, 1–3 times. */
export function mutateText(r: Rng, text: string): string {
  let s = text;
  for (let k = 0, n = 1 + r.int(3); k < n; k++) {
    const i = r.int(s.length + 1);
    const j = Math.min(s.length, i + 1 + r.int(16));
    switch (r.int(4)) {
      case 0:
        s = s.slice(0, i);
        break;
      case 1:
        s = s.slice(0, i) + s.slice(j);
        break;
      case 2:
        s = s.slice(0, j) + s.slice(i, j) + s.slice(j);
        break;
      default:
        s = s.slice(0, i) + r.pick(JSON_PIECES) + s.slice(i);
    }
  }
  return s;
}

/** Byte-level damage: flip bits, overwrite with edge bytes, 1–4 times. */
export function mutateBytes(r: Rng, bytes: Uint8Array, range = bytes.length): Uint8Array<ArrayBuffer> {
  const out = Uint8Array.from(bytes);
  for (let k = 0, n = 1 + r.int(4); k < n && out.length; k++) {
    const i = r.int(Math.min(range, out.length));
    out[i] = r.chance(0.5) ? out[i] ^ (1 << r.int(8)) : r.pick([0, 0x20, 0x22, 0x7b, 0x7d, 0x7f, 0x80, 0xff]);
  }
  return out;
}

/** A JSON value nested `depth` levels deep through `wrap` (e.g. a Sequence of Sequences). */
export function nest(depth: number, leaf: Json, wrap: (inner: Json) => Json): Json {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = wrap(v);
  return v;
}
