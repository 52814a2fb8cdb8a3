/**
 * Feature-by-feature checks on synthetic tokenizer.json variants, each compared with the Rust `tokenizers`
 * library (the reference; the JS library lacks some split behaviors), plus concrete expected values.
 */
import { describe, expect, it } from 'vitest';
import { Tokenizer, TokenizerConfigError, translateOnigurumaPattern } from '../../src/tokenizer';
import { compileOnigurumaPattern } from '../../src/tokenizer/regex';
import { splitWithBehavior, type SplitBehavior } from '../../src/tokenizer/pre-tokenizer';
import { CJK, CONTRACTIONS, EMOJI, ENGLISH, MIXED, WHITESPACE } from './corpus';
import { GLM_SPLIT_PATTERN, makeGlmTokenizerJson } from './make-glm-tokenizer';
import { makeOracles } from './oracles';

type Json = Record<string, unknown>;

/** A fresh GLM-style tokenizer.json (no added tokens) to modify. */
function base(): Json {
  const json = makeGlmTokenizerJson({ merges: 300 });
  json.added_tokens = [];
  return json;
}

function baseVocabSize(json: Json): number {
  return Object.keys((json.model as { vocab: object }).vocab).length;
}

/** Added tokens get consecutive ids after the base vocab (the Rust library reassigns them that way). */
type AddedToken = { content: string; special: boolean; lstrip: boolean; rstrip: boolean; single_word: boolean;
  normalized: boolean };
function withAdded(json: Json, tokens: Array<Partial<AddedToken>>): Json {
  const n = baseVocabSize(json);
  json.added_tokens = tokens.map((t, k) => ({
    id: n + k,
    content: t.content,
    single_word: t.single_word ?? false,
    lstrip: t.lstrip ?? false,
    rstrip: t.rstrip ?? false,
    normalized: t.normalized ?? !(t.special ?? true),
    special: t.special ?? true,
  }));
  return json;
}

