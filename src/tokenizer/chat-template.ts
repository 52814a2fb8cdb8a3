import type { Tokenizer } from './tokenizer';

/** `GlmAsrProcessor.default_transcription_prompt`. */
export const DEFAULT_INSTRUCTION = 'Please transcribe this audio into text';
/** Id of `<|pad|>`, the audio placeholder, in GLM-ASR-Nano-2512 (`audio_token_id`). */
export const GLM_ASR_AUDIO_TOKEN_ID = 59260;

export const USER_TOKEN = '<|user|>';
export const ASSISTANT_TOKEN = '<|assistant|>';
export const BEGIN_OF_AUDIO_TOKEN = '<|begin_of_audio|>';
export const END_OF_AUDIO_TOKEN = '<|end_of_audio|>';
export const AUDIO_PAD_TOKEN = '<|pad|>';

const REQUIRED_SPECIAL_TOKENS = [USER_TOKEN, ASSISTANT_TOKEN, BEGIN_OF_AUDIO_TOKEN,
  END_OF_AUDIO_TOKEN, AUDIO_PAD_TOKEN];

export interface TranscriptionPromptOptions {
  /** The user instruction after the audio; trimmed like the chat template does. */
  instruction?: string;
  /** If given, the tokenizer's `<|pad|>` id must equal this (e.g. the checkpoint's `audio_token_id`). */
  audioTokenId?: number;
}

export interface TranscriptionPrompt {
  /** Prompt token ids, with `audioCount` copies of the audio placeholder id. */
  ids: Int32Array;
  /** Index in `ids` of the first audio placeholder. */
  audioStart: number;
  /** Number of audio placeholders (= audio embeddings to scatter in). */
  audioCount: number;
  /** The audio placeholder (`<|pad|>`) id. */
  audioTokenId: number;
}

/**
 * The prompt text exactly as GLM-ASR's chat template renders one user turn with an audio item and a text
 * item (generation prompt on), with the single `<|pad|>` expanded to `audioTokenCount` copies.
 */
export function renderTranscriptionPrompt(audioTokenCount: number, instruction: string = DEFAULT_INSTRUCTION): string {
  return (
    `${USER_TOKEN}\n${BEGIN_OF_AUDIO_TOKEN}${AUDIO_PAD_TOKEN.repeat(audioTokenCount)}${END_OF_AUDIO_TOKEN}` +
    `${USER_TOKEN}\n${instruction.trim()}${ASSISTANT_TOKEN}\n`
  );
}

/**
 * Token ids of the GLM-ASR transcription prompt. Equal to encoding `renderTranscriptionPrompt(...)` without
 * post-processor tokens (the chat template already contains every special token), but built piecewise so
 * the N placeholders never go through the tokenizer.
 */
export function buildTranscriptionPrompt(
  tokenizer: Tokenizer,
  audioTokenCount: number,
  options: TranscriptionPromptOptions = {},
): TranscriptionPrompt {
  if (!Number.isInteger(audioTokenCount) || audioTokenCount < 0) {
    throw new RangeError(`audioTokenCount must be a non-negative integer, got ${audioTokenCount}`);
  }
  const missing = REQUIRED_SPECIAL_TOKENS.filter((t) => {
    const id = tokenizer.tokenToId(t);
    return id === undefined || tokenizer.addedToken(id)?.content !== t;
  });
  if (missing.length > 0) {
    throw new Error(
      `tokenizer lacks the GLM-ASR prompt tokens ${missing.join(', ')} as added tokens; is this the ` +
        `GLM-ASR tokenizer.json?`,
    );
  }
  const padId = tokenizer.tokenToId(AUDIO_PAD_TOKEN)!;
  if (options.audioTokenId !== undefined && options.audioTokenId !== padId) {
    throw new Error(`tokenizer maps ${AUDIO_PAD_TOKEN} to id ${padId}, but the model's audio token id is ` +
      `${options.audioTokenId}`);
  }
  const instruction = options.instruction ?? DEFAULT_INSTRUCTION;
  // Encode the template with a single placeholder; special tokens are atomic, so the text around the
  // placeholder tokenizes the same whatever the number of placeholders, and we splice in N copies.
  const base = tokenizer.encode(renderTranscriptionPrompt(1, instruction), { addSpecialTokens: false });
  const at = base.indexOf(padId);
  if (at < 0 || base.indexOf(padId, at + 1) >= 0) {
    throw new Error(`expected exactly one ${AUDIO_PAD_TOKEN} in the rendered prompt (does the ` +
      `instruction contain it?)`);
  }
  const ids = new Int32Array(base.length - 1 + audioTokenCount);
  ids.set(base.slice(0, at), 0);
  ids.fill(padId, at, at + audioTokenCount);
  ids.set(base.slice(at + 1), at + audioTokenCount);
  return { ids, audioStart: at, audioCount: audioTokenCount, audioTokenId: padId };
}
