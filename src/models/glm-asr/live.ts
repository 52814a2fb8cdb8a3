/**
 * Live transcription: PCM pushed as it is captured, text back while someone speaks (docs/live.md).
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
 * Pushed audio is resampled to the model's rate and queued; one worker per session takes it in order: the VAD and
 * the turn detector (./turns.ts) on each piece, a final for each committed utterance, and — only when all pushed
 * audio has been through the VAD and no final waits — a partial of the utterance in progress. Finals and partials
 * are `asr.transcribe(samples, { segmenter: 'fixed' })` calls, so sessions share the engine like any other caller.
 *
 * The session holds the audio of the utterance in progress (at most `maxUtteranceSeconds`), a little before it
 * (`prefixPaddingMs`), and the audio not handled yet (at most `maxBacklogSeconds`), so CPU and GPU memory stay
 * flat however long it runs.
 */
import {
  AudioDecodeError, getResampler, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, type ResampleStream, yieldToEventLoop,
} from '../../audio';
import type { VadStream } from '../../vad';
import { MIN_CHUNK_SECONDS } from './config';
import { EventChannel } from './event-channel';
import { checkTranscribeOptions, OptionError } from './options';
import type { GlmAsr, Segment } from './transcriber';
import { TurnDetector } from './turns';

/** Server-side turn detection with the VAD (OpenAI Realtime `server_vad`). */
export interface LiveVadOptions {
  /** Speech probability at or above which speech starts. Default 0.5. */
  threshold?: number;
  /** Quiet time that ends an utterance. Default 500 ms. */
  silenceDurationMs?: number;
  /** Audio kept before the detected start of speech (and after its end, up to silenceDurationMs). Default 300 ms. */
  prefixPaddingMs?: number;
  /** Speech shorter than this starts no utterance (clicks, coughs); speech-started comes this late. Default 250 ms. */
  minSpeechMs?: number;
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
  /**
   * Most audio seconds waiting to be handled (pushed but not through the VAD yet, or committed and waiting for its
   * final); a push beyond it throws. Default 60. A source faster than real time awaits `drained()` now and then.
   */
  maxBacklogSeconds?: number;
  /** Name used in error messages. */
  name?: string;
}

/**
 * What a session yields, in order per utterance: speech-started → partials → speech-stopped → committed → final.
 * `item` numbers the utterances from 0. Times are seconds (or ms where named so) from the session's first sample.
 * With turn detection, speech-started and speech-stopped give the utterance's audio span (padding included), the
 * same span as `committed`; with `turnDetection: null` there are no speech events.
 */
export type LiveEvent =
  | { type: 'speech-started'; item: number; audioStartMs: number }
  | { type: 'speech-stopped'; item: number; audioEndMs: number }
  /** The utterance's audio is fixed (VAD end, `commit()` or the length cap); its final follows. */
  | { type: 'committed'; item: number; start: number; end: number }
  /** The whole text of the utterance in progress so far; each partial replaces the previous one. */
  | { type: 'partial'; item: number; text: string }
  /** The utterance transcribed exactly as `asr.transcribe(itsAudio, { segmenter: 'fixed' })` would. */
  | { type: 'final'; item: number; segment: Segment }
  /** A `commit()` found no utterance in progress (silence since the last turn): nothing was committed. */
  | { type: 'commit-empty'; audioMs: number };

/** What a session holds now (`LiveSession.stats`). */
export interface LiveStats {
  /** Samples at the model's rate held: the utterance in progress and its padding, queued input, pending finals. */
  heldSamples: number;
  /** Audio seconds pushed but not yet through the VAD, plus those of utterances waiting for their final. */
  backlogSeconds: number;
  /** Partial decodes run so far. */
  partials: number;
}

