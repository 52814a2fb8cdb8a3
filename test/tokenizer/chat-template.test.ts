import { describe, expect, it } from 'vitest';
import {
  DEFAULT_INSTRUCTION,
  GLM_ASR_AUDIO_TOKEN_ID,
  Tokenizer,
  buildTranscriptionPrompt,
  renderTranscriptionPrompt,
} from '../../src/tokenizer';
import { GLM_ASR_BASE_VOCAB_SIZE, makeGlmTokenizerJson } from './make-glm-tokenizer';
import { skipWhen } from '../helpers/skip';
import { NO_WHISPER, loadWhisperJson, makeOracles } from './oracles';

describe('renderTranscriptionPrompt', () => {
  it('renders the chat template text of the spec', () => {
    expect(renderTranscriptionPrompt(1)).toBe(
      '<|user|>\n<|begin_of_audio|><|pad|><|end_of_audio|><|user|>\nPlease transcribe this audio ' +
        'into text<|assistant|>\n',
    );
    expect(renderTranscriptionPrompt(3, '  Transcribe.  ')).toBe(
      '<|user|>\n<|begin_of_audio|><|pad|><|pad|><|pad|><|end_of_audio|><|user|>\nTranscribe.<|assistant|>\n',
    );
    expect(DEFAULT_INSTRUCTION).toBe('Please transcribe this audio into text');
  });
});

describe('buildTranscriptionPrompt (GLM-ASR id layout)', () => {
  const json = makeGlmTokenizerJson({ padBaseVocabTo: GLM_ASR_BASE_VOCAB_SIZE });
  const tok = Tokenizer.fromJSON(json);

  it('has the layout [<|user|>, \\n, <|begin_of_audio|>, <|pad|>×N, <|end_of_audio|>, <|user|>, \\n, …, ' +
    '<|assistant|>, \\n]', () => {
    const n = 7;
    const p = buildTranscriptionPrompt(tok, n, { audioTokenId: GLM_ASR_AUDIO_TOKEN_ID });
    const ids = Array.from(p.ids);
    expect(p.ids).toBeInstanceOf(Int32Array);
    expect(p.audioStart).toBe(3);
    expect(p.audioCount).toBe(n);
    expect(p.audioTokenId).toBe(59260);
    expect(ids.slice(0, 3)).toEqual([59253, 10, 59261]);
    expect(ids.slice(3, 3 + n)).toEqual(new Array(n).fill(59260));
    expect(ids.slice(3 + n, 3 + n + 3)).toEqual([59262, 59253, 10]);
    expect(ids.slice(-2)).toEqual([59254, 10]);
    expect(ids.filter((id) => id === 59260).length).toBe(n);
    const instruction = ids.slice(3 + n + 3, -2);
    expect(tok.decode(instruction)).toBe(DEFAULT_INSTRUCTION);
    expect(ids.length).toBe(8 + n + instruction.length);
  });

  it('equals encoding the full rendered string, for several N (our tokenizer and both references)', async () => {
    const oracles = makeOracles(json);
    for (const n of [0, 1, 2, 13, 375, 1500]) {
      const p = buildTranscriptionPrompt(tok, n);
      const text = renderTranscriptionPrompt(n);
      const full = tok.encode(text, { addSpecialTokens: false });
      expect(Array.from(p.ids)).toEqual(full);
      if (n <= 13) {
        expect(full).toEqual(oracles.jsEncode(text, false));
        expect(full).toEqual(await oracles.rustEncode(text, false));
      }
      expect(tok.decode(p.ids)).toBe(text);
    }
  });

  it('uses a custom instruction (trimmed) and never adds post-processor tokens', () => {
    const withTemplate = Tokenizer.fromJSON(makeGlmTokenizerJson({ padBaseVocabTo: GLM_ASR_BASE_VOCAB_SIZE,
      postProcessor: 'gmask-sop' }));
    // The template would prepend [gMASK]<sop> in a plain encode ...
    expect(withTemplate.encode('hi').slice(0, 2)).toEqual([59248, 59250]);
    // ... but the prompt is the chat template only.
    const p = buildTranscriptionPrompt(withTemplate, 2, { instruction: '  请转写这段音频  ' });
    expect(Array.from(p.ids.slice(0, 3))).toEqual([59253, 10, 59261]);
    expect(withTemplate.decode(p.ids)).toBe(renderTranscriptionPrompt(2, '请转写这段音频'));
  });

  it('rejects a wrong audio token id, bad counts, and an instruction containing <|pad|>', () => {
    expect(() => buildTranscriptionPrompt(tok, 4, { audioTokenId: 12345 }))
      .toThrow(/<\|pad\|> to id 59260, but the model's audio token id is 12345/);
    expect(() => buildTranscriptionPrompt(tok, -1)).toThrow(RangeError);
    expect(() => buildTranscriptionPrompt(tok, 2.5)).toThrow(RangeError);
    expect(() => buildTranscriptionPrompt(tok, 2, { instruction: 'say <|pad|>' })).toThrow(/exactly one <\|pad\|>/);
  });

  it('errors clearly when the tokenizer lacks the prompt special tokens', () => {
    const j = makeGlmTokenizerJson();
    j.added_tokens = (j.added_tokens as Array<{ content: string }>).filter((t) => t.content !== '<|begin_of_audio|>' &&
      t.content !== '<|pad|>');
    expect(() => buildTranscriptionPrompt(Tokenizer.fromJSON(j), 3))
      .toThrow(/lacks the GLM-ASR prompt tokens <\|begin_of_audio\|>, <\|pad\|>/);
  });
});

describe('buildTranscriptionPrompt with a non-GLM tokenizer', skipWhen(NO_WHISPER), () => {
  it('names the missing tokens', () => {
    const tok = Tokenizer.fromJSON(loadWhisperJson());
    expect(() => buildTranscriptionPrompt(tok, 3))
      .toThrow(/<\|user\|>, <\|assistant\|>, <\|begin_of_audio\|>, <\|end_of_audio\|>, <\|pad\|>/);
  });
});
