/**
 * A stand-in for the GPU engine, so the server is tested without a model (the server's own audio
 * path — header checks, decoding, resampling — is the real one; only the model is fake).
 *
 * - The text is derived from sha256 of the 16 kHz samples it receives: different audio gives
 *   different texts, the same audio always the same. `fakeText(wav)` / `audioId(wav)` compute them
 *   for a 16 kHz mono WAV (whose samples the server passes through bit-exact).
 * - `maxBeams` (default 8) and `minAudioSeconds` (961 samples, as GlmAsr) are what the server reads.
 * - `delayMs` makes each transcription take that long (honouring the AbortSignal), to exercise
 *   the queue. Every call is recorded.
 */
import { createHash } from 'node:crypto';
import { parseWav } from '../../src/audio/wav';
import type {
  Samples16k, Segment, TranscribeEvent, TranscribeOptions, Transcriber, Transcription,
} from '../../src/server/transcriber';

export interface FakeTranscriberOptions {
  modelId?: string;
  /** Default 8. */
  maxBeams?: number;
  /** Milliseconds each transcription takes. Default 0. */
  delayMs?: number;
  /** When set, transcribe() throws this (after the delay). */
  failWith?: Error;
}

export interface FakeCall {
  name: string;
  /** First 12 hex digits of sha256(samples). */
  id: string;
  beams?: number;
  maxNewTokens?: number;
  maxChunkSeconds?: number;
  outcome: 'running' | 'done' | 'aborted' | 'failed';
}

/** sha256 of the samples' bytes, 1 MiB per event-loop turn: a fake model must not block the server either. */
async function samplesId(samples: Float32Array): Promise<string> {
  const bytes = new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
  const hash = createHash('sha256');
  for (let at = 0; at < bytes.length; at += 1 << 20) {
    hash.update(bytes.subarray(at, at + (1 << 20)));
    await new Promise((r) => setImmediate(r));
  }
  return hash.digest('hex').slice(0, 12);
}

function samplesIdSync(samples: Float32Array): string {
  const bytes = new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
  return createHash('sha256').update(bytes).digest('hex').slice(0, 12);
}

const textOf = (id: string) => `Hello from the fake engine. Audio ${id}.`;

/** The id the fake records for this 16 kHz mono WAV. */
export function audioId(wav: Uint8Array): string {
  return samplesIdSync(parseWav(wav, 'expected').channels[0]);
}

/** The text the fake returns for this 16 kHz mono WAV. */
export function fakeText(wav: Uint8Array): string {
  return textOf(audioId(wav));
}

export class FakeTranscriber implements Transcriber {
  readonly modelId: string;
  readonly maxBeams: number;
  readonly minAudioSeconds = 961 / 16000;
  delayMs: number;
  failWith: Error | undefined;
  readonly calls: FakeCall[] = [];

  constructor(options: FakeTranscriberOptions = {}) {
    this.modelId = options.modelId ?? 'glm-asr-nano-2512';
    this.maxBeams = options.maxBeams ?? 8;
    this.delayMs = options.delayMs ?? 0;
    this.failWith = options.failWith;
  }

  async transcribe(audio: Samples16k, options: TranscribeOptions): Promise<Transcription> {
    const t0 = performance.now();
    const durationSec = audio.samples.length / audio.sampleRate;
    const id = await samplesId(audio.samples);
    const { name, beams, maxNewTokens, maxChunkSeconds } = options;
    const call: FakeCall = { name, id, beams, maxNewTokens, maxChunkSeconds, outcome: 'running' };
    this.calls.push(call);
    try {
      options.onProgress?.({ stage: 'generate', done: 0, total: 1 });
      if (this.delayMs > 0) await sleep(this.delayMs, options.signal);
      options.signal?.throwIfAborted();
      if (this.failWith) throw this.failWith;
      options.onProgress?.({ stage: 'generate', done: 1, total: 1 });
    } catch (err) {
      call.outcome = options.signal?.aborted ? 'aborted' : 'failed';
      throw err;
    }
    call.outcome = 'done';
    const text = textOf(id);
    const cut = text.indexOf(' Audio');
    const segments: Segment[] = [
      { start: 0, end: durationSec / 2, text: text.slice(0, cut) },
      { start: durationSec / 2, end: durationSec, text: text.slice(cut + 1) },
    ];
    const tokens = Array.from(audio.samples.subarray(0, 8), (v, i) => 1000 + Math.round(v * 100) + i);
    const total = performance.now() - t0;
    const timings = { decodeAudio: 0, vad: 0, mel: 0, encode: 0, generate: total, total };
    return { text, tokens, segments, durationSec, timings };
  }

  /** `transcribe`'s result as events: each segment's words as deltas (the first delta of a segment has no space). */
  async *transcribeStream(audio: Samples16k, options: TranscribeOptions): AsyncGenerator<TranscribeEvent> {
    const t = await this.transcribe(audio, options);
    for (const [index, segment] of t.segments.entries()) {
      yield { type: 'segment-start', index, start: segment.start, end: segment.end };
      for (const [i, word] of segment.text.split(' ').entries()) {
        yield { type: 'text', index, delta: i ? ` ${word}` : word };
      }
      yield { type: 'segment-end', index, segment };
    }
    yield { type: 'done', durationSec: t.durationSec, timings: t.timings };
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