export interface LiveSession extends AsyncIterable<LiveEvent> {
  /** Queues PCM (f32 in [-1, 1] or s16) at `sampleRate`; returns at once. Throws on a closed session. */
  push(pcm: Float32Array | Int16Array): void;
  /** Ends the utterance in progress now (manual turns, or a client's commit); without one: a `commit-empty` event. */
  commit(): void;
  /** Drops the audio of the utterance in progress, as if it had not been pushed. */
  clear(): void;
  /** Commits what is pending, waits for its final, then ends the iteration. */
  close(): Promise<void>;
  /** Stops at once: pending work is dropped and the iteration ends. */
  abort(): void;
  /** Audio seconds pushed so far (at the session rate). */
  readonly pushedSeconds: number;
  /** Resolves once everything pushed so far is through the VAD and every committed utterance has its final. */
  drained?(): Promise<void>;
  readonly stats?: LiveStats;
}

/** Opens a live session on `asr` (the engine is shared: sessions run side by side). */
export function openLiveSession(asr: GlmAsr, options: LiveOptions = {}): LiveSession {
  return new Live(asr, checkLiveOptions(asr, options));
}

/** Input handled per worker turn: VAD work between two yields to the event loop stays short. */
const PIECE_SECONDS = 0.5;

interface Settings {
  rate: number;
  turns: Required<LiveVadOptions> | null;
  partialIntervalMs: number;
  maxUtteranceSeconds: number;
  beams: number;
  maxNewTokens: number | undefined;
  maxBacklogSeconds: number;
  name: string;
}

function show(v: unknown): string {
  return typeof v === 'object' && v !== null ? `an object (${v.constructor?.name ?? 'no prototype'})` : String(v);
}

function numberIn(option: string, v: unknown, min: number, max: number, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !(v >= min && v <= max)) {
    throw new OptionError(option, `must be a number in [${min}, ${max}], got ${show(v)}`);
  }
  return v;
}

/** Validates the options against the model (throws OptionError) and fills in the defaults. */
function checkLiveOptions(asr: GlmAsr, options: unknown): Settings {
  if (typeof options !== 'object' || options === null) {
    throw new OptionError('options', `must be an object, got ${show(options)}`);
  }
  const o = options as Record<string, unknown>;
  const fe = asr.config.frontEnd;
  const rate = o.sampleRate ?? fe.sampleRate;
  if (typeof rate !== 'number' || !Number.isInteger(rate) || rate < MIN_SAMPLE_RATE || rate > MAX_SAMPLE_RATE) {
    throw new OptionError('sampleRate', `must be an integer in [${MIN_SAMPLE_RATE}, ${MAX_SAMPLE_RATE}] Hz, ` +
      `got ${show(rate)}`);
  }
  let turns: Settings['turns'] = null;
  if (o.turnDetection !== null) {
    const t = (o.turnDetection ?? {}) as Record<string, unknown>;
    if (typeof t !== 'object') throw new OptionError('turnDetection', `must be an object or null, got ${show(t)}`);
    if (!asr.vad) {
      throw new OptionError('turnDetection', 'needs the VAD weights: load the model with { vad }, or open the ' +
        'session with turnDetection: null (manual commits)');
    }
    turns = {
      threshold: numberIn('turnDetection.threshold', t.threshold, 0.05, 1, 0.5),
      silenceDurationMs: numberIn('turnDetection.silenceDurationMs', t.silenceDurationMs, 0, 10_000, 500),
      prefixPaddingMs: numberIn('turnDetection.prefixPaddingMs', t.prefixPaddingMs, 0, 10_000, 300),
      minSpeechMs: numberIn('turnDetection.minSpeechMs', t.minSpeechMs, 0, 10_000, 250),
    };
  }
  const window = fe.chunkLength;
  checkTranscribeOptions({ beams: o.beams, maxNewTokens: o.maxNewTokens, name: o.name }, {
    maxBeams: asr.maxBeams, maxPositions: asr.config.decoder.maxPositions, windowSeconds: window,
  });
  const maxUtteranceSeconds = numberIn('maxUtteranceSeconds', o.maxUtteranceSeconds, MIN_CHUNK_SECONDS, window,
    fe.maxChunkSeconds);
  return {
    rate,
    turns,
    partialIntervalMs: numberIn('partialIntervalMs', o.partialIntervalMs, 0, 60_000, 500),
    maxUtteranceSeconds,
    beams: (o.beams as number | undefined) ?? 1,
    maxNewTokens: o.maxNewTokens as number | undefined,
    maxBacklogSeconds: numberIn('maxBacklogSeconds', o.maxBacklogSeconds, maxUtteranceSeconds, 3600, 60),
    name: (o.name as string | undefined) ?? 'live',
  };
}

