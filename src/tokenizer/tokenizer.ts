import { AddedTokenMatcher, parseAddedToken, type AddedToken, type Segment } from './added-tokens';
import { appendTokenBytes } from './byte-level';
import { BpeModel } from './bpe-model';
import { TokenizerConfigError, describe, expectArray, expectObject } from './errors';
import { buildNormalizer, type Normalizer } from './normalizer';
import { buildPostProcessor, type PostProcessor } from './post-processor';
import { buildPreTokenizer, type PreTokenizer } from './pre-tokenizer';

export interface EncodeOptions {
  /** Apply the post-processor (e.g. TemplateProcessing's BOS/EOS). Default true, as in HF tokenizers. */
  addSpecialTokens?: boolean;
}

export interface FromJsonOptions {
  /** The file named in errors, e.g. its path; default `tokenizer.json`. */
  file?: string;
}

export interface DecodeOptions {
  /** Drop added tokens marked `special`. Default false, as in HF tokenizers. */
  skipSpecialTokens?: boolean;
}

type DecoderKind = 'ByteLevel' | 'none';

/** Incremental detokenizer: feed ids one at a time, get the text that is complete so far. */
export interface StreamingDecoder {
  /** Adds one id; returns the newly completed text (may be '' while a UTF-8 character is unfinished). */
  push(id: number): string;
  /** Ends the stream; returns any held-back text (an unfinished character becomes U+FFFD). */
  flush(): string;
}

function newUtf8Decoder(): TextDecoder {
  // ignoreBOM: keep a leading U+FEFF like the reference (Rust from_utf8_lossy) does.
  return new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
}

/**
 * A Hugging Face `tokenizer.json` tokenizer for byte-level BPE models (GPT-2, Whisper, GLM-4, Llama 3,
 * Qwen2 style). Pure TypeScript, synchronous, no platform APIs beyond TextEncoder/TextDecoder.
 */
export class Tokenizer {
  private readonly model: BpeModel;
  private readonly normalizer: Normalizer | null;
  private readonly preTokenizer: PreTokenizer | null;
  private readonly postProcessor: PostProcessor | null;
  private readonly decoder: DecoderKind;
  private readonly addedById = new Map<number, AddedToken>();
  private readonly addedByContent = new Map<string, AddedToken>();
  private readonly specialContents = new Set<string>();
  private readonly rawMatcher: AddedTokenMatcher;
  private readonly normalizedMatcher: AddedTokenMatcher;
  /** All added tokens in file order. */
  readonly addedTokens: readonly AddedToken[];
  /** One more than the largest id of the model vocabulary or the added tokens. */
  readonly vocabSize: number;

  private constructor(json: Record<string, unknown>) {
    if (json.model === undefined) throw new TokenizerConfigError('model',
      'missing (a tokenizer.json needs a "model" object)');
    this.model = new BpeModel(json.model, 'model');
    this.normalizer = buildNormalizer(json.normalizer, 'normalizer');
    this.preTokenizer = buildPreTokenizer(json.pre_tokenizer, 'pre_tokenizer')?.run ?? null;
    this.postProcessor = buildPostProcessor(json.post_processor, 'post_processor');
    this.decoder = Tokenizer.parseDecoder(json.decoder);

    const added = json.added_tokens === undefined || json.added_tokens === null ? [] :
      expectArray(json.added_tokens, 'added_tokens');
    this.addedTokens = added.map((t, k) => parseAddedToken(t, `added_tokens[${k}]`));
    for (const t of this.addedTokens) {
      if (!this.addedById.has(t.id)) this.addedById.set(t.id, t);
      if (!this.addedByContent.has(t.content)) this.addedByContent.set(t.content, t);
      if (t.special) this.specialContents.add(t.content);
    }
    this.rawMatcher = new AddedTokenMatcher(this.addedTokens.filter((t) => !t.normalized));
    this.normalizedMatcher = new AddedTokenMatcher(
      this.addedTokens.filter((t) => t.normalized).map((t) =>
        (this.normalizer ? { ...t, content: this.normalizer(t.content) } : t)),
    );

    let maxId = -1;
    for (const id of this.model.idToToken.keys()) if (id > maxId) maxId = id;
    for (const id of this.addedById.keys()) if (id > maxId) maxId = id;
    this.vocabSize = maxId + 1;
  }

  private static parseDecoder(value: unknown): DecoderKind {
    if (value === null || value === undefined) return 'none';
    const obj = expectObject(value, 'decoder');
    if (obj.type === 'ByteLevel') return 'ByteLevel';
    throw new TokenizerConfigError('decoder.type', `unsupported decoder type ${describe(obj.type)} ` +
      `(supported: ByteLevel or null)`);
  }

