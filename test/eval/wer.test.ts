/**
 * src/eval/wer.ts against hand-computed examples: the normaliser (Whisper-like English, Chinese per character),
 * the alignment's substitution / deletion / insertion counts, empty texts, and the rates. A property check
 * compares the error count with a plain Levenshtein distance on random token lists.
 */
import { describe, expect, it } from 'vitest';
import { addCounts, align, characters, errorRate, normalize, score, words } from '../../src/eval/wer';

describe('normalize / words / characters', () => {
  it('English like Whisper\'s basic normaliser: case, punctuation, bracketed text; numbers stay as written', () => {
    expect(normalize('Hello, World! [music] (laughs) <unk>  It\'s 3:30 p.m.')).toBe('hello world it s 3 30 p m');
    expect(normalize('Twenty-one … "quoted" — OK?')).toBe('twenty one quoted ok');
    expect(words('twenty one')).toEqual(['twenty', 'one']);
    expect(words('21')).toEqual(['21']);
    expect(words('  \n\t ')).toEqual([]);
    // NFKC: full-width letters and digits are the ASCII ones
    expect(normalize('ＡＢＣ１２３')).toBe('abc123');
  });

  it('Chinese is scored per character, CJK and ASCII punctuation ignored', () => {
    const zh = '我还能再搞一个，就算是非常小的声音也能识别准确。';
    expect(words(zh)).toHaveLength(22);
    expect(words(zh).slice(0, 3)).toEqual(['我', '还', '能']);
    expect(characters(zh)).toEqual(words(zh));
    expect(words('《广州》、"市"!')).toEqual(['广', '州', '市']);
    // Latin words inside Chinese stay words; characters puts no space next to a CJK character
    expect(words('用GPU跑 fast code')).toEqual(['用', 'gpu', '跑', 'fast', 'code']);
    expect(characters('用GPU跑 fast code').join('')).toBe('用gpu跑fast code');
  });
});

describe('align', () => {
  const count = (r: string, h: string) => align(words(r), words(h));

  it('one substitution, one deletion, one insertion', () => {
    expect(count('a b c', 'a x c')).toEqual({ ref: 3, hyp: 3, sub: 1, del: 0, ins: 0 });
    expect(count('the cat sat on the mat', 'the cat sat on mat')).toEqual({ ref: 6, hyp: 5, sub: 0, del: 1, ins: 0 });
    expect(count('a b c', 'a b x c')).toEqual({ ref: 3, hyp: 4, sub: 0, del: 0, ins: 1 });
  });

  it('counts insertions: a hypothesis with extra words has errors (WER 100 % here)', () => {
    const c = count('a b', 'a b c d');
    expect(c).toEqual({ ref: 2, hyp: 4, sub: 0, del: 0, ins: 2 });
    expect(errorRate(c)).toBe(1);
  });

  it('of the alignments with the fewest errors, takes the one with the most matches', () => {
    // 3 errors either way: S1 D1 I1 (matches one, three, five) or S3 (four->five, five->six; matches one, three)
    const c = count('one two three four five', 'one too three five six');
    expect(c).toEqual({ ref: 5, hyp: 5, sub: 1, del: 1, ins: 1 });
    expect(count('a b c', 'b c d')).toEqual({ ref: 3, hyp: 3, sub: 0, del: 1, ins: 1 });
  });

  it('empty reference, empty hypothesis, both empty', () => {
    const noRef = count('', 'uh hello');
    expect(noRef).toEqual({ ref: 0, hyp: 2, sub: 0, del: 0, ins: 2 });
    expect(errorRate(noRef)).toBeNull();
    const noHyp = count('[noise] one two three', '...');
    expect(noHyp).toEqual({ ref: 3, hyp: 0, sub: 0, del: 3, ins: 0 });
    expect(errorRate(noHyp)).toBe(1);
    expect(count('', '')).toEqual({ ref: 0, hyp: 0, sub: 0, del: 0, ins: 0 });
  });

  it('totals add the counts: an empty reference\'s insertions count in the total', () => {
    const a = count('one two three four', 'one two tree four');
    const b = count('', 'five');
    const t = addCounts(a, b);
    expect(t).toEqual({ ref: 4, hyp: 5, sub: 1, del: 0, ins: 1 });
    expect(errorRate(t)).toBe(0.5);
  });

  it('score: words and characters (CER over "kitten" / "sitting": 2 substitutions, 1 insertion)', () => {
    const s = score('Kitten!', 'sitting');
    expect(s.words).toEqual({ ref: 1, hyp: 1, sub: 1, del: 0, ins: 0 });
    expect(s.chars).toEqual({ ref: 6, hyp: 7, sub: 2, del: 0, ins: 1 });
    // Chinese: one character dropped, one changed, in 11
    const zh = score('广州市房地产中介协会分析', '广州市房产中介协会分折');
    expect(zh.chars).toEqual({ ref: 12, hyp: 11, sub: 1, del: 1, ins: 0 });
    expect(zh.words).toEqual(zh.chars);
  });

  it('error count equals the Levenshtein distance, and I - D = |hyp| - |ref| (random token lists)', () => {
    const levenshtein = (a: string[], b: string[]) => {
      const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => i + j));
      for (let i = 1; i <= a.length; i++) {
        for (let j = 1; j <= b.length; j++) {
          d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        }
      }
      return d[a.length][b.length];
    };
    const seed = Math.floor(Math.random() * 2 ** 31);
    let state = seed;
    const rand = (n: number) => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return (state >>> 8) % n;
    };
    for (let t = 0; t < 300; t++) {
      const a = Array.from({ length: rand(9) }, () => 'abcd'[rand(4)]);
      const b = Array.from({ length: rand(9) }, () => 'abcd'[rand(4)]);
      const c = align(a, b);
      const where = `seed ${seed}: ${a.join('')} / ${b.join('')}`;
      expect(c.sub + c.del + c.ins, where).toBe(levenshtein(a, b));
      expect(c.ins - c.del, where).toBe(b.length - a.length);
    }
  });
});