/** Queued work, in push order: audio at the model's rate, or a client's commit / clear, or the end (close). */
type Input = Float32Array | 'commit' | 'clear' | 'end';

/** The utterance in progress: its item, first sample, and where (and at what cost) its last partial was made. */
interface Utterance {
  item: number;
  start: number;
  partialAt: number;
  partialCostSamples: number;
  partialText: string;
}

interface FinalJob {
  item: number;
  start: number;
  end: number;
  samples: Float32Array;
}

/**
 * Samples `start … start + length − 1` of the session (model rate) in one growable array: appended at the end,
 * forgotten from the front.
 */
class SampleWindow {
  start = 0;
  private data = new Float32Array(1 << 16);
  private length = 0;

  get end(): number {
    return this.start + this.length;
  }

  get held(): number {
    return this.length;
  }

  append(x: Float32Array): void {
    if (this.length + x.length > this.data.length) {
      const grown = new Float32Array(Math.max(this.length + x.length, 2 * this.data.length));
      grown.set(this.data.subarray(0, this.length));
      this.data = grown;
    }
    this.data.set(x, this.length);
    this.length += x.length;
  }

  /** A copy of samples [from, to). */
  slice(from: number, to: number): Float32Array {
    return this.data.slice(from - this.start, to - this.start);
  }

  /** Forgets the samples before `sample`. */
  forget(sample: number): void {
    const n = Math.min(this.length, sample - this.start);
    if (n <= 0) return;
    this.data.copyWithin(0, n, this.length);
    this.length -= n;
    this.start += n;
  }
}

class Live implements LiveSession {
  private readonly modelRate: number;
  private readonly resampler: ResampleStream;
  private readonly vad: VadStream | undefined;
  private readonly turns: TurnDetector | undefined;
  private readonly frameSamples: number;
  private readonly capSamples: number;
  private readonly padSamples: number;
  private readonly minSamples: number;
  private readonly stop = new AbortController();

  private pushed = 0;
  private readonly input: Input[] = [];
  private inputSamples = 0;
  private readonly audio = new SampleWindow();
  private utt: Utterance | null = null;
  private nextItem = 0;
  /** End of the last committed or cleared utterance: the next one's padding never reaches before it. */
  private lastEnd = 0;
  private readonly finals: FinalJob[] = [];
  private finalSamples = 0;
  private partials = 0;

  private closing: Promise<void> | undefined;
  /** close()'s end of input has been handled: the worker ends once the last final is out. */
  private inputEnded = false;
  private ended = false;
  private failure: { error: unknown } | undefined;
  private readonly events = new EventChannel<LiveEvent>();
  private read = false;
  private wakeWorker: (() => void) | undefined;
  private idleWaiters: (() => void)[] = [];
  private readonly worker: Promise<void>;

