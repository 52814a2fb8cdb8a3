/**
 * A stand-in for the GPU engine, so the server is tested without a model.
 *
 * - The text is derived from sha256(audio bytes): different uploads give different texts, the
 *   same upload always the same (`fakeText(bytes)` computes it for assertions).
 * - Audio must start with a known magic (RIFF, fLaC, ID3, or an MPEG frame sync 0xFFE…); anything
 *   else throws an error named 'AudioDecodeError', like the real decoder.
 * - Duration: read from the WAV header (byte rate + data chunk size); other formats pretend
 *   128 kbit/s (16 000 bytes per second).
 * - `delayMs` makes each transcription take that long (honouring the AbortSignal), to exercise
 *   the queue. Every call is recorded.
 */
import { createHash } from 'node:crypto';
import type { Segment, TranscribeOptions, Transcriber, Transcription } from '../../src/server/transcriber';

export class FakeAudioDecodeError extends Error {
  override readonly name = 'AudioDecodeError';
}

export interface FakeTranscriberOptions {
  modelId?: string;
  /** Milliseconds each transcription takes. Default 0. */
  delayMs?: number;
  /** When set, transcribe() throws this (after the delay). */
  failWith?: Error;
}

export interface FakeCall {
  name: string;
  /** First 12 hex digits of sha256(audio). */
  id: string;
  beams?: number;
  maxNewTokens?: number;
  outcome: 'running' | 'done' | 'aborted' | 'failed';
}

export function audioId(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 12);
}

/** The text the fake returns for these bytes. */
export function fakeText(bytes: Uint8Array): string {
  return `Hello from the fake engine. Audio ${audioId(bytes)}.`;
}

function sniff(bytes: Uint8Array): 'wav' | 'flac' | 'mp3' | null {
  const ascii = (o: number, n: number) => String.fromCharCode(...bytes.subarray(o, o + n));
  if (bytes.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 4) === 'WAVE') return 'wav';
  if (bytes.length >= 4 && ascii(0, 4) === 'fLaC') return 'flac';
  if (bytes.length >= 3 && ascii(0, 3) === 'ID3') return 'mp3';
  if (bytes.length >= 2 && bytes[0] === 0xff && (bytes[1] & 0xe0) === 0xe0) return 'mp3';
  return null;
}

function wavDuration(bytes: Uint8Array, name: string): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let byteRate = 0;
  let off = 12;
  while (off + 8 <= bytes.length) {
    const id = String.fromCharCode(...bytes.subarray(off, off + 4));
    const size = view.getUint32(off + 4, true);
    if (id === 'fmt ' && off + 16 <= bytes.length) byteRate = view.getUint32(off + 16, true);
    if (id === 'data') {
      if (!byteRate) throw new FakeAudioDecodeError(`${name}: data chunk before fmt chunk`);
      return Math.min(size, bytes.length - off - 8) / byteRate;
    }
    off += 8 + size + (size & 1);
  }
  throw new FakeAudioDecodeError(`${name}: no data chunk in WAV file`);
}

export class FakeTranscriber implements Transcriber {
  readonly modelId: string;
  delayMs: number;
  failWith: Error | undefined;
  readonly calls: FakeCall[] = [];
  probes = 0;

  constructor(options: FakeTranscriberOptions = {}) {
    this.modelId = options.modelId ?? 'glm-asr-nano-2512';
    this.delayMs = options.delayMs ?? 0;
    this.failWith = options.failWith;
  }

  async probeDuration(audio: Uint8Array, name: string): Promise<number> {
    this.probes++;
    return this.duration(audio, name);
  }

  private duration(audio: Uint8Array, name: string): number {
    const kind = sniff(audio);
    if (kind === null) {
      throw new FakeAudioDecodeError(`${name}: unrecognised audio format (expected WAV, FLAC or MP3 data)`);
    }
    return kind === 'wav' ? wavDuration(audio, name) : audio.length / 16000;
  }

  async transcribe(audio: Uint8Array, options: TranscribeOptions): Promise<Transcription> {
    const t0 = performance.now();
    const durationSec = this.duration(audio, options.name);
    const call: FakeCall = { name: options.name, id: audioId(audio), beams: options.beams, maxNewTokens: options.maxNewTokens, outcome: 'running' };
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
    const text = fakeText(audio);
    const cut = text.indexOf(' Audio');
    const segments: Segment[] = [
      { start: 0, end: durationSec / 2, text: text.slice(0, cut) },
      { start: durationSec / 2, end: durationSec, text: text.slice(cut + 1) },
    ];
    const tokens = Array.from(audio.subarray(0, 8), (b, i) => 1000 + b + i);
    const total = performance.now() - t0;
    return { text, tokens, segments, durationSec, timings: { decodeAudio: 0, mel: 0, encode: 0, generate: total, total } };
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
