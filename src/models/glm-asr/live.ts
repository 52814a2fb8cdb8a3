/**
 * Live transcription: PCM pushed as it is captured, text back while someone speaks.
 *
 * @example
 * const live = asr.live({ sampleRate: 48000 });
 * mic.on('data', (pcm: Int16Array) => live.push(pcm));
 * for await (const e of live) {
 *   if (e.type === 'partial') showGrey(e.text);
 *   if (e.type === 'final') appendLine(e.segment);
 * }
 * // elsewhere, when the microphone stops: await live.close();
 *
 * The session holds only the audio of the utterance in progress (bounded by `maxUtteranceSeconds`), so CPU and
 * GPU memory stay flat however long it runs.
 */
import type { GlmAsr, Segment } from './transcriber';

/** Server-side turn detection with the VAD (OpenAI Realtime `server_vad`). */
export interface LiveVadOptions {
  /** Speech probability at or above which speech starts. Default 0.5. */
  threshold?: number;
  /** Quiet time that ends an utterance. Default 500 ms. */
  silenceDurationMs?: number;
  /** Audio kept before the detected start of speech. Default 300 ms. */
  prefixPaddingMs?: number;
}

export interface LiveOptions {
  /** Rate of the pushed PCM, resampled to the model's. Default: the model's rate (16 kHz). */
  sampleRate?: number;
  /** VAD turn detection (default), or `null`: only `commit()` ends an utterance. */
  turnDetection?: LiveVadOptions | null;
  /**
   * Partial text is re-decoded at most this often (ms of new audio); 0 turns partials off. Default 500. Partials
   * are skipped, never finals, when the session would fall behind real time.
   */
  partialIntervalMs?: number;
  /** An utterance this long is committed as it stands. Default: the model's `maxChunkSeconds`. */
  maxUtteranceSeconds?: number;
  /** Finals only (partials are greedy): 1 = greedy (default); > 1 = beam search. */
  beams?: number;
  maxNewTokens?: number;
  /** Name used in error messages. */
  name?: string;
}

/**
 * What a session yields, in order per utterance: speech-started → partials → speech-stopped → committed → final.
 * `item` numbers the utterances from 0. Times are seconds (or ms where named so) from the session's first sample.
 */
export type LiveEvent =
  | { type: 'speech-started'; item: number; audioStartMs: number }
  | { type: 'speech-stopped'; item: number; audioEndMs: number }
  /** The utterance's audio is fixed (VAD end, `commit()` or the length cap); its final follows. */
  | { type: 'committed'; item: number; start: number; end: number }
  /** The whole text of the utterance in progress so far; each partial replaces the previous one. */
  | { type: 'partial'; item: number; text: string }
  /** The utterance transcribed exactly as `asr.transcribe(itsAudio, { segmenter: 'fixed' })` would. */
  | { type: 'final'; item: number; segment: Segment };

export interface LiveSession extends AsyncIterable<LiveEvent> {
  /** Queues PCM (f32 in [-1, 1] or s16) at `sampleRate`; returns at once. Throws on a closed session. */
  push(pcm: Float32Array | Int16Array): void;
  /** Ends the utterance in progress now (manual turns, or a client's commit). No-op without audio. */
  commit(): void;
  /** Drops the audio of the utterance in progress, as if it had not been pushed. */
  clear(): void;
  /** Commits what is pending, waits for its final, then ends the iteration. */
  close(): Promise<void>;
  /** Stops at once: pending work is dropped and the iteration ends. */
  abort(): void;
  /** Audio seconds pushed so far (at the session rate). */
  readonly pushedSeconds: number;
}

/** Opens a live session on `asr` (the engine is shared: sessions run side by side). */
export function openLiveSession(asr: GlmAsr, options: LiveOptions = {}): LiveSession {
  void asr;
  void options;
  throw new Error('live sessions are not implemented yet');
}