  constructor(private readonly asr: GlmAsr, private readonly o: Settings) {
    const fe = asr.config.frontEnd;
    this.modelRate = fe.sampleRate;
    this.resampler = getResampler(o.rate, this.modelRate).stream();
    const ms = (v: number) => Math.round((v / 1000) * this.modelRate);
    this.capSamples = Math.floor(o.maxUtteranceSeconds * this.modelRate);
    this.minSamples = Math.ceil(asr.minAudioSeconds * this.modelRate - 1e-9);
    if (o.turns) {
      this.vad = asr.vad!.stream(this.modelRate);
      this.frameSamples = asr.vad!.chunkSamples(this.modelRate);
      const frames = (v: number) => Math.max(1, Math.round(ms(v) / this.frameSamples));
      this.turns = new TurnDetector({
        threshold: o.turns.threshold,
        minSpeechFrames: frames(o.turns.minSpeechMs),
        silenceFrames: frames(o.turns.silenceDurationMs),
      });
      this.padSamples = ms(o.turns.prefixPaddingMs);
    } else {
      this.frameSamples = 0;
      this.padSamples = 0;
    }
    this.worker = this.work();
  }

  get pushedSeconds(): number {
    return this.pushed / this.o.rate;
  }

  get stats(): LiveStats {
    return {
      heldSamples: this.audio.held + this.inputSamples + this.finalSamples,
      backlogSeconds: this.backlogSamples / this.modelRate,
      partials: this.partials,
    };
  }

  private get backlogSamples(): number {
    return this.inputSamples + this.finalSamples;
  }

  push(pcm: Float32Array | Int16Array): void {
    this.checkOpen('push');
    let x: Float32Array;
    if (pcm instanceof Int16Array) {
      x = new Float32Array(pcm.length);
      for (let i = 0; i < pcm.length; i++) x[i] = pcm[i] / 32768;
    } else if (pcm instanceof Float32Array) {
      for (let i = 0; i < pcm.length; i++) {
        if (!Number.isFinite(pcm[i])) {
          throw new AudioDecodeError(this.o.name, `sample ${this.pushed + i} is ${pcm[i]}; samples must be finite`);
        }
      }
      x = pcm;
    } else {
      throw new OptionError('pcm', `must be a Float32Array (in [-1, 1]) or an Int16Array, got ${show(pcm)}`);
    }
    const limit = this.o.maxBacklogSeconds * this.modelRate;
    const adding = (x.length * this.modelRate) / this.o.rate;
    if (this.backlogSamples + adding > limit) {
      throw new OptionError('maxBacklogSeconds', `(${this.o.maxBacklogSeconds} s) exceeded: ` +
        `${(this.backlogSamples / this.modelRate).toFixed(1)} s of audio wait to be transcribed; push at ` +
        'real-time pace, or await drained() before pushing more');
    }
    this.pushed += x.length;
    this.queue(this.resampler.push(x));
  }

  commit(): void {
    this.checkOpen('commit');
    this.queue('commit');
  }

  clear(): void {
    this.checkOpen('clear');
    this.queue('clear');
  }

  close(): Promise<void> {
    if (!this.closing) {
      if (!this.ended) {
        this.queue(this.resampler.end());
        this.queue('end');
      }
      this.closing = this.worker.then(() => {
        if (this.failure) throw this.failure.error;
      });
    }
    return this.closing;
  }

  abort(): void {
    if (this.ended) return;
    this.stop.abort();
    this.events.clear();
    this.finish();
  }

