import {
  TokenizerConfigError,
  checkSequenceDepth,
  describe,
  expectArray,
  expectObject,
  expectString,
  optBool,
} from './errors';
import { compileOnigurumaPattern, escapeRegexLiteral } from './regex';

/** A text -> text transform applied to the pieces of input that are not added tokens. */
export type Normalizer = (text: string) => string;

const SUPPORTED = 'NFC, NFD, NFKC, NFKD, Lowercase, Strip, Prepend, Replace, Sequence';

/** Unicode White_Space (what Rust's `char::is_whitespace` tests). */
const WS = '[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const LEADING_WS = new RegExp(`^${WS}+`, 'u');
const TRAILING_WS = new RegExp(`${WS}+$`, 'u');

/** Builds a pattern (`{String: s}` or `{Regex: r}`) as a global JS regex. */
export function buildPattern(value: unknown, field: string): RegExp {
  const obj = expectObject(value, field);
  if (typeof obj.String === 'string') return new RegExp(escapeRegexLiteral(obj.String), 'gu');
  if (typeof obj.Regex === 'string') {
    try {
      return compileOnigurumaPattern(obj.Regex);
    } catch (e) {
      throw new TokenizerConfigError(`${field}.Regex`, (e as Error).message);
    }
  }
  throw new TokenizerConfigError(field, `expected {"String": ...} or {"Regex": ...}, got keys ` +
    `[${Object.keys(obj).join(', ')}]`);
}

/** Returns null for a null/absent normalizer. */
export function buildNormalizer(value: unknown, field = 'normalizer', depth = 0): Normalizer | null {
  if (value === null || value === undefined) return null;
  const obj = expectObject(value, field);
  const type = obj.type;
  switch (type) {
    case 'NFC':
    case 'NFD':
    case 'NFKC':
    case 'NFKD':
      return (s) => s.normalize(type);
    case 'Lowercase':
      return (s) => s.toLowerCase();
    case 'Strip': {
      const left = optBool(obj.strip_left, `${field}.strip_left`, true);
      const right = optBool(obj.strip_right, `${field}.strip_right`, true);
      return (s) => {
        if (left) s = s.replace(LEADING_WS, '');
        if (right) s = s.replace(TRAILING_WS, '');
        return s;
      };
    }
    case 'Prepend': {
      const prefix = expectString(obj.prepend, `${field}.prepend`);
      return (s) => (s.length > 0 ? prefix + s : s);
    }
    case 'Replace': {
      const re = buildPattern(obj.pattern, `${field}.pattern`);
      const content = expectString(obj.content, `${field}.content`);
      return (s) => s.replace(re, () => content);
    }
    case 'Sequence': {
      checkSequenceDepth(field, depth);
      const parts = expectArray(obj.normalizers, `${field}.normalizers`)
        .map((n, k) => buildNormalizer(n, `${field}.normalizers[${k}]`, depth + 1));
      const fns = parts.filter((f): f is Normalizer => f !== null);
      return (s) => {
        for (const f of fns) s = f(s);
        return s;
      };
    }
    default:
      throw new TokenizerConfigError(`${field}.type`, `unsupported normalizer type ${describe(type)} ` +
        `(supported: ${SUPPORTED})`);
  }
}
