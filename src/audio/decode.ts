/**
 * Bytes of an audio file → 16 kHz mono Float32 samples for the GLM-ASR front end.
 *
 * 1. Read the header (`probe.ts`): container from magic bytes (never the file name), sample rate
 *    (bounded to 1 kHz–768 kHz), and the duration where the header says; a duration over
 *    `maxSeconds` is refused before anything is decoded.
 * 2. Decode in pieces: WAV with our own parser (`wav.ts`, everywhere), a slice of frames at a time;
 *    every other format with
 *    - Node (no WebAudio): the `audio-decode` package's streaming decoder fed 16 KiB at a time,
 *      loaded by a dynamic `import()` so that a browser bundle only gets it as a lazy chunk;
 *    - browsers: WebAudio `decodeAudioData` (off the main thread) on an OfflineAudioContext running
 *      at the file's own sample rate, so the browser does not resample and the same resampler runs
 *      in both environments.
 * 3. Each piece is mixed down to mono by AVERAGING the channels (the original GLM-ASR `inference.py`
 *    kept channel 0 only; the Hugging Face pipeline loads audio as mono through librosa, which
 *    averages — we follow HF), counted against `maxSeconds`, and pushed through the streaming
 *    Kaiser-windowed-sinc resampler (`resample.ts`) to 16 kHz: the source-rate audio is never held whole.
 * 4. Between pieces the event loop gets a turn every SLICE_MS, so a long or hostile file never
 *    blocks a server (or a page) for more than a few milliseconds at a time.
 */
import { AudioDecodeError } from './errors';
import { probeAudio, sniffContainer, sniffSampleRate, type AudioContainer } from './probe';
import { getResampler, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, type ResampleOptions, type ResampleStream } from './resample';
import { readWavFrames, readWavHeader, type PcmAudio } from './wav';

export const TARGET_SAMPLE_RATE = 16000;

export interface DecodedAudio {
  /** Mono samples at 16 kHz. */
  samples: Float32Array;
  sampleRate: 16000;
  /** Sample rate of the file. */
  sourceRate: number;
  /** Channel count of the file (before the mono mix). */
  sourceChannels: number;
  /** Duration of the decoded source audio in seconds (source frames / source rate). */
  durationSec: number;
  /** The container found by sniffing. */
  container: AudioContainer;
}

export type DecodeBackend = 'auto' | 'audio-decode' | 'webaudio';

export interface DecodeOptions {
  /** Decoder for non-WAV input: 'auto' (default) = WebAudio when the global exists, else audio-decode. */
  backend?: DecodeBackend;
  /** Passed to the resampler. */
  resample?: ResampleOptions;
  /**
   * Longest audio accepted, in seconds: checked against the header before decoding, and against the
   * decoded length while decoding (a header may lie or say nothing). Over it: an AudioDecodeError
   * with code 'audio_too_long'.
   */
  maxSeconds?: number;
  /** Stops decoding (rejecting with the signal's reason) at the next step once aborted. */
  signal?: AbortSignal;
}

/** Work done between two turns of the event loop. */
const SLICE_MS = 10;
/** Bytes fed to a streaming decoder at a time (FLAC: at least two of its largest frames). */
const FEED_BYTES = 16384;
/** FLAC whose STREAMINFO does not give its largest frame: a frame can in principle be this big. */
const FLAC_UNKNOWN_FRAME_BYTES = 1 << 20;
/** Samples (frames × channels, or output samples when upsampling) converted at a time. */
const SLICE_SAMPLES = 1 << 14;

/**
 * Frames per step at this rate: SLICE_SAMPLES of input, fewer when upsampling so that a step never
 * makes more than SLICE_SAMPLES outputs. (Downsampling's longer filters cost the same per input
 * frame: taps grow with the rate as outputs per frame shrink.)
 */
function sliceFrames(rate: number, channels: number): number {
  return Math.max(1, Math.floor(SLICE_SAMPLES / Math.max(1, channels) / Math.max(1, TARGET_SAMPLE_RATE / rate)));
}

/** Gives the event loop a turn (timers, I/O, other requests) between bounded steps of CPU work. */
export const yieldToEventLoop = (): Promise<void> =>
  new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));

