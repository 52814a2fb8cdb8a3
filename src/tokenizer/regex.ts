/**
 * Translation of the Oniguruma (Ruby syntax) patterns found in Hugging Face tokenizer.json files into
 * JavaScript `u`-mode regular expressions with the same meaning.
 *
 * What changes on the way:
 *  - `\s \S \d \D \w \W \h \H` get Oniguruma's Unicode meaning (JS `\s` differs at U+0085/U+FEFF, JS `\d`
 *    and `\w` are ASCII only). Inside a character class the positive forms are inlined; negated forms
 *    inside a class are rejected.
 *  - Inline case-insensitive groups `(?i:...)` / `(?i)` are expanded: each letter becomes a class of its
 *    simple case variants (JS before V8 12.5 has no inline modifiers).
 *  - `.` never matches `\n` only (Ruby), `^`/`$` are line anchors at `\n` (Ruby), `\A \z \Z` anchors.
 *  - `\x{HHHH}`, `{,n}`, literal `{`/`}`/`]`, identity escapes that `u` mode rejects.
 *  - `\p{Han}` style script names become `\p{Script=Han}`; `\p{^X}` becomes `\P{X}`.
 *  - Atomic groups `(?>...)` and possessive quantifiers (`*+ ++ ?+`) are approximated by ordinary
 *    (backtracking) ones; none of the common tokenizer patterns depend on the difference.
 * Anything else unusual (nested classes, `&&`, `\G`, `\K`, `(?x)`, ...) raises a clear error.
 */

/** Oniguruma's Unicode `\s` (White_Space): differs from JS `\s` by including U+0085 and excluding U+FEFF. */
const SPACE_MEMBERS = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
/** Oniguruma's Unicode word characters. */
const WORD_MEMBERS = '\\p{L}\\p{M}\\p{Nd}\\p{Pc}';
const HEX_MEMBERS = '0-9a-fA-F';
const DIGIT_MEMBERS = '\\p{Nd}';

/** POSIX bracket classes, Unicode flavour (Oniguruma with a Unicode encoding). */
const POSIX_MEMBERS: Record<string, string> = {
  alpha: '\\p{Alphabetic}',
  digit: DIGIT_MEMBERS,
  alnum: '\\p{Alphabetic}\\p{Nd}',
  upper: '\\p{Uppercase}',
  lower: '\\p{Lowercase}',
  space: SPACE_MEMBERS,
  blank: '\\p{Zs}\\t',
  cntrl: '\\p{Cc}',
  xdigit: HEX_MEMBERS,
  word: WORD_MEMBERS,
  punct: '\\p{P}\\p{S}',
};

/** Property names Oniguruma accepts that JS does not know under the same name. */
const PROPERTY_ALIASES: Record<string, string> = {
  alpha: '\\p{Alphabetic}',
  digit: DIGIT_MEMBERS,
  alnum: '\\p{Alphabetic}\\p{Nd}',
  upper: '\\p{Uppercase}',
  lower: '\\p{Lowercase}',
  space: SPACE_MEMBERS,
  blank: '\\p{Zs}\\t',
  cntrl: '\\p{Cc}',
  xdigit: HEX_MEMBERS,
  word: WORD_MEMBERS,
  punct: '\\p{P}\\p{S}',
  any: '\\u{0}-\\u{10FFFF}',
};

/** Characters that must be backslash-escaped to be literal in a JS `u` pattern outside a class. */
const JS_SYNTAX = new Set('^$\\.*+?()[]{}|/');

/** Extra characters whose simple case folding joins an ASCII/common letter's class (ſ, K, Å, ...). */
const FOLD_EXTRAS = '\u017f\u212a\u212b\u1e9e\u00b5\u03bc\u0345\u1fbe\u03c2\u03d0\u03d1\u03d5\u03d6\u03f0\u03f1' +
  '\u03f5\u1e9b\u1c80\u1c81\u1c82\u1c83\u1c84\u1c85\u1c86\u1c87\u1c88\ua64b\u2126\u03c9';

