/**
 * Bytes of an audio file → 16 kHz mono Float32 samples for the GLM-ASR front end.
 *
 * 1. Sniff the container from its magic bytes (never from the file name).
 * 2. Decode: WAV with our own parser (`wav.ts`, everywhere); every other format with
 *    - Node (no WebAudio): the `audio-decode` package, loaded by a dynamic `import()` so that a
 *      browser bundle only gets it as a lazy chunk that is never fetched;
 *    - browsers: WebAudio `decodeAudioData` on an OfflineAudioContext running at the file's own
 *      sample rate (read from the header), so the browser does not resample and the same resampler
 *      runs in both environments.
 * 3. Mix down to mono by AVERAGING the channels. (The original GLM-ASR `inference.py` kept channel 0
 *    only; the Hugging Face pipeline loads audio as mono through librosa, which averages. We follow HF.)
 * 4. Resample to 16 kHz with the Kaiser-windowed-sinc polyphase resampler (`resample.ts`).
 */
import { AudioDecodeError } from './errors';
import { getResampler, type ResampleOptions } from './resample';
import { parseWav, type PcmAudio } from './wav';

export const TARGET_SAMPLE_RATE = 16000;

export type AudioContainer =
  | 'wav'
  | 'flac'
  | 'mp3'
  | 'aac'
  | 'ogg-vorbis'
  | 'ogg-opus'
  | 'ogg'
  | 'mp4'
  | 'webm'
  | 'aiff'
  | 'caf'
  | 'amr'
  | 'wma'
  | 'qoa'
  | 'wavpack';

/** Human-readable list used in "unknown format" errors. */
export const SUPPORTED_FORMATS =
  'WAV (PCM 8/16/24/32-bit, float 32/64-bit, A-law, µ-law, EXTENSIBLE, RF64), FLAC, MP3, ' +
  'Ogg Vorbis, Ogg Opus, AAC (ADTS), MP4/M4A (AAC), WebM, AIFF, CAF, AMR, WMA, QOA, WavPack';

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
}

function ascii(b: Uint8Array, off: number, n: number): string {
  if (off + n > b.length) return '';
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(b[off + i]);
  return s;
}

/** Size of a leading ID3v2 tag (0 when there is none). */
function id3Size(b: Uint8Array, off = 0): number {
  if (ascii(b, off, 3) !== 'ID3' || b.length < off + 10) return 0;
  const size = ((b[off + 6] & 0x7f) << 21) | ((b[off + 7] & 0x7f) << 14) | ((b[off + 8] & 0x7f) << 7) | (b[off + 9] & 0x7f);
  const footer = (b[off + 5] & 0x10) !== 0 ? 10 : 0;
  return 10 + size + footer;
}

const MPEG_RATES: Record<number, readonly number[]> = {
  3: [44100, 48000, 32000], // MPEG-1
  2: [22050, 24000, 16000], // MPEG-2
  0: [11025, 12000, 8000], // MPEG-2.5
};
const ADTS_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/** Sample rate of an MPEG audio (layer I–III) frame header at `off`, or 0 if it is not one. */
function mpegFrameRate(b: Uint8Array, off: number): number {
  if (off + 4 > b.length || b[off] !== 0xff || (b[off + 1] & 0xe0) !== 0xe0) return 0;
  const version = (b[off + 1] >> 3) & 3;
  const layer = (b[off + 1] >> 1) & 3;
  const bitrate = b[off + 2] >> 4;
  const rateIdx = (b[off + 2] >> 2) & 3;
  if (version === 1 || layer === 0 || bitrate === 15 || rateIdx === 3) return 0;
  return MPEG_RATES[version][rateIdx];
}

function isAdts(b: Uint8Array, off: number): boolean {
  return off + 7 <= b.length && b[off] === 0xff && (b[off + 1] & 0xf6) === 0xf0 && ((b[off + 2] >> 2) & 0xf) < 13;
}

/** Identify the container from magic bytes; null when unknown. */
export function sniffContainer(bytes: Uint8Array): AudioContainer | null {
  const b = bytes;
  const four = ascii(b, 0, 4);
  if ((four === 'RIFF' || four === 'RF64' || four === 'RIFX') && ascii(b, 8, 4) === 'WAVE') return 'wav';
  if (four === 'fLaC') return 'flac';
  if (four === 'OggS') {
    const pkt = 27 + (b[26] ?? 0);
    if (ascii(b, pkt, 8) === 'OpusHead') return 'ogg-opus';
    if (b[pkt] === 1 && ascii(b, pkt + 1, 6) === 'vorbis') return 'ogg-vorbis';
    return 'ogg';
  }
  if (four === 'FORM' && (ascii(b, 8, 4) === 'AIFF' || ascii(b, 8, 4) === 'AIFC')) return 'aiff';
  if (four === 'caff') return 'caf';
  if (four === 'qoaf') return 'qoa';
  if (four === 'wvpk') return 'wavpack';
  if (ascii(b, 0, 5) === '#!AMR') return 'amr';
  if (ascii(b, 4, 4) === 'ftyp') return 'mp4';
  if (b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) return 'webm';
  if (b[0] === 0x30 && b[1] === 0x26 && b[2] === 0xb2 && b[3] === 0x75 && b[4] === 0x8e && b[5] === 0x66) return 'wma';
  const id3 = id3Size(b);
  if (id3 > 0) {
    // ID3v2 is mostly used on MP3, sometimes on FLAC or ADTS AAC: look at what follows.
    if (ascii(b, id3, 4) === 'fLaC') return 'flac';
    if (isAdts(b, id3)) return 'aac';
    return 'mp3';
  }
  if (isAdts(b, 0)) return 'aac';
  if (mpegFrameRate(b, 0) > 0) return 'mp3';
  return null;
}

