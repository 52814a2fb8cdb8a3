import { bytesToMappedString } from './byte-level';
import { TokenizerConfigError, checkSequenceDepth, describe, expectArray, expectObject, optBool } from './errors';
import { buildPattern } from './normalizer';
import { compileOnigurumaPattern, findMatches } from './regex';

/** Splits one piece of text into smaller pieces (possibly rewriting them, as ByteLevel does). */
export type PreTokenizer = (piece: string, out: string[]) => void;

/** The pattern the ByteLevel pre-tokenizer splits with when `use_regex` is true (GPT-2's). */
export const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

export type SplitBehavior = 'Removed' | 'Isolated' | 'MergedWithPrevious' | 'MergedWithNext' | 'Contiguous';
const BEHAVIORS: readonly SplitBehavior[] = ['Removed', 'Isolated', 'MergedWithPrevious',
  'MergedWithNext', 'Contiguous'];

const SUPPORTED = 'ByteLevel, Split, Sequence';

/**
 * Splits `text` at the matches of `re` the way the HF `Split` pre-tokenizer does. Returns non-empty
 * pieces in order.
 */
export function splitWithBehavior(text: string, re: RegExp, behavior: SplitBehavior, invert: boolean): string[] {
  if (text.length === 0) return [];
  const parts = findMatches(re, text);
  if (invert) for (const part of parts) part[2] = !part[2];
  const spans: Array<[number, number]> = [];
  switch (behavior) {
    case 'Removed':
      for (const [s, e, m] of parts) if (!m) spans.push([s, e]);
      break;
    case 'Isolated':
      for (const [s, e] of parts) spans.push([s, e]);
      break;
    case 'MergedWithPrevious': {
      // A match joins the piece before it, unless that piece was itself a match.
      let prevMatch = false;
      for (const [s, e, m] of parts) {
        if (m && !prevMatch && spans.length > 0) spans[spans.length - 1][1] = e;
        else spans.push([s, e]);
        prevMatch = m;
      }
      break;
    }
    case 'MergedWithNext': {
      // Mirror image: walk backwards, a match joins the piece after it unless that one was a match.
      let nextMatch = false;
      for (let k = parts.length - 1; k >= 0; k--) {
        const [s, e, m] = parts[k];
        if (m && !nextMatch && spans.length > 0) spans[spans.length - 1][0] = s;
        else spans.push([s, e]);
        nextMatch = m;
      }
      spans.reverse();
      break;
    }
    case 'Contiguous': {
      // Runs of consecutive matches (or of consecutive non-matches) form one piece.
      let prevMatch = false;
      for (const [s, e, m] of parts) {
        if (m === prevMatch && spans.length > 0) spans[spans.length - 1][1] = e;
        else spans.push([s, e]);
        prevMatch = m;
      }
      break;
    }
  }
  const out: string[] = [];
  for (const [s, e] of spans) if (e > s) out.push(text.slice(s, e));
  return out;
}

export interface PreTokenizerInfo {
  run: PreTokenizer;
  /** True when a ByteLevel step is present (its output is byte-mapped characters). */
  byteLevel: boolean;
}

/** Returns null for a null/absent pre-tokenizer. */
export function buildPreTokenizer(value: unknown, field = 'pre_tokenizer', depth = 0): PreTokenizerInfo | null {
  if (value === null || value === undefined) return null;
  const obj = expectObject(value, field);
  switch (obj.type) {
    case 'ByteLevel': {
      const addPrefixSpace = optBool(obj.add_prefix_space, `${field}.add_prefix_space`, true);
      const useRegex = optBool(obj.use_regex, `${field}.use_regex`, true);
      const re = useRegex ? compileOnigurumaPattern(GPT2_PATTERN) : null;
      const run: PreTokenizer = (piece, out) => {
        if (addPrefixSpace && !piece.startsWith(' ')) piece = ' ' + piece;
        if (re) {
          for (const part of splitWithBehavior(piece, re, 'Isolated', false)) out.push(bytesToMappedString(part));
        } else if (piece.length > 0) {
          out.push(bytesToMappedString(piece));
        }
      };
      return { run, byteLevel: true };
    }
    case 'Split': {
      const re = buildPattern(obj.pattern, `${field}.pattern`);
      const behavior = obj.behavior;
      if (typeof behavior !== 'string' || !BEHAVIORS.includes(behavior as SplitBehavior)) {
        throw new TokenizerConfigError(`${field}.behavior`, `expected one of ${BEHAVIORS.join(', ')}, ` +
          `got ${describe(behavior)}`);
      }
      const invert = optBool(obj.invert, `${field}.invert`, false);
      const run: PreTokenizer = (piece, out) => {
        for (const part of splitWithBehavior(piece, re, behavior as SplitBehavior, invert)) out.push(part);
      };
      return { run, byteLevel: false };
    }
    case 'Sequence': {
      checkSequenceDepth(field, depth);
      const steps = expectArray(obj.pretokenizers, `${field}.pretokenizers`)
        .map((p, k) => buildPreTokenizer(p, `${field}.pretokenizers[${k}]`, depth + 1))
        .filter((p): p is PreTokenizerInfo => p !== null);
      const run: PreTokenizer = (piece, out) => {
        let pieces = [piece];
        for (const step of steps) {
          const next: string[] = [];
          for (const p of pieces) step.run(p, next);
          pieces = next;
        }
        for (const p of pieces) out.push(p);
      };
      return { run, byteLevel: steps.some((s) => s.byteLevel) };
    }
    default:
      throw new TokenizerConfigError(`${field}.type`, `unsupported pre_tokenizer type ${describe(obj.type)} ` +
        `(supported: ${SUPPORTED})`);
  }
}