/** Encodes every text with our tokenizer and the Rust one (with and without special tokens); returns diffs. */
async function diffAgainstRust(json: Json, texts: string[], alsoDecode = true): Promise<string[]> {
  const ours = Tokenizer.fromJSON(json);
  const o = makeOracles(json, false);
  const diffs: string[] = [];
  for (const text of texts) {
    for (const add of [false, true]) {
      const got = ours.encode(text, { addSpecialTokens: add });
      const want = await o.rustEncode(text, add);
      if (JSON.stringify(got) !== JSON.stringify(want)) diffs.push(`encode ${JSON.stringify(text)} add=${add}: ` +
        `${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
      if (!alsoDecode) continue;
      for (const skip of [false, true]) {
        const d = ours.decode(want, { skipSpecialTokens: skip });
        const dw = await o.rustDecode(want, skip);
        if (d !== dw) diffs.push(`decode ${JSON.stringify(text)} skip=${skip}: ${JSON.stringify(d)} ` +
          `vs ${JSON.stringify(dw)}`);
      }
    }
  }
  return diffs;
}

const SAMPLE = [...ENGLISH.slice(0, 3), ...CONTRACTIONS.slice(0, 3), ...CJK.slice(0, 4), ...EMOJI.slice(0, 3),
  ...WHITESPACE, ...MIXED.slice(0, 2)];

describe('Split pre-tokenizer', () => {
  const behaviors: SplitBehavior[] = ['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous'];

  it('splits with each behavior exactly as specified (concrete pieces)', () => {
    const comma = compileOnigurumaPattern(',');
    const cases: Record<SplitBehavior, string[]> = {
      Removed: ['a', 'b', 'c'],
      Isolated: [',', 'a', ',', 'b', ',', ',', 'c', ','],
      MergedWithPrevious: [',', 'a,', 'b,', ',', 'c,'],
      MergedWithNext: [',a', ',b', ',', ',c', ','],
      Contiguous: [',', 'a', ',', 'b', ',,', 'c', ','],
    };
    for (const b of behaviors) expect(splitWithBehavior(',a,b,,c,', comma, b, false), b).toEqual(cases[b]);
    // invert: the non-matches act as the delimiters
    expect(splitWithBehavior('ab12cd3', compileOnigurumaPattern('\\d+'), 'Removed', true)).toEqual(['12', '3']);
    expect(splitWithBehavior('ab12cd3', compileOnigurumaPattern('\\d+'), 'MergedWithPrevious', true))
      .toEqual(['ab', '12cd', '3']);
    expect(splitWithBehavior('', comma, 'Isolated', false)).toEqual([]);
  });

  for (const pattern of [{ String: ',' }, { Regex: '\\p{N}+' }, { Regex: '\\s+' }]) {
    for (const invert of [false, true]) {
      it(`matches Rust for every behavior, pattern ${JSON.stringify(pattern)}, invert=${invert}`, async () => {
        const texts = [',a,b,,c,', 'abc', '12ab345cd6', 'x 1, 22,,333 y', '  two  spaces ', ',,,', '佢哋,喺度 1,2'];
        const diffs: string[] = [];
        for (const behavior of behaviors) {
          const json = base();
          json.pre_tokenizer = {
            type: 'Sequence',
            pretokenizers: [
              { type: 'Split', pattern, behavior, invert },
              { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
            ],
          };
          diffs.push(...(await diffAgainstRust(json, texts, false)).map((d) => `${behavior}: ${d}`));
        }
        expect(diffs).toEqual([]);
      });
    }
  }
});

describe('Split pre-tokenizer: literal and syntax-heavy patterns', () => {
  it('matches Rust for String patterns made of regex syntax characters and for "-" outside classes', async () => {
    const patterns = [{ String: '-' }, { String: 'a.b' }, { String: '(x)' }, { String: '[|]' }, { String: '$' },
      { String: '\\' }, { String: '{2}' }, { String: '中-文' },
      { Regex: 'a-b|c-d' }, { Regex: '[-]+' }, { Regex: '[a\\-z]+' }, { Regex: '\\.+' }, { Regex: '\\p{N}{1,3}' }];
    const texts = ['a-b c-d a.b axb (x) [|] $ \\ {2} x{2} 中-文 a-z 1234567 ...'];
    const diffs: string[] = [];
    for (const pattern of patterns) {
      const json = base();
      json.pre_tokenizer = {
        type: 'Sequence',
        pretokenizers: [
          { type: 'Split', pattern, behavior: 'Removed', invert: false },
          { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
        ],
      };
      diffs.push(...(await diffAgainstRust(json, texts, false)).map((d) => `${JSON.stringify(pattern)}: ${d}`));
    }
    expect(diffs).toEqual([]);
    expect(splitWithBehavior('a-b-c', compileOnigurumaPattern('-'), 'Removed', false)).toEqual(['a', 'b', 'c']);
  });
});

describe('ByteLevel pre-tokenizer', () => {
  for (const useRegex of [true, false]) {
    for (const addPrefixSpace of [true, false]) {
      it(`matches Rust with use_regex=${useRegex}, add_prefix_space=${addPrefixSpace} (around special ` +
        `tokens too)`, async () => {
        const json = withAdded(base(), [{ content: '<S>' }, { content: '<|user|>' }]);
        json.pre_tokenizer = { type: 'ByteLevel', add_prefix_space: addPrefixSpace,
          trim_offsets: true, use_regex: useRegex };
        const texts = [...SAMPLE, 'hi<S>there', ' hi<S> there', '<S>', '<|user|>\nx<S>', 'The Dog'];
        expect(await diffAgainstRust(json, texts)).toEqual([]);
      });
    }
  }

  it('prepends a space to each piece after an added token when add_prefix_space is set (concrete)', () => {
    const json = withAdded(base(), [{ content: '<S>' }]);
    json.pre_tokenizer = { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true };
    const tok = Tokenizer.fromJSON(json);
    expect(tok.decode(tok.encode('x<S>y'))).toBe(' x<S> y');
    expect(tok.decode(tok.encode(' x<S> y'))).toBe(' x<S> y');
  });
});

describe('added tokens', () => {
  const TOKENS = [
    { content: '<S>' },
    { content: '<L>', lstrip: true },
    { content: '<R>', rstrip: true },
    { content: '<LR>', lstrip: true, rstrip: true },
    { content: 'ab', single_word: true, special: false },
    { content: 'Wq', single_word: true },
    { content: '<|x|>' },
    { content: '<|x|>y' }, // overlaps <|x|>: the longest match must win
    { content: 'é!', special: false, normalized: false },
    { content: 'hi there', special: false },
    { content: '<NoRm>', special: false, normalized: true },
  ];
  const TEXTS = [
    'x <S> y',
    'x  <L>  y',
    'x  <R>  y',
    '\t<LR>\n',
    'a <L><L> b <R> <R> c',
    'ab xab ab abab ab, (ab) ab中 éab ab_ ab1 _ab',
    'Wq aWq Wq9 Wq.',
    '<|x|> <|x|>y <|x|>yy <|x|',
    'aé!b',
    'say hi there, hi  there',
    'lower <NoRm> and <norm>',
    '',
  ];

  it('match like the Rust library (lstrip, rstrip, single_word, longest match, normalized)', async () => {
    expect(await diffAgainstRust(withAdded(base(), TOKENS), TEXTS)).toEqual([]);
  });

  it('normalized tokens are matched after normalization, non-normalized ones before (Lowercase ' +
    'normalizer)', async () => {
    const json = withAdded(base(), [
      { content: '<norm>', special: false, normalized: true },
      { content: '<RAW>', special: true, normalized: false },
    ]);
    json.normalizer = { type: 'Lowercase' };
    const texts = ['A <NORM> b <RAW> c <raw> <norm>', 'Hello World'];
    expect(await diffAgainstRust(json, texts)).toEqual([]);
    const tok = Tokenizer.fromJSON(json);
    const n = baseVocabSize(json);
    expect(tok.encode('<NORM><RAW><raw>').filter((id) => id >= n)).toEqual([n, n + 1]);
  });

  it('concrete: longest match, lstrip/rstrip swallow whitespace, single_word respects word boundaries', () => {
    const json = withAdded(base(), TOKENS);
    const tok = Tokenizer.fromJSON(json);
    const n = baseVocabSize(json);
    expect(tok.tokenize('<|x|>y')).toEqual(['<|x|>y']);
    expect(tok.encode('<|x|>y')).toEqual([n + 7]);
    expect(tok.decode(tok.encode('a  <L>  b'))).toBe('a<L>  b');
    expect(tok.decode(tok.encode('a  <R>  b'))).toBe('a  <R>b');
    expect(tok.decode(tok.encode('a \t<LR>\n b'))).toBe('a<LR>b');
    expect(tok.encode('xab ab').at(-1)).toBe(n + 4);
    expect(tok.encode('xab').includes(n + 4)).toBe(false);
  });

  it('skipSpecialTokens drops special added tokens only; non-special ones go through the ByteLevel decoder', () => {
    const json = withAdded(base(), TOKENS);
    const tok = Tokenizer.fromJSON(json);
    const ids = tok.encode('<S>say hi there<S>aé!b');
    expect(tok.decode(ids)).toBe('<S>say hi there<S>a\uFFFD!b'); // 'é' is the mapped byte 0xE9: invalid UTF-8
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('say hi therea\uFFFD!b');
    expect(tok.isSpecialId(tok.tokenToId('<S>')!)).toBe(true);
    expect(tok.isSpecialId(tok.tokenToId('hi there')!)).toBe(false);
  });
});

describe('normalizers', () => {
  const variants: Array<[string, unknown]> = [
    ['NFC', { type: 'NFC' }],
    ['NFD', { type: 'NFD' }],
    ['NFKC', { type: 'NFKC' }],
    ['NFKD', { type: 'NFKD' }],
    ['Lowercase', { type: 'Lowercase' }],
    ['Strip', { type: 'Strip', strip_left: true, strip_right: true }],
    ['Prepend', { type: 'Prepend', prepend: '▁' }],
    ['Replace String', { type: 'Replace', pattern: { String: ' ' }, content: '▁' }],
    ['Replace Regex', { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }],
    ['Sequence', { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Lowercase' }] }],
  ];
  const texts = [...SAMPLE, 'e\u0301 \u00e9 ﬁ ① Ⅻ ÅNGSTRÖM', '  padded  ', 'x<S>  y  <S>z'];
  for (const [name, normalizer] of variants) {
    it(`${name} matches Rust`, async () => {
      const json = withAdded(base(), [{ content: '<S>' }]);
      json.normalizer = normalizer;
      expect(await diffAgainstRust(json, texts, false)).toEqual([]);
    });
  }
});

describe('post-processors', () => {
  it('TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel and Sequence match Rust', async () => {
    const mk = (pp: unknown): Json => {
      const json = withAdded(base(), [{ content: '<s>' }, { content: '</s>' }]);
      json.post_processor = pp;
      return json;
    };
    const n = baseVocabSize(base());
    const processors = [
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      { type: 'BertProcessing', sep: ['</s>', n + 1], cls: ['<s>', n] },
      { type: 'RobertaProcessing', sep: ['</s>', n + 1], cls: ['<s>', n], trim_offsets: true, add_prefix_space: false },
      {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
          { SpecialToken: { id: '</s>', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
        pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
        special_tokens: { '<s>': { id: '<s>', ids: [n], tokens: ['<s>'] },
          '</s>': { id: '</s>', ids: [n + 1], tokens: ['</s>'] } },
      },
      {
        type: 'Sequence',
        processors: [
          { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
          {
            type: 'TemplateProcessing',
            single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
            pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
            special_tokens: { '<s>': { id: '<s>', ids: [n], tokens: ['<s>'] } },
          },
        ],
      },
    ];
    for (const pp of processors) expect(await diffAgainstRust(mk(pp), ['hello', '', '<s>x</s>']),
      JSON.stringify(pp).slice(0, 40)).toEqual([]);
    const tok = Tokenizer.fromJSON(mk(processors[3]));
    expect(tok.encode('')).toEqual([n, n + 1, n + 1]);
    expect(tok.encode('', { addSpecialTokens: false })).toEqual([]);
  });
});

describe('BPE model options', () => {
  /** A character-level (not byte-level) BPE with an unk token, to cover unk / fuse_unk / prefixes. */
  function charBpe(opts: { fuse_unk: boolean; prefix: string | null; suffix: string | null }): Json {
    const p = opts.prefix ?? '';
    const s = opts.suffix ?? '';
    const vocab: Record<string, number> = { '<unk>': 0 };
    const add = (t: string): void => {
      if (vocab[t] === undefined) vocab[t] = Object.keys(vocab).length;
    };
    for (const c of 'abcdehlort') for (const form of [c, p + c, c + s, p + c + s]) add(form);
    const merges: string[] = [];
    const merge = (a: string, b: string): void => {
      merges.push(`${a} ${b}`);
      add(a + (p && b.startsWith(p) ? b.slice(p.length) : b));
    };
    merge('h', p + 'e');
    merge('he', p + 'l');
    merge(p + 'l', p + 'o' + s);
    merge('hel', p + 'lo' + s);
    return {
      version: '1.0',
      added_tokens: [],
      normalizer: null,
      pre_tokenizer: { type: 'Split', pattern: { Regex: '\\s+' }, behavior: 'Removed', invert: false },
      post_processor: null,
      decoder: null,
      model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: opts.prefix,
        end_of_word_suffix: opts.suffix, fuse_unk: opts.fuse_unk, byte_fallback: false, vocab, merges },
    };
  }

  for (const fuse of [false, true]) {
    for (const [prefix, suffix] of [[null, null], ['##', null], [null, '</w>'], ['##', '</w>']] as const) {
      it(`unk/fuse_unk=${fuse}, continuing_subword_prefix=${prefix}, end_of_word_suffix=${suffix} ` +
        `match Rust`, async () => {
        const json = charBpe({ fuse_unk: fuse, prefix, suffix });
        expect(await diffAgainstRust(json, ['hello', 'hello world', 'xyz hexxo', 'hellozz', 'h', 'zz',
          'abc xhello'])).toEqual([]);
      });
    }
  }

  it('unk concrete: fused vs separate; decoder null joins tokens with spaces', () => {
    expect(Tokenizer.fromJSON(charBpe({ fuse_unk: true, prefix: null,
      suffix: null })).encode('xyzhello')).toEqual([0, 14]);
    const tok = Tokenizer.fromJSON(charBpe({ fuse_unk: false, prefix: null, suffix: null }));
    expect(tok.encode('xyzhello')).toEqual([0, 0, 0, 14]);
    expect(tok.decode(tok.encode('hello ab'))).toBe('hello a b');
  });

  it('ignore_merges takes whole-word vocabulary entries directly (matches Rust)', async () => {
    const json = base();
    const model = json.model as { vocab: Record<string, number>; ignore_merges: boolean };
    // A word-level entry that the merges would never build.
    model.vocab['ĠDOGS'] = Object.keys(model.vocab).length;
    for (const ignore of [false, true]) {
      model.ignore_merges = ignore;
      expect(await diffAgainstRust(json, ['the DOGS bark', ' DOGS', ...SAMPLE.slice(0, 6)])).toEqual([]);
      expect(Tokenizer.fromJSON(json).tokenize(' DOGS').length === 1).toBe(ignore);
    }
  });

  it('merges in ["a","b"] form give the same result as "a b" form', () => {
    const a = Tokenizer.fromJSON(makeGlmTokenizerJson({ mergesFormat: 'string' }));
    const b = Tokenizer.fromJSON(makeGlmTokenizerJson({ mergesFormat: 'array' }));
    for (const t of SAMPLE) expect(b.encode(t)).toEqual(a.encode(t));
  });
});

describe('Oniguruma -> JS regex translation', () => {
  const split = (pattern: string, text: string): string[] =>
    [...text.matchAll(compileOnigurumaPattern(pattern))].map((m) => m[0]);

  it('expands inline case-insensitive groups (GLM-4 contractions)', () => {
    expect(split(GLM_SPLIT_PATTERN, "IT'S we'LL I'Ve 'Tis")).toEqual(['IT', "'S", ' we', "'LL",
      ' I', "'Ve", " '", 'Tis']);
    expect(translateOnigurumaPattern("(?i:'s|'t)")).toBe("(?:'[Ss\u017f]|'[Tt])");
    expect(split('(?i:ab)c', 'ABc AbC abc')).toEqual(['ABc', 'abc']);
    expect(split('a(?i)b', 'aB AB ab')).toEqual(['aB', 'ab']);
    expect(split('(?i:[a-c])', 'aBcD')).toEqual(['a', 'B', 'c']);
  });

  it('gives \\s, \\d, \\w their Oniguruma (Unicode) meaning', () => {
    expect(split('\\s', 'a\u0085b\uFEFFc\u3000d')).toEqual(['\u0085', '\u3000']);
    expect(split('\\d+', '12 ٣٤ x')).toEqual(['12', '٣٤']);
    expect(split('\\w+', 'naïve 中文_x!')).toEqual(['naïve', '中文_x']);
    expect(split('[^\\s\\p{L}]+', 'a, b!\u0085c')).toEqual([',', '!']);
  });

  it('handles anchors, dot, braces, \\x{...}, script names and property negation', () => {
    expect(split('^a', 'ab\nab')).toEqual(['a', 'a']);
    expect(split('b$', 'ab\nab')).toEqual(['b', 'b']);
    expect(split('\\Aa', 'aa')).toEqual(['a']);
    expect(split('.', 'a\rb\n')).toEqual(['a', '\r', 'b']);
    expect(split('x{,2}y', 'xxxy')).toEqual(['xxy']);
    expect(split('{a}', '{a}')).toEqual(['{a}']);
    expect(split('\\x{4E2D}', '中文')).toEqual(['中']);
    expect(split('\\p{Han}+', 'abc中文def')).toEqual(['中文']);
    expect(split('\\p{^L}+', 'ab12cd')).toEqual(['12']);
    expect(split('[[:digit:]]+', 'a42')).toEqual(['42']);
    expect(split('a++b', 'aab')).toEqual(['aab']);
    expect(split('(?>ab)c', 'abc')).toEqual(['abc']);
  });

  it('agrees with Oniguruma (via the Rust library) on class and case-folding semantics', async () => {
    // Split(Removed, invert) keeps only the matched characters, so the decoded text shows what matched.
    const patterns = [
      "(?i:'s|'k|å|µ|σ)", // ſ, Kelvin sign, Ångström sign, micro sign, final sigma fold in
      '(?i:[a-z])',
      '(?i:ǅ)',
      '(?i:i)',
      '\\w',
      '\\W',
      '\\d',
      '\\s',
      '\\S+',
      '\\h',
      '[[:punct:]]',
      '[[:alpha:]]',
      '\\p{Word}',
      '\\p{Han}|\\p{Hiragana}',
      '.',
      '^.',
      '.$',
      '\\b\\w',
      '[^\\s\\p{L}\\p{N}]+',
    ];
    const text = "'s'S'ſ'k'K'\u212A åÅ\u212B µΜμ σΣς ǅǄǆ İıiI a1٣_·‿ !$+<=>^`|~¢© " +
      "中かカ\u0085\uFEFF\u3000\t\nx\r\u2028y\nz";
    const diffs: string[] = [];
    for (const pattern of patterns) {
      const json = base();
      json.pre_tokenizer = {
        type: 'Sequence',
        pretokenizers: [
          { type: 'Split', pattern: { Regex: pattern }, behavior: 'Removed', invert: true },
          { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
        ],
      };
      const o = makeOracles(json, false);
      const want = await o.rustDecode(await o.rustEncode(text, false), false);
      const ours = Tokenizer.fromJSON(json);
      const got = ours.decode(ours.encode(text));
      if (got !== want) diffs.push(`${pattern}: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
    }
    expect(diffs).toEqual([]);
  });

  it('rejects what it cannot translate, naming the problem', () => {
    expect(() => translateOnigurumaPattern('[a-z&&[^aeiou]]')).toThrow(/nested character classes|&&/);
    expect(() => translateOnigurumaPattern('(?x) a b')).toThrow(/extended mode/);
    expect(() => translateOnigurumaPattern('\\Gfoo')).toThrow(/unsupported escape \\G/);
    expect(() => translateOnigurumaPattern('[\\S]')).toThrow(/inside a character class/);
    expect(() => translateOnigurumaPattern('(ab')).toThrow(/unbalanced/);
    expect(() => translateOnigurumaPattern('\\p{NoSuchProperty}')).toThrow(/unknown Unicode property/);
  });
});

describe('streaming decoder', () => {
  it('emits whole characters only, and the pieces add up to decode()', () => {
    const tok = Tokenizer.fromJSON(makeGlmTokenizerJson());
    for (const text of [...CJK, ...EMOJI, ...MIXED, '\uFEFFbom', 'plain text']) {
      for (const skip of [false, true]) {
        const ids = tok.encode(`<|user|>${text}<|endoftext|>`);
        const dec = tok.createStreamingDecoder({ skipSpecialTokens: skip });
        const pieces = ids.map((id) => dec.push(id));
        pieces.push(dec.flush());
        expect(pieces.join('')).toBe(tok.decode(ids, { skipSpecialTokens: skip }));
        for (const p of pieces) expect(p).not.toContain('\uFFFD');
      }
    }
  });

  it('skips unknown ids like the Rust library', async () => {
    const json = makeGlmTokenizerJson();
    const tok = Tokenizer.fromJSON(json);
    const ids = [999_999, 97, tok.vocabSize, 98];
    expect(tok.decode(ids)).toBe('ab');
    expect(tok.decode(ids)).toBe(await makeOracles(json, false).rustDecode(ids, false));
  });

  it('holds back a split multi-byte character until it is complete (concrete)', () => {
    const tok = Tokenizer.fromJSON(makeGlmTokenizerJson());
    // '飯' is E9 A3 AF; feed its three byte tokens one by one (byte b has id b in this tokenizer).
    const dec = tok.createStreamingDecoder();
    expect([dec.push(0xe9), dec.push(0xa3), dec.push(0xaf), dec.push(0x21)]).toEqual(['', '', '飯', '!']);
    const cut = tok.createStreamingDecoder();
    expect([cut.push(0xe9), cut.push(0xa3), cut.flush()]).toEqual(['', '', '\uFFFD']);
    expect(tok.decode([0xe9, 0xa3])).toBe('\uFFFD');
  });
});

describe('malformed tokenizer.json', () => {
  const expectFieldError = (json: unknown, field: string, message: RegExp): void => {
    let err: unknown;
    try {
      Tokenizer.fromJSON(json);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TokenizerConfigError);
    expect((err as TokenizerConfigError).field).toBe(field);
    expect((err as Error).message).toMatch(message);
  };

  it('names the offending field', () => {
    expectFieldError('{not json', '(root)', /not valid JSON/);
    expectFieldError([], '(root)', /expected an object/);
    expectFieldError({ version: '1.0' }, 'model', /missing/);
    const j1 = base();
    (j1.model as Json).vocab = ['a'];
    expectFieldError(j1, 'model.vocab', /expected an object, got an array/);
    const j2 = base();
    (j2.model as { merges: unknown[] }).merges[3] = 'nospace';
    expectFieldError(j2, 'model.merges[3]', /two tokens separated by one space/);
    const j3 = base();
    (j3.model as { merges: unknown[] }).merges[5] = ['Ġ', 'NOT_IN_VOCAB'];
    expectFieldError(j3, 'model.merges[5]', /right part "NOT_IN_VOCAB" is not in model.vocab/);
    const j4 = base();
    j4.normalizer = { type: 'BertNormalizer' };
    expectFieldError(j4, 'normalizer.type', /unsupported normalizer type the string "BertNormalizer"/);
    const j5 = base();
    j5.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: ',' },
      behavior: 'Sideways' }] };
    expectFieldError(j5, 'pre_tokenizer.pretokenizers[0].behavior', /expected one of Removed, Isolated/);
    const j6 = base();
    j6.added_tokens = [{ id: 'x', content: '<a>' }];
    expectFieldError(j6, 'added_tokens[0].id', /non-negative integer/);
    const j7 = base();
    (j7.model as Json).type = 'Unigram';
    expectFieldError(j7, 'model.type', /only BPE/);
    const j8 = base();
    j8.decoder = { type: 'WordPiece' };
    expectFieldError(j8, 'decoder.type', /unsupported decoder/);
    const j9 = base();
    j9.post_processor = {
      type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<cls>', type_id: 0 } }], special_tokens: {},
    };
    expectFieldError(j9, 'post_processor.special_tokens', /"<cls>" that is not listed/);
    const j10 = base();
    j10.pre_tokenizer = { type: 'Split', pattern: { Regex: '[a&&b]' }, behavior: 'Isolated' };
    expectFieldError(j10, 'pre_tokenizer.pattern.Regex', /&&/);
    const j11 = base();
    (j11.model as Json).byte_fallback = true;
    expectFieldError(j11, 'model.byte_fallback', /not supported/);
  });

  it('requires the BPE model fields: type, vocab and merges (no merges would silently encode one ' +
    'token per byte)', () => {
    for (const key of ['merges', 'vocab', 'type']) {
      for (const value of [undefined, null]) {
        const j = base();
        (j.model as Json)[key] = value;
        expectFieldError(j, `model.${key}`, /missing/);
      }
    }
    const j = base();
    (j.model as Json).merges = {};
    expectFieldError(j, 'model.merges', /expected an array, got an object/);
    const a = base();
    a.added_tokens = {};
    expectFieldError(a, 'added_tokens', /expected an array/);
    a.added_tokens = [7];
    expectFieldError(a, 'added_tokens[0]', /expected an object, got number 7/);
    // An empty merge list is valid BPE (character-level).
    const empty = base();
    (empty.model as Json).merges = [];
    expect(Tokenizer.fromJSON(empty).encode('ab', { addSpecialTokens: false })).toEqual([97, 98]);
  });

  it('refuses Sequences nested more than 16 deep (a crafted file could exhaust the stack)', () => {
    const nested = (depth: number, key: string, leaf: Json): Json => {
      let v = leaf;
      for (let i = 0; i < depth; i++) v = { type: 'Sequence', [key]: [v] };
      return v;
    };
    const ok = base();
    ok.normalizer = nested(16, 'normalizers', { type: 'NFC' });
    expect(() => Tokenizer.fromJSON(ok)).not.toThrow();
    const deepField = 'pre_tokenizer' + '.pretokenizers[0]'.repeat(16);
    const j = base();
    j.pre_tokenizer = nested(17, 'pretokenizers', { type: 'ByteLevel', add_prefix_space: false, use_regex: false });
    expectFieldError(j, deepField, /Sequence nested more than 16 deep/);
    const p = base();
    p.post_processor = nested(10_000, 'processors', { type: 'ByteLevel' });
    expectFieldError(p, 'post_processor' + '.processors[0]'.repeat(16), /nested more than 16/);
  });

  it('names the file given as `file`, for bad JSON and bad fields alike', () => {
    const file = '/models/x/tokenizer.json';
    expect(() =>
      Tokenizer.fromJSON('{"model": ', { file })).toThrow(/^\/models\/x\/tokenizer\.json: \(root\): not valid JSON/);
    const j = base();
    delete (j.model as Json).merges;
    let err: unknown;
    try {
      Tokenizer.fromJSON(j, { file });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ name: 'TokenizerConfigError', file, field: 'model.merges',
      message: `${file}: model.merges: required field is missing` });
  });
});
