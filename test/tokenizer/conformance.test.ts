/**
 * Conformance against the reference implementations: the same ids and the same decoded text as
 * `@huggingface/tokenizers` (pure JS) and `tokenizers` (the Rust library via napi) over a varied corpus.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Tokenizer } from '../../src/tokenizer';
import { ALL_PLAIN, GLM_SPECIALS, LONG_TEXT, WHISPER_SPECIALS } from './corpus';
import { GLM_ASR_BASE_VOCAB_SIZE, makeGlmTokenizerJson } from './make-glm-tokenizer';
import { skipWhen } from '../helpers/skip';
import { NO_WHISPER, loadWhisperJson, makeOracles, type Oracles } from './oracles';

interface Case {
  name: string;
  /** Why this case cannot run here (skipWhen), or null. */
  skip: string | null;
  json: () => Record<string, unknown>;
  texts: string[];
}

const CASES: Case[] = [
  {
    name: 'whisper-base (../shared/corpus/tokenizers/whisper-base)',
    skip: NO_WHISPER,
    json: loadWhisperJson,
    texts: [...ALL_PLAIN, ...WHISPER_SPECIALS, ...GLM_SPECIALS, LONG_TEXT],
  },
  {
    name: 'GLM-style (built in test, string merges)',
    skip: null,
    json: () => makeGlmTokenizerJson(),
    texts: [...ALL_PLAIN, ...GLM_SPECIALS, ...WHISPER_SPECIALS, LONG_TEXT],
  },
  {
    name: 'GLM-style ([gMASK]<sop> template, array merges, ignore_merges)',
    skip: null,
    json: () => makeGlmTokenizerJson({ postProcessor: 'gmask-sop', mergesFormat: 'array',
      ignoreMerges: true, merges: 250 }),
    texts: [...ALL_PLAIN, ...GLM_SPECIALS],
  },
  ...['tiny', 'tiny-b'].map((name) => ({
    name: `generated checkpoint test/goldens/${name}/tokenizer.json`,
    skip: null,
    json: () => JSON.parse(
      readFileSync(new URL(`../goldens/${name}/tokenizer.json`, import.meta.url), 'utf8'),
    ) as Record<string, unknown>,
    texts: [...ALL_PLAIN, ...GLM_SPECIALS, LONG_TEXT],
  })),
];

/**
 * `@huggingface/tokenizers` translates Oniguruma's `\s` to JS `\s`, which differs at U+0085 (NEL, whitespace
 * in Oniguruma) and U+FEFF (whitespace in JS only). The Rust library is the reference; we match it, so
 * texts with these characters are compared against Rust only.
 */
const jsOracleDiverges = (text: string): boolean => /[\u0085\uFEFF]/.test(text);