export class RegexTranslationError extends Error {
  constructor(pattern: string, message: string) {
    super(`cannot translate regex ${JSON.stringify(pattern)}: ${message}`);
    this.name = 'RegexTranslationError';
  }
}

const variantCache = new Map<number, number[]>();

/** Code points that match `cp` case-insensitively under simple case folding (including `cp`). */
export function caseVariants(cp: number): number[] {
  const cached = variantCache.get(cp);
  if (cached) return cached;
  const ch = String.fromCodePoint(cp);
  const candidates = new Set<string>([ch]);
  const lower = ch.toLowerCase();
  const upper = ch.toUpperCase();
  for (const s of [lower, upper, upper.toLowerCase(), lower.toUpperCase()]) {
    if ([...s].length === 1) candidates.add(s);
  }
  for (const extra of FOLD_EXTRAS) candidates.add(extra);
  const probe = new RegExp(`^${escapeLiteral(cp)}$`, 'iu');
  const out: number[] = [];
  for (const c of candidates) if (probe.test(c)) out.push(c.codePointAt(0)!);
  out.sort((a, b) => a - b);
  variantCache.set(cp, out);
  return out;
}

/** A code point written so it is literal in a JS `u` pattern (`u` mode allows `\-` only inside a class). */
function escapeLiteral(cp: number, inClass = false): string {
  const ch = String.fromCodePoint(cp);
  if (JS_SYNTAX.has(ch) || (inClass && ch === '-')) return '\\' + ch;
  if (cp < 0x20 || cp === 0x7f || (cp >= 0xd800 && cp <= 0xdfff)) return `\\u{${cp.toString(16)}}`;
  return ch;
}

/** Escapes arbitrary text so it matches literally (for `Split` patterns given as `{String: ...}`). */
export function escapeRegexLiteral(text: string): string {
  let out = '';
  for (const ch of text) out += escapeLiteral(ch.codePointAt(0)!);
  return out;
}

function propertyExpr(name: string, negated: boolean, inClass: boolean, pattern: string): string {
  const tryJs = (body: string): boolean => {
    try {
      new RegExp(`\\p{${body}}`, 'u');
      return true;
    } catch {
      return false;
    }
  };
  const letter = negated ? 'P' : 'p';
  if (tryJs(name)) return `\\${letter}{${name}}`;
  if (tryJs(`Script=${name}`)) return `\\${letter}{Script=${name}}`;
  const alias = PROPERTY_ALIASES[name.toLowerCase().replace(/[\s_-]/g, '')];
  if (alias !== undefined) {
    if (!negated) return inClass ? alias : `[${alias}]`;
    if (inClass) throw new RegexTranslationError(pattern, `negated property \\P{${name}} inside a character ` +
      `class is not supported`);
    return `[^${alias}]`;
  }
  throw new RegexTranslationError(pattern, `unknown Unicode property \\p{${name}}`);
}

interface Group {
  ci: boolean;
  dotAll: boolean;
}

/**
 * Translates an Oniguruma pattern to the source of an equivalent JS pattern to be compiled with the `u`
 * flag (never `i`, `m` or `s`).
 */