  drained(): Promise<void> {
    if (this.ended || this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  [Symbol.asyncIterator](): AsyncGenerator<LiveEvent> {
    // One reader: each event goes to exactly one place (a second loop would wait for events the first one took).
    if (this.read) throw new OptionError('iteration', 'of a live session happens once: it has one reader');
    this.read = true;
    return this.events[Symbol.asyncIterator]();
  }

  private checkOpen(what: string): void {
    if (this.closing || this.ended) {
      const why = this.failure ? `it failed: ${(this.failure.error as Error)?.message}`
        : 'close() or abort() was called';
      throw new OptionError(what, `on a closed live session (${why})`);
    }
  }

  private queue(x: Input): void {
    if (x instanceof Float32Array) {
      if (!x.length) return;
      this.inputSamples += x.length;
    }
    this.input.push(x);
    this.wakeWorker?.();
  }

  private emit(e: LiveEvent): void {
    if (this.ended) return;
    this.events.push(e);
  }

  private isIdle(): boolean {
    return this.input.length === 0 && this.finals.length === 0;
  }

  /** Ends the session (closed, aborted or failed): what it holds is let go, the reader and waiters woken. */
  private finish(): void {
    this.ended = true;
    this.input.length = 0;
    this.inputSamples = 0;
    this.finals.length = 0;
    this.finalSamples = 0;
    this.utt = null;
    this.audio.forget(this.audio.end);
    this.events.end(this.failure);
    this.wakeWorker?.();
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** The session's one worker: input in order, finals as they are committed, partials when nothing waits. */
  private async work(): Promise<void> {
    try {
      for (;;) {
        if (this.ended) return;
        if (this.isIdle()) for (const w of this.idleWaiters.splice(0)) w();
        if (this.input.length) {
          this.takeInput();
          await yieldToEventLoop();
        } else if (this.finals.length) {
          await this.runFinal(this.finals[0]);
        } else if (this.inputEnded) {
          this.finish();
          return;
        } else if (this.partialDue()) {
          await this.runPartial(this.utt!);
        } else {
          await new Promise<void>((resolve) => {
            this.wakeWorker = resolve;
          });
          this.wakeWorker = undefined;
        }
      }
    } catch (error) {
      if (!this.stop.signal.aborted) this.failure = { error };
      this.finish();
    }
  }

  /** Handles up to PIECE_SECONDS of queued input, or one command. */
  private takeInput(): void {
    const head = this.input[0];
    if (typeof head === 'string') {
      this.input.shift();
      if (head === 'commit') {
        if (!this.commitNow()) this.emit({ type: 'commit-empty', audioMs: this.ms(this.audio.end) });
      } else if (head === 'clear') this.clearNow();
      else this.endNow();
      return;
    }
    const n = Math.min(head.length, Math.round(PIECE_SECONDS * this.modelRate));
    const piece = head.subarray(0, n);
    if (n === head.length) this.input.shift();
    else this.input[0] = head.subarray(n);
    this.inputSamples -= n;
    this.audio.append(piece);
    if (this.vad) this.frames(this.vad.push(piece));
    else this.manualCap();
    this.forgetIdleAudio();
  }

  /** VAD probabilities of the next frames through the turn detector; frame times give every boundary. */
  private frames(probs: Float32Array): void {
    const turns = this.turns!;
    const fs = this.frameSamples;
    for (const p of probs) {
      const f = turns.frames;
      const e = turns.push(p);
      if (e?.type === 'start') {
        this.open(Math.max(this.lastEnd, this.audio.start, e.frame * fs - this.padSamples));
      } else if (e?.type === 'stop' && this.utt) {
        const quiet = e.frame * fs;
        const pad = Math.min(this.padSamples, (f + 1) * fs - quiet);
        this.commitUtterance(Math.min(quiet + pad, this.utt.start + this.capSamples), true);
      } else if (this.utt && (f + 1) * fs - this.utt.start >= this.capSamples) {
        // Too long: cut at the quietest frame of the second half; the speech goes on as the next utterance.
        const from = Math.ceil((this.utt.start + this.capSamples / 2) / fs);
        const q = turns.quietest(from, f);
        const cut = Math.max(this.utt.start + this.minSamples, q * fs);
        this.commitUtterance(cut, true);
        turns.cut(Math.floor(cut / fs));
        this.open(cut);
      }
    }
  }

  /** Manual turns: an utterance is all audio since the last commit, cut at the length cap. */
  private manualCap(): void {
    if (!this.utt && this.audio.end > this.lastEnd) this.open(this.lastEnd);
    while (this.utt && this.audio.end - this.utt.start >= this.capSamples) {
      const cut = this.utt.start + this.capSamples;
      this.commitUtterance(cut, false);
      if (this.audio.end > cut) this.open(cut);
    }
  }

  private open(start: number): void {
    const item = this.nextItem++;
    this.utt = { item, start, partialAt: start, partialCostSamples: 0, partialText: '' };
    if (this.turns) this.emit({ type: 'speech-started', item, audioStartMs: this.ms(start) });
  }

  /** Commits the utterance in progress as [start, end): its events, and its final queued. */
  private commitUtterance(end: number, speechEvents: boolean): void {
    const { item, start } = this.utt!;
    this.utt = null;
    this.lastEnd = end;
    if (speechEvents) this.emit({ type: 'speech-stopped', item, audioEndMs: this.ms(end) });
    this.emit({ type: 'committed', item, start: start / this.modelRate, end: end / this.modelRate });
    this.finals.push({ item, start, end, samples: this.audio.slice(start, end) });
    this.finalSamples += end - start;
  }

  /** Commits the utterance in progress at the end of the audio so far; false when there was none. */
  private commitNow(): boolean {
    if (!this.turns) this.manualCap();
    if (!this.utt || this.audio.end <= this.utt.start) return false;
    this.commitUtterance(this.audio.end, this.turns !== undefined);
    this.turns?.reset();
    return true;
  }

  private clearNow(): void {
    this.utt = null;
    this.lastEnd = this.audio.end;
    this.turns?.reset();
    this.forgetIdleAudio();
  }

  /** End of input: the VAD's last partial frame, then what is in progress is committed. */
  private endNow(): void {
    if (this.vad) this.frames(this.vad.flush());
    this.commitNow();
    this.inputEnded = true;
  }

  /** Drops audio no utterance can need: before the open one, or (between turns) before the padding. */
  private forgetIdleAudio(): void {
    if (this.utt) {
      this.audio.forget(this.utt.start);
    } else {
      const open = this.turns ? this.turns.openSince * this.frameSamples : this.audio.end;
      this.audio.forget(Math.max(this.lastEnd, Math.min(open, this.audio.end) - this.padSamples));
    }
  }

  private partialDue(): boolean {
    const u = this.utt;
    if (!u || this.o.partialIntervalMs === 0) return false;
    const fresh = this.audio.end - u.partialAt;
    const interval = (this.o.partialIntervalMs / 1000) * this.modelRate;
    // Never more decode time than audio time: a partial waits for as much new audio as the last one took.
    return this.audio.end - u.start >= this.minSamples && fresh >= Math.max(interval, u.partialCostSamples);
  }

  private async runPartial(u: Utterance): Promise<void> {
    const t = performance.now();
    const end = this.audio.end;
    const r = await this.asr.transcribe({ samples: this.audio.slice(u.start, end), sampleRate: this.modelRate },
      { segmenter: 'fixed', beams: 1, maxNewTokens: this.o.maxNewTokens, signal: this.stop.signal,
        name: this.o.name });
    this.partials++;
    u.partialAt = end;
    u.partialCostSamples = ((performance.now() - t) / 1000) * this.modelRate;
    if (r.text && r.text !== u.partialText) {
      u.partialText = r.text;
      this.emit({ type: 'partial', item: u.item, text: r.text });
    }
  }

  private async runFinal(job: FinalJob): Promise<void> {
    const times = { start: job.start / this.modelRate, end: job.end / this.modelRate };
    let segment: Segment;
    if (job.end - job.start < this.minSamples) {
      // Below one audio token the model sees nothing (transcribe refuses it): an empty final, no decode.
      segment = { ...times, text: '', tokens: [] };
    } else {
      const r = await this.asr.transcribe({ samples: job.samples, sampleRate: this.modelRate },
        { segmenter: 'fixed', beams: this.o.beams, maxNewTokens: this.o.maxNewTokens, signal: this.stop.signal,
          name: this.o.name });
      segment = { ...r.segments[0], ...times };
    }
    if (this.ended) return;
    this.finals.shift();
    this.finalSamples -= job.end - job.start;
    this.emit({ type: 'final', item: job.item, segment });
  }

  private ms(sample: number): number {
    return (sample / this.modelRate) * 1000;
  }
}