/** Yields to the event loop once SLICE_MS of work has piled up since the last turn; stops when aborted. */
class Slicer {
  private last = performance.now();
  constructor(private readonly signal: AbortSignal | undefined) {}
  async tick(): Promise<void> {
    if (performance.now() - this.last < SLICE_MS) return;
    await yieldToEventLoop();
    this.signal?.throwIfAborted();
    this.last = performance.now();
  }
}

/** Average the channels into one (the mono rule; see the module comment). One channel is returned as is, not copied. */
export function downmixToMono(channels: readonly Float32Array[]): Float32Array {
  if (channels.length === 0) return new Float32Array(0);
  if (channels.length === 1) return channels[0];
  const n = channels[0].length;
  const out = new Float32Array(n);
  const acc = new Float64Array(n);
  for (const ch of channels) {
    if (ch.length !== n) throw new RangeError(`channels have different lengths (${ch.length} vs ${n})`);
    for (let i = 0; i < n; i++) acc[i] += ch[i];
  }
  const inv = 1 / channels.length;
  for (let i = 0; i < n; i++) out[i] = acc[i] * inv;
  return out;
}

function hasWebAudio(): boolean {
  const g = globalThis as { OfflineAudioContext?: unknown; AudioContext?: unknown };
  return typeof g.OfflineAudioContext === 'function' || typeof g.AudioContext === 'function';
}

/** audio-decode's name for each container it decodes. */
const AUDIO_DECODE_FORMATS: Partial<Record<AudioContainer, string>> = {
  flac: 'flac',
  mp3: 'mp3',
  aac: 'aac',
  'ogg-vorbis': 'oga',
  'ogg-opus': 'opus',
  ogg: 'oga',
  mp4: 'm4a',
  webm: 'webm',
  aiff: 'aiff',
  caf: 'caf',
  amr: 'amr',
  wma: 'wma',
  qoa: 'qoa',
  wavpack: 'wv',
};

type StreamDecoder = ((chunk?: Uint8Array) => Promise<{ channelData: Float32Array[]; sampleRate: number }>) & {
  free(): void;
};

/**
 * Decodes a non-WAV file with the `audio-decode` package's streaming decoder (Node; also works in
 * browsers), FEED_BYTES at a time: yields the PCM as the decoder produces it.
 * @throws AudioDecodeError for a malformed header or a failing decoder
 */
export async function* decodeChunksWithAudioDecode(bytes: Uint8Array, name: string): AsyncGenerator<PcmAudio> {
  const container = sniffContainer(bytes);
  const format = container ? AUDIO_DECODE_FORMATS[container] : undefined;
  if (!format) throw new AudioDecodeError(name, `audio-decode cannot decode ${container ?? 'an unknown format'}`, 0);
  let dec: StreamDecoder;
  try {
    const mod = await import('audio-decode');
    dec = await (mod.default as unknown as Record<string, () => Promise<StreamDecoder>>)[format]();
  } catch (e) {
    const problem = `cannot load the 'audio-decode' package to decode ${container}: ${(e as Error).message}`;
    throw new AudioDecodeError(name, problem, undefined, { cause: e });
  }
  let feed = FEED_BYTES;
  if (container === 'flac') {
    feed = Math.max(FEED_BYTES, 2 * (probeAudio(bytes, name).maxFrameBytes || FLAC_UNKNOWN_FRAME_BYTES));
  } else if (container === 'mp4' && probeAudio(bytes, name).indexAtEnd) {
    // The MP4 decoder re-joins everything it has been fed until it sees the index: pieces would cost n².
    feed = bytes.length;
  }
  let finished = false;
  const step = async (chunk: Uint8Array | undefined): Promise<PcmAudio | null> => {
    let res: { channelData: Float32Array[]; sampleRate: number };
    try {
      res = chunk ? await dec(chunk) : await dec();
    } catch (e) {
      finished = true; // the decoder frees itself when it throws
      const problem = `${container} decoding failed: ${(e as Error).message}`;
      throw new AudioDecodeError(name, problem, undefined, { cause: e });
    }
    const empty = res.channelData.length === 0 || res.channelData[0].length === 0;
    return empty ? null : { sampleRate: res.sampleRate, channels: res.channelData };
  };
  try {
    for (let off = 0; off < bytes.length; off += feed) {
      const pcm = await step(bytes.subarray(off, off + feed));
      if (pcm) yield pcm;
    }
    finished = true; // flushing frees it
    const rest = await step(undefined);
    if (rest) yield rest;
  } finally {
    if (!finished) dec.free();
  }
}