export function translateOnigurumaPattern(pattern: string): string {
  const p = pattern;
  let i = 0;
  let out = '';
  const stack: Group[] = [{ ci: false, dotAll: false }];
  const top = (): Group => stack[stack.length - 1];
  const fail = (msg: string): never => {
    throw new RegexTranslationError(p, `${msg} (at offset ${i})`);
  };

  /** Reads a code point at `i` and advances. */
  const readCp = (): number => {
    const cp = p.codePointAt(i)!;
    i += cp > 0xffff ? 2 : 1;
    return cp;
  };

  /** Parses `\x{..}`, `\xHH`, `\uHHHH`, octal and control escapes; `i` is just past the backslash. */
  const readCodeEscape = (c: string): number | undefined => {
    switch (c) {
      case 't': return 0x09;
      case 'n': return 0x0a;
      case 'r': return 0x0d;
      case 'f': return 0x0c;
      case 'v': return 0x0b;
      case 'a': return 0x07;
      case 'e': return 0x1b;
      case 'x': {
        if (p[i] === '{') {
          const end = p.indexOf('}', i);
          if (end < 0) fail('unterminated \\x{');
          const hex = p.slice(i + 1, end);
          if (!/^[0-9a-fA-F]{1,8}$/.test(hex)) fail(`bad \\x{${hex}}`);
          i = end + 1;
          return parseInt(hex, 16);
        }
        const m = /^[0-9a-fA-F]{1,2}/.exec(p.slice(i));
        if (!m) fail('bad \\x escape');
        i += m![0].length;
        return parseInt(m![0], 16);
      }
      case 'u': {
        const m = /^[0-9a-fA-F]{4}/.exec(p.slice(i));
        if (!m) fail('bad \\u escape');
        i += 4;
        return parseInt(m![0], 16);
      }
      case '0': {
        const m = /^[0-7]{0,2}/.exec(p.slice(i))!;
        i += m[0].length;
        return parseInt('0' + m[0], 8);
      }
      default:
        return undefined;
    }
  };

  /** Emits a literal code point, expanded to its case variants when case-insensitive. */
  const literal = (cp: number, inClass: boolean): string => {
    if (!top().ci) return escapeLiteral(cp, inClass);
    const vars = caseVariants(cp);
    if (vars.length === 1) return escapeLiteral(cp, inClass);
    const body = vars.map((v) => escapeLiteral(v, true)).join('');
    return inClass ? body : `[${body}]`;
  };

  /** Case-expanded range for use inside a class. */
  const rangeLiteral = (lo: number, hi: number): string => {
    let body = `${escapeLiteral(lo, true)}-${escapeLiteral(hi, true)}`;
    if (!top().ci) return body;
    if (hi - lo > 4096) fail('case-insensitive range too large to expand');
    const extra = new Set<number>();
    for (let c = lo; c <= hi; c++) for (const v of caseVariants(c)) if (v < lo || v > hi) extra.add(v);
    for (const v of [...extra].sort((a, b) => a - b)) body += escapeLiteral(v, true);
    return body;
  };

  /** Parses one escape; `i` points at the char after the backslash. Returns JS source. */
  const escape = (inClass: boolean): { src: string; cp?: number } => {
    if (i >= p.length) fail('trailing backslash');
    const c = p[i++];
    switch (c) {
      case 's': return { src: inClass ? SPACE_MEMBERS : `[${SPACE_MEMBERS}]` };
      case 'w': return { src: inClass ? WORD_MEMBERS : `[${WORD_MEMBERS}]` };
      case 'h': return { src: inClass ? HEX_MEMBERS : `[${HEX_MEMBERS}]` };
      case 'd': return { src: '\\p{Nd}' };
      case 'D': return { src: '\\P{Nd}' };
      case 'S':
      case 'W':
      case 'H': {
        if (inClass) fail(`\\${c} inside a character class is not supported`);
        const members = c === 'S' ? SPACE_MEMBERS : c === 'W' ? WORD_MEMBERS : HEX_MEMBERS;
        return { src: `[^${members}]` };
      }
      case 'p':
      case 'P': {
        if (p[i] !== '{') fail(`\\${c} without {name}`);
        const end = p.indexOf('}', i);
        if (end < 0) fail(`unterminated \\${c}{`);
        let name = p.slice(i + 1, end);
        i = end + 1;
        let negated = c === 'P';
        if (name.startsWith('^')) {
          negated = !negated;
          name = name.slice(1);
        }
        return { src: propertyExpr(name, negated, inClass, p) };
      }
      case 'b':
        if (inClass) return { src: '\\u{8}', cp: 8 };
        return { src: `(?:(?<=[${WORD_MEMBERS}])(?![${WORD_MEMBERS}])|(?<![${WORD_MEMBERS}])(?=[${WORD_MEMBERS}]))` };
      case 'B':
        if (inClass) fail('\\B inside a character class');
        return { src: `(?:(?<=[${WORD_MEMBERS}])(?=[${WORD_MEMBERS}])|(?<![${WORD_MEMBERS}])(?![${WORD_MEMBERS}]))` };
      case 'A':
        if (inClass) fail('\\A inside a character class');
        return { src: '^' };
      case 'z':
        if (inClass) fail('\\z inside a character class');
        return { src: '$' };
      case 'Z':
        if (inClass) fail('\\Z inside a character class');
        return { src: '(?=\\n?$)' };
      case 'R':
        if (inClass) fail('\\R inside a character class');
        return { src: '(?:\\r\\n|[\\n\\v\\f\\r\\u0085\\u2028\\u2029])' };
      case 'k': {
        const m = /^<[A-Za-z_][A-Za-z0-9_]*>/.exec(p.slice(i));
        if (!m || inClass) fail('unsupported \\k escape');
        i += m![0].length;
        return { src: '\\k' + m![0] };
      }
      default: {
        if (c >= '1' && c <= '9' && !inClass) {
          const m = /^[0-9]*/.exec(p.slice(i))!;
          i += m[0].length;
          return { src: '\\' + c + m[0] };
        }
        const code = readCodeEscape(c);
        if (code !== undefined) return { src: literal(code, inClass), cp: code };
        if (/[A-Za-z0-9]/.test(c)) fail(`unsupported escape \\${c}`);
        i--; // re-read as a full code point (may be astral)
        const cp = readCp();
        return { src: literal(cp, inClass), cp };
      }
    }
  };

  /** Parses a bracket class; `i` points just past `[`. */
  const parseClass = (): string => {
    let body = '';
    let negated = false;
    if (p[i] === '^') {
      negated = true;
      i++;
    }
    let first = true;
    for (;;) {
      if (i >= p.length) fail('unterminated character class');
      const c = p[i];
      if (c === ']' && !first) {
        i++;
        break;
      }
      first = false;
      if (c === '[') {
        const posix = /^\[:(\^?)([a-z]+):\]/.exec(p.slice(i));
        if (!posix) fail('nested character classes are not supported');
        const members = POSIX_MEMBERS[posix![2]];
        if (members === undefined) fail(`unknown POSIX class [:${posix![2]}:]`);
        if (posix![1]) fail('negated POSIX classes are not supported');
        body += members;
        i += posix![0].length;
        continue;
      }
      if (c === '&' && p[i + 1] === '&') fail('class intersection (&&) is not supported');
      // One atom: a literal code point (possibly a range start) or a set escape.
      let lo: number | undefined;
      let src: string;
      if (c === '\\') {
        i++;
        const e = escape(true);
        src = e.src;
        lo = e.cp;
      } else {
        lo = readCp();
        src = literal(lo, true);
      }
      if (lo !== undefined && p[i] === '-' && i + 1 < p.length && p[i + 1] !== ']') {
        i++;
        let hi: number | undefined;
        if (p[i] === '\\') {
          i++;
          hi = escape(true).cp;
          if (hi === undefined) fail('range ends in a set escape');
        } else {
          hi = readCp();
        }
        if (hi! < lo) fail('range out of order');
        body += rangeLiteral(lo, hi!);
      } else {
        body += src;
      }
    }
    if (body === '') return negated ? '[^]' : '[]';
    return `[${negated ? '^' : ''}${body}]`;
  };

  while (i < p.length) {
    const c = p[i];
    switch (c) {
      case '\\':
        i++;
        out += escape(false).src;
        break;
      case '[':
        i++;
        out += parseClass();
        break;
      case '(': {
        i++;
        if (p[i] !== '?') {
          out += '(';
          stack.push({ ...top() });
          break;
        }
        const rest = p.slice(i);
        const simple = /^\?(?::|=|!|<=|<!)/.exec(rest);
        if (simple) {
          out += '(' + simple[0];
          i += simple[0].length;
          stack.push({ ...top() });
          break;
        }
        const named = /^\?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(rest);
        if (named) {
          out += `(?<${named[1]}>`;
          i += named[0].length;
          stack.push({ ...top() });
          break;
        }
        if (rest.startsWith('?>')) {
          out += '(?:';
          i += 2;
          stack.push({ ...top() });
          break;
        }
        if (rest.startsWith('?#')) {
          const end = p.indexOf(')', i);
          if (end < 0) fail('unterminated comment group');
          i = end + 1;
          break;
        }
        const flags = /^\?([imx]*)(?:-([imx]*))?(:|\))/.exec(rest);
        if (!flags) fail('unsupported group syntax');
        const on = flags![1];
        const off = flags![2] ?? '';
        if (on.includes('x') || off.includes('x')) fail('extended mode (?x) is not supported');
        i += flags![0].length;
        const apply = (g: Group): Group => ({
          ci: on.includes('i') ? true : off.includes('i') ? false : g.ci,
          dotAll: on.includes('m') ? true : off.includes('m') ? false : g.dotAll,
        });
        if (flags![3] === ':') {
          out += '(?:';
          stack.push(apply(top()));
        } else {
          stack[stack.length - 1] = apply(top());
        }
        break;
      }
      case ')':
        if (stack.length === 1) fail('unbalanced )');
        stack.pop();
        out += ')';
        i++;
        break;
      case '.':
        out += top().dotAll ? '[^]' : '[^\\n]';
        i++;
        break;
      case '^':
        out += '(?<![^\\n])';
        i++;
        break;
      case '$':
        out += '(?![^\\n])';
        i++;
        break;
      case '*':
      case '+':
      case '?': {
        out += c;
        i++;
        if (p[i] === '+') i++; // possessive -> greedy (approximation)
        else if (p[i] === '?') {
          out += '?';
          i++;
        }
        break;
      }
      case '{': {
        const q = /^\{(\d*)(?:(,)(\d*))?\}/.exec(p.slice(i));
        if (q && (q[1] !== '' || (q[2] && q[3] !== ''))) {
          out += `{${q[1] === '' ? '0' : q[1]}${q[2] ?? ''}${q[3] ?? ''}}`;
          i += q[0].length;
          if (p[i] === '?') {
            out += '?';
            i++;
          } else if (p[i] === '+') {
            fail('a quantifier applied to an interval ({n,m}+) is not supported');
          }
        } else {
          out += '\\{';
          i++;
        }
        break;
      }
      case '}':
      case ']':
        out += '\\' + c;
        i++;
        break;
      case '|':
        out += '|';
        i++;
        break;
      default:
        out += literal(readCp(), false);
    }
  }
  if (stack.length !== 1) fail('unbalanced (');
  return out;
}

const compiled = new Map<string, RegExp>();

/** Compiles (and caches) an Oniguruma pattern as a global JS `u` regex. */
export function compileOnigurumaPattern(pattern: string): RegExp {
  let re = compiled.get(pattern);
  if (!re) {
    const src = translateOnigurumaPattern(pattern);
    try {
      re = new RegExp(src, 'gu');
    } catch (e) {
      throw new RegexTranslationError(pattern, `translated form ${JSON.stringify(src)} is not a valid JS regex: ` +
        `${(e as Error).message}`);
    }
    compiled.set(pattern, re);
  }
  return re;
}

/** Pieces of `text` with a flag saying whether each is a regex match; covers the whole text in order. */
export function findMatches(re: RegExp, text: string): Array<[start: number, end: number, isMatch: boolean]> {
  const out: Array<[number, number, boolean]> = [];
  let prev = 0;
  for (const m of text.matchAll(re)) {
    const start = m.index!;
    const end = start + m[0].length;
    if (start > prev) out.push([prev, start, false]);
    out.push([start, end, true]);
    prev = end;
  }
  if (prev < text.length) out.push([prev, text.length, false]);
  return out;
}
