/**
 * The one error type the audio front end throws for bad input bytes.
 *
 * The message always starts with the file name the caller passed in, then says what is wrong and,
 * when the problem sits at a known place in the file, the byte offset — e.g.
 * `clip.wav: fmt chunk at byte 12 is 8 bytes, need 16`.
 */
export class AudioDecodeError extends Error {
  override readonly name = 'AudioDecodeError';
  /** 'audio_too_long' when the audio is over the caller's `maxSeconds`; otherwise the input is invalid. */
  readonly code: 'invalid_audio' | 'audio_too_long';

  constructor(
    /** The name the caller gave for the input (a path, a URL, a label). */
    readonly fileName: string,
    /** What is wrong, without the file name (the message prefixes it). */
    readonly problem: string,
    /** Byte offset in the input where the problem was found, when there is one. */
    readonly byteOffset?: number,
    options?: { cause?: unknown; code?: 'audio_too_long' },
  ) {
    super(`${fileName}: ${problem}`, options);
    this.code = options?.code ?? 'invalid_audio';
  }
}