/** Whole-file decode with `audio-decode` (the pieces of `decodeChunksWithAudioDecode`, joined). */
export async function decodeWithAudioDecode(bytes: Uint8Array, name: string): Promise<PcmAudio> {
  const pieces: PcmAudio[] = [];
  for await (const pcm of decodeChunksWithAudioDecode(bytes, name)) pieces.push(pcm);
  if (pieces.length === 0) return { sampleRate: 0, channels: [] };
  const nch = Math.max(...pieces.map((p) => p.channels.length));
  const total = pieces.reduce((n, p) => n + p.channels[0].length, 0);
  const channels = Array.from({ length: nch }, () => new Float32Array(total));
  let at = 0;
  for (const p of pieces) {
    // a decoder that collapsed dual mono to one channel: that channel goes to every output channel
    for (let c = 0; c < nch; c++) channels[c].set(p.channels[Math.min(c, p.channels.length - 1)], at);
    at += p.channels[0].length;
  }
  return { sampleRate: pieces[0].sampleRate, channels };
}

export interface WebAudioDecodeOptions {
  /** Context rate; default: the rate sniffed from the header, else 48000. */
  sampleRate?: number;
  /** Make the decoding context (tests inject one); default: `new OfflineAudioContext(1, 1, rate)`. */
  createContext?: (sampleRate: number) => Pick<BaseAudioContext, 'decodeAudioData'> & { close?: () => Promise<void> };
}

/**
 * Decode with the browser's WebAudio `decodeAudioData`. The context runs at the file's own sample
 * rate when the header reveals it (decodeAudioData resamples to the context rate, and we want our
 * resampler, not the browser's); otherwise at 48 kHz.
 */
export async function decodeWithWebAudio(
  bytes: Uint8Array,
  name: string,
  opts: WebAudioDecodeOptions = {},
): Promise<PcmAudio> {
  const container = sniffContainer(bytes) ?? 'unknown format';
  const declared = opts.sampleRate ?? sniffSampleRate(bytes) ?? 48000;
  const rate = Math.min(MAX_SAMPLE_RATE, Math.max(3000, declared));
  let ctx: ReturnType<NonNullable<WebAudioDecodeOptions['createContext']>>;
  if (opts.createContext) ctx = opts.createContext(rate);
  else {
    const g = globalThis as unknown as {
      OfflineAudioContext?: new (channels: number, length: number, rate: number) => OfflineAudioContext;
      AudioContext?: new (o: { sampleRate: number }) => AudioContext;
    };
    if (g.OfflineAudioContext) ctx = new g.OfflineAudioContext(1, 1, rate);
    else if (g.AudioContext) ctx = new g.AudioContext({ sampleRate: rate });
    else throw new AudioDecodeError(name, `cannot decode ${container}: no WebAudio in this environment`);
  }
  try {
    // decodeAudioData detaches the buffer it is given: hand it a copy
    const buf = await ctx.decodeAudioData(bytes.slice().buffer as ArrayBuffer);
    const channels: Float32Array[] = [];
    for (let c = 0; c < buf.numberOfChannels; c++) channels.push(buf.getChannelData(c).slice());
    return { sampleRate: buf.sampleRate, channels };
  } catch (e) {
    if (e instanceof AudioDecodeError) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    throw new AudioDecodeError(name, `${container} decoding failed in WebAudio: ${msg}`, undefined, { cause: e });
  } finally {
    await ctx.close?.().catch(() => undefined);
  }
}

/** Mono, 16 kHz output built piece by piece: downmix, finite check, duration limit, streaming resampler. */
class MonoSink {
  private stream: ResampleStream | null = null;
  private rate = 0;
  private channels = 0;
  private frames = 0;
  private readonly out: Float32Array[] = [];

  constructor(
    private readonly name: string,
    private readonly container: AudioContainer,
    private readonly maxSeconds: number | undefined,
    private readonly resampleOpts: ResampleOptions | undefined,
  ) {}

