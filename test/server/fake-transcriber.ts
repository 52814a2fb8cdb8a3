/**
 * A stand-in for the GPU engine, so the server is tested without a model (the server's own audio
 * path — header checks, decoding, resampling — is the real one; only the model is fake).
 *
 * - The text is derived from sha256 of the 16 kHz samples it receives: different audio gives
 *   different texts, the same audio always the same. `fakeText(wav)` / `audioId(wav)` compute them
 *   for a 16 kHz mono WAV (whose samples the server passes through bit-exact).
 * - `maxBeams` (default 8) and `minAudioSeconds` (961 samples, as GlmAsr) are what the server reads.
 * - `delayMs` makes each transcription take that long (honouring the AbortSignal), to exercise
 *   the queue. Every call is recorded, and the most calls that ran at once (`peakRunning`).
 * - `maxBatch` (default absent: 1) is how many transcriptions the server runs at once.
 */
import { createHash } from 'node:crypto';
import { parseWav } from '../../src/audio/wav';
import type {
  LiveEvent, LiveOptions, LiveSession, Samples16k, Segment, TranscribeEvent, TranscribeOptions, Transcriber,
  Transcription,
} from '../../src/server/transcriber';

export interface FakeTranscriberOptions {
  modelId?: string;
  /** Default 8. */
  maxBeams?: number;
  /** Transcriptions the server may run at once. Default: absent (1). */
  maxBatch?: number;
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
  readonly maxBatch: number | undefined;
  readonly minAudioSeconds = 961 / 16000;
  delayMs: number;
  failWith: Error | undefined;
  readonly calls: FakeCall[] = [];
  /** Audio seconds a live session handles per wall-clock second (Infinity: at once, as pushed). */
  liveSpeed = Infinity;
  /** The options of every `live()` call, and its session. */
  readonly liveCalls: { options: LiveOptions; session: FakeLiveSession }[] = [];
  /** Calls running now, and the most that ever ran at once. */
  running = 0;
  peakRunning = 0;