/** Deterministic pseudo-random generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

for (const c of CASES) {
  describe(c.name, skipWhen(c.skip), () => {
    let ours: Tokenizer;
    let oracles: Oracles;
    beforeAll(() => {
      const json = c.json();
      ours = Tokenizer.fromJSON(json);
      oracles = makeOracles(json);
    });

    it('encodes like @huggingface/tokenizers, with and without special tokens', () => {
      const mismatches: string[] = [];
      for (const text of c.texts.filter((t) => !jsOracleDiverges(t))) {
        for (const add of [true, false]) {
          const got = ours.encode(text, { addSpecialTokens: add });
          const want = oracles.jsEncode(text, add);
          if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push(`${JSON.stringify(text).slice(0, 80)} ` +
            `add=${add}`);
        }
      }
      expect(mismatches).toEqual([]);
    });

    it('encodes like the Rust tokenizers library', async () => {
      const mismatches: string[] = [];
      for (const text of c.texts) {
        for (const add of [true, false]) {
          const got = ours.encode(text, { addSpecialTokens: add });
          const want = await oracles.rustEncode(text, add);
          if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push(`${JSON.stringify(text).slice(0, 80)} ` +
            `add=${add}`);
        }
      }
      expect(mismatches).toEqual([]);
    });

    it('decodes its encodings like both references (skip_special_tokens on and off) and round-trips', async () => {
      const mismatches: string[] = [];
      for (const text of c.texts) {
        const ids = ours.encode(text, { addSpecialTokens: true });
        for (const skip of [false, true]) {
          const got = ours.decode(ids, { skipSpecialTokens: skip });
          const what = `${JSON.stringify(text).slice(0, 60)} skip=${skip}`;
          if (got !== oracles.jsDecode(ids, skip)) mismatches.push(`js ${what}`);
          if (got !== (await oracles.rustDecode(ids, skip))) mismatches.push(`rust ${what}`);
        }
        // Without post-processor tokens, decoding gives the input back exactly (byte-level BPE is lossless).
        expect(ours.decode(ours.encode(text, { addSpecialTokens: false }))).toBe(text);
      }
      expect(mismatches).toEqual([]);
    });

    it('decodes random id sequences (split multi-byte characters, specials anywhere) like the ' +
      'Rust library', async () => {
      const rand = rng(1234);
      const mismatches: string[] = [];
      for (let trial = 0; trial < 300; trial++) {
        const len = 1 + Math.floor(rand() * 12);
        const ids: number[] = [];
        for (let k = 0; k < len; k++) {
          const r = rand();
          // Mostly single bytes (to break UTF-8 sequences), some merged tokens, some added tokens.
          ids.push(r < 0.5 ? 128 + Math.floor(rand() * 128) : r < 0.9 ? Math.floor(rand() * ours.vocabSize) :
            ours.vocabSize - 1 - Math.floor(rand() * 18));
        }
        for (const skip of [false, true]) {
          const got = ours.decode(ids, { skipSpecialTokens: skip });
          const want = await oracles.rustDecode(ids, skip);
          if (got !== want) mismatches.push(`${JSON.stringify(ids)} skip=${skip}: ${JSON.stringify(got)} vs ` +
            `${JSON.stringify(want)}`);
        }
      }
      expect(mismatches).toEqual([]);
    });

    it('has the same vocabulary and id <-> token maps as the Rust library', () => {
      expect(ours.vocabSize).toBe(oracles.rust.getVocabSize(true));
      const bad: number[] = [];
      for (let id = 0; id < ours.vocabSize; id++) {
        const t = ours.idToToken(id);
        if (t !== (oracles.rust.idToToken(id) ?? undefined)) bad.push(id);
        else if (t !== undefined && ours.tokenToId(t) !== oracles.rust.tokenToId(t)) bad.push(id);
      }
      expect(bad.slice(0, 20)).toEqual([]);
      expect(ours.idToToken(ours.vocabSize)).toBeUndefined();
    });
  });
}

describe('whisper-base: concrete values', skipWhen(NO_WHISPER), () => {
  it('encodes known strings to known ids', () => {
    const tok = Tokenizer.fromJSON(loadWhisperJson());
    expect(tok.encode('Hello world', { addSpecialTokens: false })).toEqual([15947, 1002]);
    // TemplateProcessing: <|startoftranscript|> <|notimestamps|> $A <|endoftext|>
    expect(tok.encode('Hello world')).toEqual([50258, 50363, 15947, 1002, 50257]);
    expect(tok.encode(' He\'s <|endoftext|>X', { addSpecialTokens: false })).toEqual([634, 311, 220, 50257, 55]);
    expect(tok.encode('佢哋喺度食緊飯', { addSpecialTokens: false })).toEqual([1593, 95, 3858, 233, 5234, 118,
      13127, 25155, 30172, 45229]);
    expect(tok.vocabSize).toBe(51865);
    expect(tok.tokenToId('<|notimestamps|>')).toBe(50363);
    expect(tok.idToToken(50364)).toBe('<|0.00|>');
    expect(tok.decode([50258, 50363, 15947, 1002, 50257], { skipSpecialTokens: true })).toBe('Hello world');
    // Non-special added tokens (timestamps) survive skip_special_tokens.
    expect(tok.decode([50364, 15947, 50257], { skipSpecialTokens: true })).toBe('<|0.00|>Hello');
  });
});

describe('GLM-style tokenizer with the real GLM-ASR id layout (base vocab padded to 59246)', () => {
  let ours: Tokenizer;
  let oracles: Oracles;
  beforeAll(() => {
    const json = makeGlmTokenizerJson({ padBaseVocabTo: GLM_ASR_BASE_VOCAB_SIZE });
    ours = Tokenizer.fromJSON(json);
    oracles = makeOracles(json);
  });

  it('puts the special tokens at the checkpoint ids', () => {
    expect(ours.vocabSize).toBe(59264);
    expect(ours.tokenToId('<|endoftext|>')).toBe(59246);
    expect(ours.tokenToId('<|user|>')).toBe(59253);
    expect(ours.tokenToId('<|assistant|>')).toBe(59254);
    expect(ours.tokenToId('<|observation|>')).toBe(59255);
    expect(ours.tokenToId('<|pad|>')).toBe(59260);
    expect(ours.tokenToId('<|begin_of_audio|>')).toBe(59261);
    expect(ours.tokenToId('<|end_of_audio|>')).toBe(59262);
    expect(ours.encode('\n')).toEqual([10]);
  });

  it('encodes and decodes like both references', async () => {
    for (const text of [...GLM_SPECIALS, ...ALL_PLAIN.slice(0, 20)]) {
      const ids = ours.encode(text);
      expect(ids).toEqual(oracles.jsEncode(text, true));
      expect(ids).toEqual(await oracles.rustEncode(text, true));
      expect(ours.decode(ids, { skipSpecialTokens: true })).toBe(await oracles.rustDecode(ids, true));
    }
  });
});
