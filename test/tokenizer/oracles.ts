/** Reference tokenizers used as test oracles (dev dependencies only; never imported from src). */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Tokenizer as JsTokenizer } from '@huggingface/tokenizers';
import { Tokenizer as RustTokenizer } from 'tokenizers';

export const WHISPER_TOKENIZER_PATH = fileURLToPath(
  new URL('../../../shared/corpus/tokenizers/whisper-base/tokenizer.json', import.meta.url),
);
/** Why the Whisper tokenizer tests skip (for skipWhen), or null when its tokenizer.json is there. */
export const NO_WHISPER = existsSync(WHISPER_TOKENIZER_PATH)
  ? null
  : `${WHISPER_TOKENIZER_PATH} not found (../shared absent)`;

export function loadWhisperJson(): Record<string, unknown> {
  return JSON.parse(readFileSync(WHISPER_TOKENIZER_PATH, 'utf8')) as Record<string, unknown>;
}

/** Both oracles built from the same tokenizer.json object. */
export interface Oracles {
  js: JsTokenizer;
  rust: RustTokenizer;
  jsEncode(text: string, addSpecialTokens: boolean): number[];
  jsDecode(ids: number[], skipSpecialTokens: boolean): string;
  rustEncode(text: string, addSpecialTokens: boolean): Promise<number[]>;
  rustDecode(ids: number[], skipSpecialTokens: boolean): Promise<string>;
}

export function makeOracles(json: Record<string, unknown>, withJs = true): Oracles {
  // The JS library reads tokenizer_config.json options; pass none so it does no transformers-style cleanup.
  const js = withJs ? new JsTokenizer(json, {}) : (null as unknown as JsTokenizer);
  const rust = RustTokenizer.fromString(JSON.stringify(json));
  return {
    js,
    rust,
    jsEncode: (text, add) => js.encode(text, { add_special_tokens: add }).ids,
    // (the JS library rejects an empty id list instead of returning '')
    jsDecode: (ids, skip) => (ids.length === 0 ? '' : js.decode(ids,
      { skip_special_tokens: skip, clean_up_tokenization_spaces: false })),
    rustEncode: async (text, add) => (await rust.encode(text, null, { addSpecialTokens: add })).getIds(),
    rustDecode: (ids, skip) => rust.decode(ids, skip),
  };
}