/**
 * The sample rate the file declares, read from its header where that is cheap (WAV, FLAC, MP3,
 * AAC, Ogg Opus/Vorbis); undefined otherwise.
 */
export function sniffSampleRate(bytes: Uint8Array): number | undefined {
  const b = bytes;
  const c = sniffContainer(b);
  if (c === 'wav') {
    // walk the chunk headers to 'fmt ' (no sample decoding)
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let off = 12; off + 16 <= b.length; ) {
      const size = dv.getUint32(off + 4, true);
      if (ascii(b, off, 4) === 'fmt ') return dv.getUint32(off + 12, true) || undefined;
      off += 8 + size + (size & 1);
    }
    return undefined;
  }
  let off = id3Size(b);
  if (c === 'flac' && b.length >= off + 21) {
    // fLaC, then the STREAMINFO block header (4 bytes); the rate is 20 bits at STREAMINFO byte 10
    const p = off + 8 + 10;
    const rate = (b[p] << 12) | (b[p + 1] << 4) | (b[p + 2] >> 4);
    return rate > 0 ? rate : undefined;
  }
  if (c === 'aac') return ADTS_RATES[(b[off + 2] >> 2) & 0xf];
  if (c === 'mp3') {
    // skip padding between the tag and the first frame
    for (const end = Math.min(b.length - 4, off + 65536); off <= end; off++) {
      const r = mpegFrameRate(b, off);
      if (r) return r;
    }
    return undefined;
  }
  if (c === 'ogg-opus') return 48000; // Opus always decodes at 48 kHz
  if (c === 'ogg-vorbis') {
    const pkt = 27 + b[26];
    if (b.length < pkt + 16) return undefined;
    const rate = new DataView(b.buffer, b.byteOffset + pkt + 12, 4).getUint32(0, true);
    return rate > 0 ? rate : undefined;
  }
  return undefined;
}

/** Average the channels into one (the mono rule; see the module comment). A single channel is returned as is, not copied. */
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

/** Decode a non-WAV file with the `audio-decode` package (Node; also works in browsers). */
export async function decodeWithAudioDecode(bytes: Uint8Array, name: string): Promise<PcmAudio> {
  const container = sniffContainer(bytes) ?? 'unknown format';
  let mod: typeof import('audio-decode');
  try {
    mod = await import('audio-decode');
  } catch (e) {
    throw new AudioDecodeError(name, `cannot load the 'audio-decode' package to decode ${container}: ${(e as Error).message}`, undefined, { cause: e });
  }
  let res: { channelData: Float32Array[]; sampleRate: number };
  try {
    res = await mod.default(bytes);
  } catch (e) {
    throw new AudioDecodeError(name, `${container} decoding failed: ${(e as Error).message}`, undefined, { cause: e });
  }
  return { sampleRate: res.sampleRate, channels: res.channelData };
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
export async function decodeWithWebAudio(bytes: Uint8Array, name: string, opts: WebAudioDecodeOptions = {}): Promise<PcmAudio> {
  const container = sniffContainer(bytes) ?? 'unknown format';
  const declared = opts.sampleRate ?? sniffSampleRate(bytes) ?? 48000;
  const rate = Math.min(768000, Math.max(3000, declared));
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

/**
 * Decode an audio file to 16 kHz mono.
 * @param bytes the whole file
 * @param name a path/URL/label used in error messages
 * @throws AudioDecodeError for unknown, corrupt, truncated or empty input
 */
export async function decodeAudio(bytes: Uint8Array, name: string, opts: DecodeOptions = {}): Promise<DecodedAudio> {
  if (bytes.length === 0) throw new AudioDecodeError(name, 'file is empty', 0);
  const container = sniffContainer(bytes);
  if (!container) {
    const head = Array.from(bytes.subarray(0, 8), (x) => x.toString(16).padStart(2, '0')).join(' ');
    throw new AudioDecodeError(name, `unrecognised audio format (first bytes: ${head}); supported: ${SUPPORTED_FORMATS}`, 0);
  }
  let pcm: PcmAudio;
  if (container === 'wav') pcm = parseWav(bytes, name);
  else {
    const backend = opts.backend && opts.backend !== 'auto' ? opts.backend : hasWebAudio() ? 'webaudio' : 'audio-decode';
    pcm = backend === 'webaudio' ? await decodeWithWebAudio(bytes, name) : await decodeWithAudioDecode(bytes, name);
  }
  return toMono16k(pcm, name, container, opts.resample);
}

/** Mix decoded PCM to mono and resample it to 16 kHz (the second half of `decodeAudio`). */
export function toMono16k(pcm: PcmAudio, name: string, container: AudioContainer, resampleOpts?: ResampleOptions): DecodedAudio {
  const nch = pcm.channels.length;
  const frames = nch > 0 ? pcm.channels[0].length : 0;
  if (nch === 0 || frames === 0) throw new AudioDecodeError(name, `${container} file contains no audio samples`);
  const sourceRate = Math.round(pcm.sampleRate);
  if (!(sourceRate > 0)) throw new AudioDecodeError(name, `${container} decoder reported sample rate ${pcm.sampleRate}`);
  const mono = downmixToMono(pcm.channels);
  for (let i = 0; i < mono.length; i++) {
    if (!Number.isFinite(mono[i])) throw new AudioDecodeError(name, `${container} decoder produced a non-finite sample at frame ${i}`);
  }
  const samples = getResampler(sourceRate, TARGET_SAMPLE_RATE, resampleOpts).process(mono);
  return { samples, sampleRate: TARGET_SAMPLE_RATE, sourceRate, sourceChannels: nch, durationSec: frames / sourceRate, container };
}
