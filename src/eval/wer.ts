/**
 * Word and character error rates of a transcript against a reference, after the same normalisation of both.
 *
 * Normalisation (`normalize`) behaves like Whisper's basic text normaliser: lower case (after Unicode NFKC);
 * text in square or angle brackets or in parentheses removed with its brackets; every mark, symbol and
 * punctuation character (Unicode categories M, S, P; CJK punctuation included) replaced by a space; runs of white
 * space collapsed.
 * Numbers are left as they are written ("twenty one" and "21" differ). Chinese and Cantonese are scored per
 * character: each CJK character is a token of its own, wherever it stands; other text splits at white space.
 *
 * Scoring (`align`) is the Levenshtein distance between the token lists with its substitution, deletion (a
 * reference token missing from the hypothesis) and insertion (a hypothesis token not in the reference) counts.
 */

/** Counts of one alignment: `ref` tokens in the reference, `hyp` in the hypothesis, and the three error kinds. */
export interface ErrorCounts {
  ref: number;
  hyp: number;
  sub: number;
  del: number;
  ins: number;
}

/** The scores of one hypothesis against its reference: in words (CJK characters count as words) and characters. */
export interface TextScore {
  words: ErrorCounts;
  chars: ErrorCounts;
}

export const LANGUAGES = ['en', 'zh', 'yue'] as const;
export type Language = (typeof LANGUAGES)[number];

// CJK radicals, ideographs (unified, extensions A-F and compatibility), kana and bopomofo: written without
// spaces between words, so scored per character.
const CJK = /[\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u{20000}-\u{3134f}]/u;
const CJK_SPLIT = new RegExp(`(${CJK.source})`, 'gu');

/** Whisper-style normalised text: lower case, no bracketed text, no punctuation or symbols, single spaces. */
export function normalize(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[<[][^>\]]*[>\]]/g, '')
    .replace(/\([^)]+\)/g, '')
    .replace(/[\p{M}\p{S}\p{P}]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The tokens scored as words: the normalised text split at spaces, with every CJK character a token of its own. */
export function words(text: string): string[] {
  return normalize(text).replace(CJK_SPLIT, ' $1 ').split(' ').filter((w) => w !== '');
}

/**
 * The tokens scored as characters: every character of the normalised words (by code point), with one space
 * between two words that are not CJK characters (so that "ab" against "a b" is an error, but Chinese text is
 * not split by spaces it never had).
 */
export function characters(text: string): string[] {
  const out: string[] = [];
  let prevCjk = true;
  for (const w of words(text)) {
    const cjk = CJK.test(w);
    if (!cjk && !prevCjk) out.push(' ');
    out.push(...w);
    prevCjk = cjk;
  }
  return out;
}

/** True when the text holds a CJK character: such a reference is Chinese (or Cantonese) unless told otherwise. */
export function hasCjk(text: string): boolean {
  return CJK.test(text);
}

/**
 * The fewest substitutions + deletions + insertions that turn `ref` into `hyp`, with the count of each kind.
 * Among alignments with that many errors, the one with the fewest substitutions (most matched tokens) is
 * taken, as NIST's sclite does: "a b c" against "b c d" is one deletion and one insertion, not three
 * substitutions. The cost pair (errors, substitutions) adds up along a path and is compared lexicographically,
 * so the dynamic programme finds the best path; it keeps one row, so memory is linear in the hypothesis length.
 */
export function align(ref: readonly string[], hyp: readonly string[]): ErrorCounts {
  const m = hyp.length;
  // Row i of the table: for each hypothesis prefix, the error, substitution, deletion and insertion counts of the
  // best alignment with the first i reference tokens. A deletion is taken before an equal insertion.
  let [cost, sub, del, ins] = [0, 1, 2, 3].map(() => new Int32Array(m + 1));
  let [nCost, nSub, nDel, nIns] = [0, 1, 2, 3].map(() => new Int32Array(m + 1));
  for (let j = 0; j <= m; j++) cost[j] = ins[j] = j;
  const better = (c: number, s: number, bestC: number, bestS: number) => c < bestC || (c === bestC && s < bestS);
  for (let i = 1; i <= ref.length; i++) {
    nCost[0] = nDel[0] = i;
    nSub[0] = nIns[0] = 0;
    for (let j = 1; j <= m; j++) {
      const miss = ref[i - 1] === hyp[j - 1] ? 0 : 1;
      let c = cost[j - 1] + miss; // match or substitution
      let s = sub[j - 1] + miss;
      let d = del[j - 1];
      let n = ins[j - 1];
      if (better(cost[j] + 1, sub[j], c, s)) { // deletion: ref[i - 1] missing from the hypothesis
        [c, s, d, n] = [cost[j] + 1, sub[j], del[j] + 1, ins[j]];
      }
      if (better(nCost[j - 1] + 1, nSub[j - 1], c, s)) { // insertion: hyp[j - 1] not in the reference
        [c, s, d, n] = [nCost[j - 1] + 1, nSub[j - 1], nDel[j - 1], nIns[j - 1] + 1];
      }
      nCost[j] = c;
      nSub[j] = s;
      nDel[j] = d;
      nIns[j] = n;
    }
    [cost, nCost, sub, nSub, del, nDel, ins, nIns] = [nCost, cost, nSub, sub, nDel, del, nIns, ins];
  }
  return { ref: ref.length, hyp: m, sub: sub[m], del: del[m], ins: ins[m] };
}

/** A hypothesis scored against its reference, both normalised, in words and in characters. */
export function score(reference: string, hypothesis: string): TextScore {
  return {
    words: align(words(reference), words(hypothesis)),
    chars: align(characters(reference), characters(hypothesis)),
  };
}

/** Sum of counts, for totals over many files. */
export function addCounts(a: ErrorCounts, b: ErrorCounts): ErrorCounts {
  return { ref: a.ref + b.ref, hyp: a.hyp + b.hyp, sub: a.sub + b.sub, del: a.del + b.del, ins: a.ins + b.ins };
}

export function errors(c: ErrorCounts): number {
  return c.sub + c.del + c.ins;
}

/** Errors per reference token; null when the reference is empty (its insertions still count in a total). */
export function errorRate(c: ErrorCounts): number | null {
  return c.ref ? errors(c) / c.ref : null;
}
