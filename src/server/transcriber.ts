/**
 * The contract between the HTTP service (and the CLI) and a speech-recognition engine.
 *
 * The server only ever talks to a `Transcriber`; the real `GlmAsr` class implements it, and the
 * tests plug in a fake. Nothing in here depends on Fastify or on the GPU.
 */

import type { Segment, Transcription, TranscribeProgress } from '../models/glm-asr/transcriber';

// The engine's own result types; the server adds nothing to them.
export type { Segment, Transcription, TranscribeProgress };

export interface TranscribeOptions {
  /** Name of the input for error messages (a file name, a path, a URL). */
  name: string;
  /** Aborts the transcription; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Beam width; 1 = greedy. */
  beams?: number;
  /** Upper bound on generated tokens. */
  maxNewTokens?: number;
  onProgress?: (p: TranscribeProgress) => void;
}

export interface Transcriber {
  readonly modelId: string;
  /**
   * audio: encoded file bytes (wav/flac/mp3/...); `options.name` is used in error messages.
   * Throws an error whose `name` is 'AudioDecodeError' when the audio is corrupt or unsupported.
   */
  transcribe(audio: Uint8Array, options: TranscribeOptions): Promise<Transcription>;
  /**
   * Duration in seconds of encoded audio without running the model (used for the
   * max-audio-seconds limit). Throws an error named 'AudioDecodeError' when the audio is corrupt.
   */
  probeDuration(audio: Uint8Array, name: string): Promise<number>;
}

/**
 * True for the decoder's "bad input bytes" error. Checked by name rather than `instanceof` so that
 * an engine loaded from another bundle (or a fake) is recognised too.
 */
export function isAudioDecodeError(err: unknown): err is Error {
  return err instanceof Error && err.name === 'AudioDecodeError';
}
