import { TokenizerConfigError, expectInt, expectObject, expectString, optBool } from './errors';

/** One entry of tokenizer.json `added_tokens`. */
export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  lstrip: boolean;
  rstrip: boolean;
  singleWord: boolean;
  normalized: boolean;
}

export function parseAddedToken(value: unknown, field: string): AddedToken {
  const obj = expectObject(value, field);
  const special = optBool(obj.special, `${field}.special`, false);
  const content = expectString(obj.content, `${field}.content`);
  if (content.length === 0) throw new TokenizerConfigError(`${field}.content`, 'an added token cannot be empty');
  return {
    id: expectInt(obj.id, `${field}.id`),
    content,
    special,
    lstrip: optBool(obj.lstrip, `${field}.lstrip`, false),
    rstrip: optBool(obj.rstrip, `${field}.rstrip`, false),
    singleWord: optBool(obj.single_word, `${field}.single_word`, false),
    normalized: optBool(obj.normalized, `${field}.normalized`, !special),
  };
}

/** A piece of input: plain text still to be tokenized, or an added token already resolved. */
export type Segment = { text: string; token?: undefined } | { text?: undefined; token: AddedToken };

interface TrieNode {
  children: Map<number, TrieNode>;
  token: AddedToken | null;
}

const WHITESPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u;
/** Word characters for `single_word` (Rust: alphanumeric or '_'). */
const WORD_CHAR = /[\p{Alphabetic}\p{N}_]/u;

function lastCodePoint(text: string, end: number): string | undefined {
  if (end <= 0) return undefined;
  const lo = text.charCodeAt(end - 1);
  if (lo >= 0xdc00 && lo <= 0xdfff && end >= 2) {
    const hi = text.charCodeAt(end - 2);
    if (hi >= 0xd800 && hi <= 0xdbff) return text.slice(end - 2, end);
  }
  return text[end - 1];
}

function firstCodePoint(text: string, start: number): string | undefined {
  if (start >= text.length) return undefined;
  return String.fromCodePoint(text.codePointAt(start)!);
}

/**
 * Finds added tokens in text: leftmost match first and, among matches starting at the same place, the
 * longest; matches never overlap. Honours `single_word` (the match must not touch a word character on
 * either side, otherwise it is ignored), `lstrip` / `rstrip` (whitespace on that side is swallowed into
 * the token).
 */
export class AddedTokenMatcher {
  private readonly root: TrieNode = { children: new Map(), token: null };
  readonly size: number;

  constructor(tokens: readonly AddedToken[]) {
    for (const t of tokens) {
      let node = this.root;
      for (let k = 0; k < t.content.length; k++) {
        const c = t.content.charCodeAt(k);
        let child = node.children.get(c);
        if (!child) {
          child = { children: new Map(), token: null };
          node.children.set(c, child);
        }
        node = child;
      }
      if (!node.token) node.token = t;
    }
    this.size = tokens.length;
  }

  split(text: string, out: Segment[]): void {
    if (this.size === 0) {
      if (text.length > 0) out.push({ text });
      return;
    }
    let emitted = 0; // end of what has been pushed so far
    let i = 0;
    const n = text.length;
    while (i < n) {
      let node: TrieNode | undefined = this.root.children.get(text.charCodeAt(i));
      if (!node) {
        i++;
        continue;
      }
      let best: AddedToken | null = null;
      let bestEnd = i;
      let j = i + 1;
      for (;;) {
        if (node.token) {
          best = node.token;
          bestEnd = j;
        }
        if (j >= n) break;
        node = node.children.get(text.charCodeAt(j));
        if (!node) break;
        j++;
      }
      if (!best) {
        i++;
        continue;
      }
      let start = i;
      let stop = bestEnd;
      i = bestEnd;
      if (best.singleWord) {
        const before = lastCodePoint(text, start);
        const after = firstCodePoint(text, stop);
        if ((before !== undefined && WORD_CHAR.test(before)) ||
          (after !== undefined && WORD_CHAR.test(after))) continue;
      }
      if (best.lstrip) {
        let s = start;
        while (s > emitted) {
          const c = lastCodePoint(text, s)!;
          if (!WHITESPACE.test(c)) break;
          s -= c.length;
        }
        start = s;
      }
      if (best.rstrip) {
        while (stop < n) {
          const c = firstCodePoint(text, stop)!;
          if (!WHITESPACE.test(c)) break;
          stop += c.length;
        }
        i = stop;
      }
      if (start > emitted) out.push({ text: text.slice(emitted, start) });
      out.push({ token: best });
      emitted = stop;
    }
    if (emitted < n) out.push({ text: text.slice(emitted) });
  }
}
