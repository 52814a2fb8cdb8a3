/** Conformance corpus: strings chosen to hit every branch of pre-tokenization, BPE and decoding. */

export const ENGLISH = [
  'Hello world',
  'The quick brown fox jumps over the lazy dog.',
  'Please transcribe this audio into text',
  'Wait... what?! No -- really; (yes) [maybe] {ok} "quoted" \'single\' `tick`',
  'e.g. i.e. Mr. Smith & Co., 3 p.m. #hashtag @user ~tilde^ 50% off*',
  'function f(x) { return x * 2; } // comment',
  'https://example.com/path?q=1&r=2#frag',
];

export const CONTRACTIONS = [
  "I'm here, you're there, we've gone, they'll come, he'd know, it's fine, don't stop",
  "I'M HERE, YOU'RE THERE, WE'VE GONE, THEY'LL COME, HE'D KNOW, IT'S FINE, DON'T STOP",
  "They'Ll mIxEd'S cAsE'd 'T 'Re 'vE 'M 'lL 'D",
  "y'all'd've 'twas rock'n'roll o'clock",
  "'s's's ''s '",
  "x'\u017fam x'\u212Aing x'\u017f x'S x'sa",
  "'Sam 'TIS 'Twas 'REally 'VEry 'Mom 'LLama 'Dad 'sO 'ſ 'K",
];

export const CJK = [
  '今天天气很好，我们一起去公园散步吧。',
  '语音识别模型把音频转换成文字。',
  '佢哋喺度食緊飯',
  '我哋聽日去邊度飲茶啊？唔該晒！',
  '粵語同普通話唔同，好多字都係廣東話先有嘅。',
  '日本語のテキストも大丈夫です。カタカナ、ひらがな。',
  '한국어 문장도 테스트합니다.',
  '𠜎𠜱𠝹𠱓 (astral CJK Extension B)',
];

export const OTHER_SCRIPTS = [
  'Привет, мир! Ёжик.',
  'Γειά σου Κόσμε',
  'مرحبا بالعالم',
  'नमस्ते दुनिया',
  'สวัสดีชาวโลก',
  'Ünïcödé naïve café résumé — façade',
  'e\u0301 vs \u00e9, ǅ, ſ, İstanbul, straße, ﬁ ligature',
];

export const EMOJI = [
  '👍',
  '👍🏽 thumbs',
  '👨‍👩‍👧‍👦 family',
  '🏳️‍🌈 flag and 🇭🇰🇨🇳 regional indicators',
  '🧑🏿‍🚀🚀🌕 to the moon',
  'text😀text😀😀',
  '❤️‍🔥 ☕ ✔︎',
];

export const DIGITS = [
  '1234567890123456789012345678901234567890',
  '3.14159 2025-12-27 1,000,000 0.5% $42.50 10:30',
  'a1b22c333d4444',
  '١٢٣٤ ۱۲۳ ①②③ ½ Ⅻ',
];

export const WHITESPACE = [
  '',
  ' ',
  '   ',
  'a    b',
  '   leading spaces',
  'trailing spaces   ',
  '\t\tindented\twith tabs',
  'line1\nline2\r\nline3\rline4',
  '\n\n\n',
  ' \n \n ',
  'end with newline\n',
  'x\u3000y\u00a0z\u2003w',
  'a\u0085b \u0085 c',
  'a \u0085b x \uFEFFy \u0085\u0085 z \uFEFF\uFEFF w\u0085',
  '\uFEFFstarts with BOM',
  'zero\u200Bwidth\u200Djoiner',
  'spaces before\n  indented\n\n    code',
];

export const MIXED = [
  'GLM-ASR支持English和粵語mixed輸入123次',
  '我喜欢Python3和TypeScript 5.9！OK？',
  'Hello 世界 🌍 123 привет',
  '佢講: "I don\'t know" 然後走咗。',
];

/** Text with special / added tokens embedded (the tokens exist in GLM-style tokenizers). */
export const GLM_SPECIALS = [
  '<|user|>\nhello<|assistant|>\n',
  'text<|endoftext|>more text',
  '<|pad|><|pad|><|pad|>',
  '<|user|>\n<|begin_of_audio|><|pad|><|pad|><|end_of_audio|><|user|>\nPlease transcribe this audio ' +
    'into text<|assistant|>\n',
  'partial <|pad| and <|user and |>',
  '<<|user|>> [[gMASK]] <sop><eop>[MASK][sMASK]',
  ' <|user|> spaced <|assistant|> ',
  '<|system|>你是助手<|observation|>佢哋<|end_of_image|>',
  '<|endofaudio|><|begin_of_video|><|end_of_video|><|begin_of_image|>',
];

/** Text with Whisper's special and timestamp tokens embedded. */
export const WHISPER_SPECIALS = [
  '<|startoftranscript|><|en|><|transcribe|><|notimestamps|> Hello.<|endoftext|>',
  '<|0.00|> First segment.<|2.50|><|2.50|> Second.<|5.00|>',
  'a<|en|>b<|zh|>中文<|yue|>粵語',
  '<|endoftext|><|endoftext|>',
  'not a token: <|xx|> <|0.001|> < |en| >',
];

export const ALL_PLAIN = [...ENGLISH, ...CONTRACTIONS, ...CJK, ...OTHER_SCRIPTS, ...EMOJI, ...DIGITS,
  ...WHITESPACE, ...MIXED];

/** One long text made of everything (exercises cache reuse and long inputs). */
export const LONG_TEXT = ALL_PLAIN.join(' \n').repeat(3);
