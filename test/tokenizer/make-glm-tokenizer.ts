/**
 * Builds a small GLM-style byte-level BPE tokenizer.json for tests, without any download.
 *
 * Layout mirrors GLM-ASR-Nano-2512's tokenizer: the 256 byte tokens first (byte b has id b, so "\n" is 10),
 * then tokens learned by a tiny BPE trainer run here over a fixed multilingual text, then the 18 GLM
 * special tokens appended as added tokens. Pre-tokenizer: `Split` with the GLM-4 regex (Isolated)
 * followed by `ByteLevel` with `use_regex: false`; decoder ByteLevel.
 *
 * With `padBaseVocabTo: 59246` the special tokens get the real checkpoint ids (`<|endoftext|>` = 59246,
 * `<|user|>` = 59253, `<|pad|>` = 59260, ...), useful for end-to-end tests of the prompt and stop ids.
 *
 * Self-contained on purpose (own byte map, own regex): it is an independent reference for the tokenizer
 * under test, and it runs in Node and in browsers.
 */

/** GLM-4's pre-tokenizer pattern, in the Oniguruma syntax tokenizer.json uses. */
export const GLM_SPLIT_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}|" +
    " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** The same pattern hand-translated for JS (used only by the trainer below). */
const GLM_SPLIT_JS = new RegExp(
  String.raw`'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|` +
    String.raw` ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
  'gu',
);

/** The 18 added tokens after the base vocabulary, in id order (GLM-4 family layout). */
export const GLM_SPECIAL_TOKENS = [
  '<|endoftext|>',
  '[MASK]',
  '[gMASK]',
  '[sMASK]',
  '<sop>',
  '<eop>',
  '<|system|>',
  '<|user|>',
  '<|assistant|>',
  '<|observation|>',
  '<|begin_of_image|>',
  '<|end_of_image|>',
  '<|begin_of_video|>',
  '<|end_of_video|>',
  '<|pad|>',
  '<|begin_of_audio|>',
  '<|end_of_audio|>',
  // The real checkpoint's 18th added token (id 59263) is undocumented; named as weights-tools/make_checkpoint.py does.
  '<|endofaudio|>',
] as const;

/** Base vocabulary size of the real GLM-ASR-Nano-2512 tokenizer (special tokens start here). */
export const GLM_ASR_BASE_VOCAB_SIZE = 59246;

/** Training text: English, Mandarin and Cantonese, with the prompt phrases the tests use. */
export const GLM_TRAINING_TEXT = [
  'Please transcribe this audio into text. Please transcribe this audio into text.',
  'The quick brown fox jumps over the lazy dog. The dog is not amused, and the fox is very quick.',
  "It's a speech recognition model that runs in the browser. We're testing the tokenizer, and " +
    "they'll see that it works.",
  "I'm sure you've heard this before: don't trust a tokenizer you haven't tested! He'd say the same thing.",
  'Speech recognition turns spoken audio into written text; the text is then returned to the user.',
  'There are 365 days in a year, 24 hours in a day, and 60 minutes in an hour. Call 555-0100 at 10:30.',
  'Hello, world! How are you today? I am fine, thank you. And you? This is the end of the sentence.',
  'Transcription of speech, translation of speech, and recognition of speakers are different tasks.',
  '今天天气很好，我们一起去公园散步吧。语音识别模型把音频转换成文字。请把这段音频转写成文字。',
  '我们正在测试分词器，中文和英文混合的句子也要正确处理。这个模型支持普通话和粤语。',
  '佢哋喺度食緊飯。我哋聽日去邊度飲茶啊？唔該晒，你講嘢好清楚。佢話今日好忙，唔得閒。',
  '粵語同普通話唔同，好多字都係廣東話先有嘅。我哋而家喺香港，天氣好熱。',
  'Numbers like 1234567 and 3.14159 appear in speech too: 2025-12-27, 100%, $42.50.',
  "Sam met Tom, Mom and Dad. Sam said 'Tis true, Dad. Sam, Tom, Mom, Dad, Sam and Tim. REally VEry LLama SOme",
  'The end. The end. The end of the audio is near, and the text is almost done.',
].join('\n');

function byteToChar(): string[] {
  const keep = (b: number): boolean => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const out = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCharCode(keep(b) ? b : 256 + extra++);
  return out;
}

export interface GlmTokenizerOptions {
  /** Number of merges to learn (fewer if the training text runs out of repeated pairs). Default 400. */
  merges?: number;
  /** Extra training text appended to GLM_TRAINING_TEXT. */
  extraTrainingText?: string;
  /** Pad the base vocabulary with unreachable filler tokens up to this size (e.g. 59246). */
  padBaseVocabTo?: number;
  /** Post-processor: none (GLM-ASR evidence), or a TemplateProcessing that prepends [gMASK]<sop>. */
  postProcessor?: 'none' | 'gmask-sop';
  /** Write merges as "a b" strings (default) or ["a", "b"] pairs. */
  mergesFormat?: 'string' | 'array';
  /** `model.ignore_merges`. Default false. */
  ignoreMerges?: boolean;
}

/** Learns `count` merges over `text` (deterministic: most frequent pair, ties by smaller pair string). */
function trainMerges(text: string, count: number, b2c: string[]): Array<[string, string]> {
  const enc = new TextEncoder();
  const wordCounts = new Map<string, number>();
  for (const m of text.matchAll(GLM_SPLIT_JS)) {
    let mapped = '';
    for (const b of enc.encode(m[0])) mapped += b2c[b];
    wordCounts.set(mapped, (wordCounts.get(mapped) ?? 0) + 1);
  }
  const words: Array<{ symbols: string[]; count: number }> = [...wordCounts].map(([w, c]) =>
    ({ symbols: [...w], count: c }));
  const merges: Array<[string, string]> = [];
  while (merges.length < count) {
    const pairCounts = new Map<string, number>();
    for (const w of words) {
      for (let k = 0; k + 1 < w.symbols.length; k++) {
        const key = w.symbols[k] + ' ' + w.symbols[k + 1];
        pairCounts.set(key, (pairCounts.get(key) ?? 0) + w.count);
      }
    }
    let best: string | null = null;
    let bestCount = 1; // require a pair to occur at least twice
    for (const [key, c] of pairCounts) {
      if (c > bestCount || (c === bestCount && best !== null && key < best)) {
        best = key;
        bestCount = c;
      }
    }
    if (best === null) break;
    const sp = best.indexOf(' ');
    const a = best.slice(0, sp);
    const b = best.slice(sp + 1);
    merges.push([a, b]);
    for (const w of words) {
      const s = w.symbols;
      const merged: string[] = [];
      for (let k = 0; k < s.length; k++) {
        if (k + 1 < s.length && s[k] === a && s[k + 1] === b) {
          merged.push(a + b);
          k++;
        } else {
          merged.push(s[k]);
        }
      }
      w.symbols = merged;
    }
  }
  return merges;
}

/** Returns a tokenizer.json object (plain JSON data) for a small GLM-style tokenizer. */
export function makeGlmTokenizerJson(options: GlmTokenizerOptions = {}): Record<string, unknown> {
  const b2c = byteToChar();
  const vocab: Record<string, number> = {};
  let size = 0;
  for (let b = 0; b < 256; b++) vocab[b2c[b]] = size++;
  const text = options.extraTrainingText ? GLM_TRAINING_TEXT + '\n' + options.extraTrainingText : GLM_TRAINING_TEXT;
  const merges = trainMerges(text, options.merges ?? 400, b2c);
  for (const [a, b] of merges) if (vocab[a + b] === undefined) vocab[a + b] = size++;
  if (options.padBaseVocabTo !== undefined) {
    if (options.padBaseVocabTo < size) throw new Error(`padBaseVocabTo ${options.padBaseVocabTo} ` +
      `< learned vocab ${size}`);
    // A real space never survives byte-level pre-tokenization, so these can never be produced.
    while (size < options.padBaseVocabTo) vocab[`filler ${size}`] = size++;
  }
  const added = GLM_SPECIAL_TOKENS.map((content, k) => ({
    id: size + k,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const post =
    options.postProcessor === 'gmask-sop'
      ? {
          type: 'TemplateProcessing',
          single: [{ SpecialToken: { id: '[gMASK]', type_id: 0 } }, { SpecialToken: { id: '<sop>', type_id: 0 } },
            { Sequence: { id: 'A', type_id: 0 } }],
          pair: [
            { SpecialToken: { id: '[gMASK]', type_id: 0 } },
            { SpecialToken: { id: '<sop>', type_id: 0 } },
            { Sequence: { id: 'A', type_id: 0 } },
            { Sequence: { id: 'B', type_id: 1 } },
          ],
          special_tokens: {
            '[gMASK]': { id: '[gMASK]', ids: [size + 2], tokens: ['[gMASK]'] },
            '<sop>': { id: '<sop>', ids: [size + 4], tokens: ['<sop>'] },
          },
        }
      : null;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: GLM_SPLIT_PATTERN }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: post,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: options.ignoreMerges ?? false,
      vocab,
      merges: options.mergesFormat === 'array' ? merges.map(([a, b]) => [a, b]) : merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}

/** Id of a special token in a tokenizer built by makeGlmTokenizerJson. */
export function glmSpecialId(json: Record<string, unknown>, token: (typeof GLM_SPECIAL_TOKENS)[number]): number {
  const added = json.added_tokens as Array<{ id: number; content: string }>;
  const hit = added.find((t) => t.content === token);
  if (!hit) throw new Error(`no ${token}`);
  return hit.id;
}