  push(pcm: PcmAudio): void {
    const { name, container } = this;
    const n = pcm.channels[0]?.length ?? 0;
    if (n === 0) return;
    if (!this.stream) {
      const rate = Math.round(pcm.sampleRate);
      if (!(rate >= MIN_SAMPLE_RATE && rate <= MAX_SAMPLE_RATE)) {
        const supported = `supported: ${MIN_SAMPLE_RATE} to ${MAX_SAMPLE_RATE} Hz`;
        const problem = `${container} decoder reported sample rate ${pcm.sampleRate} Hz; ${supported}`;
        throw new AudioDecodeError(name, problem);
      }
      this.rate = rate;
      this.channels = pcm.channels.length;
      this.stream = getResampler(rate, TARGET_SAMPLE_RATE, this.resampleOpts).stream();
    } else if (Math.round(pcm.sampleRate) !== this.rate) {
      const problem = `${container} sample rate changes from ${this.rate} to ${pcm.sampleRate} Hz mid-stream`;
      throw new AudioDecodeError(name, problem);
    }
    const mono = downmixToMono(pcm.channels);
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(mono[i])) {
        const problem = `${container} decoder produced a non-finite sample at frame ${this.frames + i}`;
        throw new AudioDecodeError(name, problem);
      }
    }
    this.frames += n;
    if (this.maxSeconds !== undefined && this.frames / this.rate > this.maxSeconds) {
      throw tooLong(name, `more than ${this.maxSeconds} s of audio decoded`, this.maxSeconds);
    }
    this.out.push(this.stream.push(mono));
  }

  finish(): DecodedAudio {
    if (!this.stream) throw new AudioDecodeError(this.name, `${this.container} file contains no audio samples`);
    this.out.push(this.stream.end());
    const samples = new Float32Array(this.out.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of this.out) {
      samples.set(p, at);
      at += p.length;
    }
    const durationSec = this.frames / this.rate;
    const { rate: sourceRate, channels: sourceChannels, container } = this;
    return { samples, sampleRate: TARGET_SAMPLE_RATE, sourceRate, sourceChannels, durationSec, container };
  }
}

function tooLong(name: string, what: string, limit: number): AudioDecodeError {
  return new AudioDecodeError(name, `${what}; the limit is ${limit} s`, undefined, { code: 'audio_too_long' });
}

/** Hands a decoded buffer to the sink a slice at a time, with event-loop turns in between. */
async function pushSliced(sink: MonoSink, pcm: PcmAudio, slicer: Slicer): Promise<void> {
  const n = pcm.channels[0]?.length ?? 0;
  const step = sliceFrames(pcm.sampleRate, pcm.channels.length);
  for (let f = 0; f < n; f += step) {
    sink.push({ sampleRate: pcm.sampleRate, channels: pcm.channels.map((c) => c.subarray(f, f + step)) });
    await slicer.tick();
  }
}

/**
 * Decode an audio file to 16 kHz mono, in bounded pieces (see the module comment).
 * @param bytes the whole file
 * @param name a path/URL/label used in error messages
 * @throws AudioDecodeError for unknown, corrupt, truncated, empty or (with `maxSeconds`) too long input
 */
export async function decodeAudio(bytes: Uint8Array, name: string, opts: DecodeOptions = {}): Promise<DecodedAudio> {
  const probe = probeAudio(bytes, name);
  const { container } = probe;
  const limit = opts.maxSeconds;
  if (limit !== undefined && probe.durationSec !== undefined && probe.durationSec > limit) {
    throw tooLong(name, `the header says ${probe.durationSec.toFixed(1)} s of audio`, limit);
  }
  const sink = new MonoSink(name, container, limit, opts.resample);
  opts.signal?.throwIfAborted();
  const slicer = new Slicer(opts.signal);
  if (container === 'wav') {
    const h = readWavHeader(bytes, name);
    const step = sliceFrames(h.sampleRate, h.channelCount);
    const scratch = Array.from({ length: h.channelCount }, () => new Float32Array(Math.min(step, h.frames)));
    for (let f = 0; f < h.frames; f += step) {
      const n = Math.min(step, h.frames - f);
      readWavFrames(bytes, h, name, f, f + n, scratch);
      sink.push({ sampleRate: h.sampleRate, channels: scratch.map((c) => c.subarray(0, n)) });
      await slicer.tick();
    }
  } else {
    const auto = hasWebAudio() ? 'webaudio' : 'audio-decode';
    const backend = opts.backend && opts.backend !== 'auto' ? opts.backend : auto;
    if (backend === 'webaudio') await pushSliced(sink, await decodeWithWebAudio(bytes, name), slicer);
    else {
      for await (const pcm of decodeChunksWithAudioDecode(bytes, name)) await pushSliced(sink, pcm, slicer);
    }
  }
  return sink.finish();
}