  constructor(options: FakeTranscriberOptions = {}) {
    this.modelId = options.modelId ?? 'glm-asr-nano-2512';
    this.maxBeams = options.maxBeams ?? 8;
    this.maxBatch = options.maxBatch;
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
    this.peakRunning = Math.max(this.peakRunning, ++this.running);
    try {
      options.onProgress?.({ stage: 'generate', done: 0, total: 1 });
      if (this.delayMs > 0) await sleep(this.delayMs, options.signal);
      options.signal?.throwIfAborted();
      if (this.failWith) throw this.failWith;
      options.onProgress?.({ stage: 'generate', done: 1, total: 1 });
    } catch (err) {
      call.outcome = options.signal?.aborted ? 'aborted' : 'failed';
      throw err;
    } finally {
      this.running--;
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

  live(options: LiveOptions): LiveSession {
    const session = new FakeLiveSession(options, this.liveSpeed);
    this.liveCalls.push({ options, session });
    return session;
  }
}

/** A partial of the fake live session: `Item N:` and one ` tick` per 200 ms of the utterance's audio. */
export function fakePartialText(item: number, ms: number): string {
  return `Item ${item}:${' tick'.repeat(Math.floor(ms / 200))}`;
}

/** The fake's final for an utterance: its last partial, extended by the id of its s16 bytes (so it depends on them). */
export function fakeFinalText(item: number, s16le: Uint8Array, sampleRate: number): string {
  const id = createHash('sha256').update(s16le).digest('hex').slice(0, 12);
  return `${fakePartialText(item, (s16le.length / 2 / sampleRate) * 1000)} audio ${id}.`;
}

/**
 * A scripted live session. Audio is cut into 10 ms frames; with turn detection a frame whose RMS is at least
 * `threshold / 20` (0.025 at the default 0.5) is speech: speech starts at the first loud frame (reported
 * `prefixPaddingMs` earlier, not before the utterance's start) and stops after `silenceDurationMs` of quiet
 * frames, which commits the utterance. An utterance is all the audio since the previous commit or clear (silence
 * included); its final text is `fakeFinalText` of exactly those samples. Partials come every `partialIntervalMs`
 * of utterance audio (default 500) while speech is on (manual turns: whenever there is audio). With a finite
 * `speed` pushed audio waits in a backlog handled at that many audio seconds per second (`stats`, `drained()`).
 */
export class FakeLiveSession implements LiveSession {
  private readonly rate: number;
  private readonly vad: { threshold: number; silenceMs: number; prefixMs: number } | null;
  private readonly partialMs: number;
  private readonly events: LiveEvent[] = [];
  private wake: (() => void) | null = null;
  private ended = false;
  private closed = false;
  private pushed = 0;
  private item = 0;
  private chunks: Int16Array[] = [];
  private utteranceStart = 0; // samples since the session's start
  private utteranceLength = 0;
  private sinceLastPartial = 0;
  private speaking = false;
  private quiet = 0;
  private frame: number[] = [];
  private backlog: Int16Array[] = [];
  private backlogSamples = 0;
  private ticker: NodeJS.Timeout | undefined;
  private drainWaiters: (() => void)[] = [];
  /** The largest backlog a push has left, in seconds. */
  peakBacklogSeconds = 0;

  constructor(options: LiveOptions, private readonly speed = Infinity) {
    this.rate = options.sampleRate ?? 16000;
    const td = options.turnDetection === undefined ? {} : options.turnDetection;
    this.vad = td && {
      threshold: td.threshold ?? 0.5, silenceMs: td.silenceDurationMs ?? 500, prefixMs: td.prefixPaddingMs ?? 300,
    };
    this.partialMs = options.partialIntervalMs ?? 500;
  }

  get pushedSeconds(): number {
    return this.pushed / this.rate;
  }

  get stats() {
    return { heldSamples: this.backlogSamples, backlogSeconds: this.backlogSamples / this.rate, partials: 0 };
  }

  drained(): Promise<void> {
    return this.backlogSamples === 0 ? Promise.resolve() : new Promise((r) => this.drainWaiters.push(r));
  }

  push(pcm: Float32Array | Int16Array): void {
    if (this.closed) throw new Error('push on a closed live session');
    const s16 = pcm instanceof Int16Array ? pcm.slice()
      : Int16Array.from(pcm, (v) => Math.max(-32768, Math.min(32767, Math.round(v * 32768))));
    this.pushed += s16.length;
    if (this.speed === Infinity) return this.take(s16);
    this.backlog.push(s16);
    this.backlogSamples += s16.length;
    this.peakBacklogSeconds = Math.max(this.peakBacklogSeconds, this.backlogSamples / this.rate);
    this.ticker ??= setInterval(() => this.tick(), 10);
  }

  /** Handles 10 ms × speed of the backlog. */
  private tick(): void {
    let budget = Math.round(this.rate * 0.01 * this.speed);
    while (budget > 0 && this.backlog.length) {
      const head = this.backlog[0];
      const n = Math.min(budget, head.length);
      if (n === head.length) this.backlog.shift();
      else this.backlog[0] = head.subarray(n);
      this.backlogSamples -= n;
      budget -= n;
      this.take(head.subarray(0, n));
    }
    if (this.backlog.length) return;
    clearInterval(this.ticker);
    this.ticker = undefined;
    for (const w of this.drainWaiters.splice(0)) w();
  }

  private take(s16: Int16Array): void {
    const frameLength = this.rate / 100;
    for (const v of s16) {
      this.frame.push(v);
      if (this.frame.length === frameLength) this.onFrame(Int16Array.from(this.frame.splice(0)));
    }
  }

  commit(): void {
    if (!this.commitPending()) this.emit({ type: 'commit-empty', audioMs: this.ms(this.pushed) });
  }

  /** Commits the utterance in progress (with turn detection: only while speech is on); false when there is none. */
  private commitPending(): boolean {
    while (this.backlog.length) this.tick();
    if (this.frame.length) this.append(Int16Array.from(this.frame.splice(0)));
    if (this.utteranceLength === 0 || (this.vad && !this.speaking)) return false;
    this.finish();
    return true;
  }

  clear(): void {
    while (this.backlog.length) this.tick();
    this.frame = [];
    this.nextUtterance();
  }

  /** The next utterance starts after the current one's audio (committed or dropped). */
  private nextUtterance(): void {
    this.utteranceStart += this.utteranceLength;
    this.chunks = [];
    this.utteranceLength = 0;
    this.sinceLastPartial = 0;
    this.speaking = false;
    this.quiet = 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.commitPending();
    this.closed = true;
    this.end();
  }

  abort(): void {
    this.closed = true;
    clearInterval(this.ticker);
    this.events.length = 0;
    this.end();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<LiveEvent> {
    for (;;) {
      const e = this.events.shift();
      if (e) {
        yield e;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  private emit(e: LiveEvent): void {
    this.events.push(e);
    this.wake?.();
    this.wake = null;
  }

  private end(): void {
    this.ended = true;
    this.wake?.();
    this.wake = null;
  }

  private ms(samples: number): number {
    return Math.round((samples / this.rate) * 1000);
  }

  private append(frame: Int16Array): void {
    this.chunks.push(frame);
    this.utteranceLength += frame.length;
  }

  private onFrame(frame: Int16Array): void {
    const frameStart = this.utteranceStart + this.utteranceLength;
    this.append(frame);
    if (this.vad) {
      let sum = 0;
      for (const v of frame) sum += (v / 32768) ** 2;
      const loud = Math.sqrt(sum / frame.length) >= this.vad.threshold / 20;
      if (loud && !this.speaking) {
        this.speaking = true;
        const prefix = Math.round((this.vad.prefixMs / 1000) * this.rate);
        const audioStartMs = this.ms(Math.max(this.utteranceStart, frameStart - prefix));
        this.emit({ type: 'speech-started', item: this.item, audioStartMs });
      }
      this.quiet = loud ? 0 : this.quiet + frame.length;
      if (this.speaking && this.ms(this.quiet) >= this.vad.silenceMs) {
        this.emit({ type: 'speech-stopped', item: this.item, audioEndMs: this.ms(frameStart + frame.length) });
        this.finish();
        return;
      }
    }
    if (this.vad && !this.speaking) return;
    this.sinceLastPartial += frame.length;
    if (this.partialMs > 0 && this.ms(this.sinceLastPartial) >= this.partialMs) {
      this.sinceLastPartial = 0;
      this.emit({ type: 'partial', item: this.item, text: fakePartialText(this.item, this.ms(this.utteranceLength)) });
    }
  }

  private finish(): void {
    const start = this.utteranceStart / this.rate;
    const end = (this.utteranceStart + this.utteranceLength) / this.rate;
    this.emit({ type: 'committed', item: this.item, start, end });
    const bytes = new Uint8Array(this.utteranceLength * 2);
    let at = 0;
    for (const c of this.chunks) {
      bytes.set(new Uint8Array(c.buffer, c.byteOffset, c.byteLength), at);
      at += c.byteLength;
    }
    const text = fakeFinalText(this.item, bytes, this.rate);
    this.emit({ type: 'final', item: this.item, segment: { start, end, text, tokens: [], avgLogprob: 0 } });
    this.item++;
    this.nextUtterance();
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