  /**
   * Builds a tokenizer from the parsed contents of tokenizer.json (or its text). Throws TokenizerConfigError
   * naming `options.file` and the field for malformed or unsupported content.
   */
  static fromJSON(json: unknown, options: FromJsonOptions = {}): Tokenizer {
    try {
      if (typeof json === 'string') {
        try {
          json = JSON.parse(json) as unknown;
        } catch (e) {
          throw new TokenizerConfigError('(root)', `not valid JSON: ${(e as Error).message}`);
        }
      }
      return new Tokenizer(expectObject(json, '(root)'));
    } catch (e) {
      // The builders know fields, not the file: name it here.
      if (!(e instanceof TokenizerConfigError) || options.file === undefined) throw e;
      throw new TokenizerConfigError(e.field, e.problem, options.file);
    }
  }

  /** Splits text into added tokens and plain-text pieces (normalized), in order. */
  private segment(text: string): Segment[] {
    const raw: Segment[] = [];
    this.rawMatcher.split(text, raw);
    const out: Segment[] = [];
    for (const seg of raw) {
      if (seg.token) {
        out.push(seg);
        continue;
      }
      const normalized = this.normalizer ? this.normalizer(seg.text) : seg.text;
      this.normalizedMatcher.split(normalized, out);
    }
    return out;
  }

  /** Token ids of `text`. Added tokens (special or not) in the text are always matched atomically. */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const ids: number[] = [];
    const words: string[] = [];
    for (const seg of this.segment(text)) {
      if (seg.token) {
        ids.push(seg.token.id);
        continue;
      }
      words.length = 0;
      if (this.preTokenizer) this.preTokenizer(seg.text, words);
      else words.push(seg.text);
      for (const w of words) for (const id of this.model.tokenize(w)) ids.push(id);
    }
    if ((options.addSpecialTokens ?? true) && this.postProcessor) return this.postProcessor(ids);
    return ids;
  }

  /** Token strings of `text` (no post-processing); handy for debugging. */
  tokenize(text: string): string[] {
    return this.encode(text, { addSpecialTokens: false }).map((id) => this.idToToken(id)!);
  }

  /** Id of a token string (added tokens first, then the model vocabulary). */
  tokenToId(token: string): number | undefined {
    return this.addedByContent.get(token)?.id ?? this.model.vocab.get(token);
  }

  /** Token string of an id (added tokens first, then the model vocabulary). */
  idToToken(id: number): string | undefined {
    return this.addedById.get(id)?.content ?? this.model.idToToken.get(id);
  }

  /** The added token with this id, if any. */
  addedToken(id: number): AddedToken | undefined {
    return this.addedById.get(id);
  }

  /** True if `id` is an added token marked special (what skipSpecialTokens drops). */
  isSpecialId(id: number): boolean {
    const t = this.idToToken(id);
    return t !== undefined && this.specialContents.has(t);
  }

  /** Token string for decoding, or undefined when the id is unknown or skipped. */
  private decodeToken(id: number, skipSpecial: boolean): string | undefined {
    const t = this.idToToken(id);
    if (t === undefined) return undefined; // unknown ids are ignored, as in the reference
    if (skipSpecial && this.specialContents.has(t)) return undefined;
    return t;
  }

  /**
   * Text of `ids`. Byte-level tokens are turned into bytes first and the whole byte string is decoded
   * as UTF-8 at the end, so characters split across tokens come out whole.
   */
  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const skip = options.skipSpecialTokens ?? false;
    if (this.decoder === 'none') {
      const parts: string[] = [];
      for (let k = 0; k < ids.length; k++) {
        const t = this.decodeToken(ids[k], skip);
        if (t !== undefined) parts.push(t);
      }
      return parts.join(' ');
    }
    const bytes: number[] = [];
    for (let k = 0; k < ids.length; k++) {
      const t = this.decodeToken(ids[k], skip);
      if (t !== undefined) appendTokenBytes(t, bytes);
    }
    return newUtf8Decoder().decode(new Uint8Array(bytes));
  }

  /**
   * A decoder for generated ids arriving one by one. The concatenation of everything it returns equals
   * `decode(allIds, options)`.
   */
  createStreamingDecoder(options: DecodeOptions = {}): StreamingDecoder {
    const skip = options.skipSpecialTokens ?? false;
    if (this.decoder === 'none') {
      let first = true;
      return {
        push: (id) => {
          const t = this.decodeToken(id, skip);
          if (t === undefined) return '';
          const s = first ? t : ' ' + t;
          first = false;
          return s;
        },
        flush: () => '',
      };
    }
    const utf8 = newUtf8Decoder();
    const bytes: number[] = [];
    return {
      push: (id) => {
        const t = this.decodeToken(id, skip);
        if (t === undefined) return '';
        bytes.length = 0;
        appendTokenBytes(t, bytes);
        return utf8.decode(new Uint8Array(bytes), { stream: true });
      },
      flush: () => utf8.decode(),
    };
  }
}
