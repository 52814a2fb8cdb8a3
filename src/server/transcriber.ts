/**
 * The contract between the HTTP service and a speech-recognition engine.
 *
 * The server reads and checks the upload itself (header, limits, then the decode to 16 kHz mono in
 * bounded steps) and hands the engine samples only; the real `GlmAsr` class implements this, and
 * the tests plug in a fake. Nothing in here depends on Fastify or on the GPU.
 */

import type { LiveEvent, LiveOptions, LiveSession, LiveVadOptions } from '../models/glm-asr/live';
import type { SegmenterKind } from '../models/glm-asr/options';
import type { Segment, Transcription, TranscribeEvent, TranscribeProgress } from '../models/glm-asr/transcriber';

// The engine's own result types; the server adds nothing to them.
export type {
  LiveEvent, LiveOptions, LiveSession, LiveVadOptions, Segment, SegmenterKind, Transcription, TranscribeEvent,
  TranscribeProgress,
};

export interface TranscribeOptions {
  /** Name of the input for error messages (a file name, a path, a URL). */
  name: string;
  /** Aborts the transcription; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Beam width; 1 = greedy. */
  beams?: number;
  /** Upper bound on generated tokens. */
  maxNewTokens?: number;
  /** How the audio is cut into segments (the engine's default: 'vad'). */
  segmenter?: SegmenterKind;
  /** 'vad': longest chunk in seconds (the engine's default: the model's). */
  maxChunkSeconds?: number;
  onProgress?: (p: TranscribeProgress) => void;
}

/** Decoded audio: mono samples at 16 kHz. */
export interface Samples16k {
  samples: Float32Array;
  sampleRate: 16000;
}

export interface Transcriber {
  /** Where the model came from (a repo id or a folder); the server shows only the repo id or the folder's name. */
  readonly modelId: string;
  /** Widest beam `transcribe` accepts (GlmAsr: `maxBeams` at load). */
  readonly maxBeams: number;
  /** Shortest audio, in seconds, the model can transcribe. */
  readonly minAudioSeconds: number;
  /**
   * Transcriptions that run at once (GlmAsr: `maxBatch` at load; they share encoder batches and decoder steps).
   * The server runs up to this many jobs concurrently, a queue worker takes this many jobs. Absent: 1.
   */
  readonly maxBatch?: number;
  transcribe(audio: Samples16k, options: TranscribeOptions): Promise<Transcription>;
  /** The same transcription as events (segment start / text deltas / segment end, then done), for `stream=true`. */
  transcribeStream(audio: Samples16k, options: TranscribeOptions): AsyncIterable<TranscribeEvent>;
  /**
   * A live session (`GlmAsr.live`) for `GET /v1/realtime`. Optional: a transcriber without it (the `--queue`
   * front end, whose model runs on the workers) answers the realtime endpoint with 501.
   */
  live?(options: LiveOptions): LiveSession;
}

/**
 * True for the decoder's "bad input bytes" error. Checked by name rather than `instanceof` so that
 * a decoder loaded from another bundle is recognised too.
 */
export function isAudioDecodeError(err: unknown): err is Error {
  return err instanceof Error && err.name === 'AudioDecodeError';
}
