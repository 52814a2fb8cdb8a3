/**
 * What an audio file is, read from its header without decoding a sample: the container (from magic
 * bytes, never the file name), the sample rate, the channel count and, where the header or the frame
 * headers say, the duration. `decodeAudio` checks these against its limits before it decodes
 * anything, so a few hundred crafted bytes cannot make it allocate or compute much.
 *
 * Durations: WAV exact (data size / block align); FLAC from STREAMINFO's total samples (0 = unknown);
 * MP3 and ADTS AAC by walking the frame headers (a few bytes each, no decoding); Ogg from the last
 * page's granule position; AIFF from COMM; MP4 from the movie header (mvhd). Other containers:
 * unknown here (the decoder's output is counted instead).
 */
import { AudioDecodeError } from './errors';
import { MAX_SAMPLE_RATE, MIN_SAMPLE_RATE } from './resample';
import { readWavHeader } from './wav';

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

export interface AudioProbe {
  container: AudioContainer;
  /** The rate the header declares (Hz), when it says. Always within [MIN_SAMPLE_RATE, MAX_SAMPLE_RATE]. */
  sampleRate?: number;
  channels?: number;
  /** Seconds of audio the header (or the frame headers) account for; undefined when they do not say. */
  durationSec?: number;
  /** FLAC: the largest frame in bytes (STREAMINFO; 0 = unknown); the FLAC decoder drops audio when fed less. */
  maxFrameBytes?: number;
  /** MP4: the index (moov) comes after the audio (mdat), so a decoder can start only once it has the whole file. */
  indexAtEnd?: boolean;
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
  const size =
    ((b[off + 6] & 0x7f) << 21) | ((b[off + 7] & 0x7f) << 14) | ((b[off + 8] & 0x7f) << 7) | (b[off + 9] & 0x7f);
  const footer = (b[off + 5] & 0x10) !== 0 ? 10 : 0;
  return 10 + size + footer;
}

const MPEG_RATES: Record<number, readonly number[]> = {
  3: [44100, 48000, 32000], // MPEG-1
  2: [22050, 24000, 16000], // MPEG-2
  0: [11025, 12000, 8000], // MPEG-2.5
};
/** kbit/s by bitrate index: MPEG-1 layers I, II, III, then MPEG-2/2.5 layer I, layers II and III. */
const MPEG_BITRATES = [
  [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
];
const ADTS_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

interface MpegFrame {
  rate: number;
  channels: number;
  /** Bytes in the frame, header included; 0 for free-format streams (no length in the header). */
  length: number;
  samples: number;
}

/** The MPEG audio (layer I–III) frame header at `off`, or null if there is none. */
function mpegFrame(b: Uint8Array, off: number): MpegFrame | null {
  if (off + 4 > b.length || b[off] !== 0xff || (b[off + 1] & 0xe0) !== 0xe0) return null;
  const version = (b[off + 1] >> 3) & 3;
  const layer = 4 - ((b[off + 1] >> 1) & 3); // 1, 2, 3 (4 = reserved)
  const brIdx = b[off + 2] >> 4;
  const rateIdx = (b[off + 2] >> 2) & 3;
  if (version === 1 || layer === 4 || brIdx === 15 || rateIdx === 3) return null;
  const rate = MPEG_RATES[version][rateIdx];
  const mpeg1 = version === 3;
  const kbps = MPEG_BITRATES[mpeg1 ? layer - 1 : layer === 1 ? 3 : 4][brIdx] * 1000;
  const padding = (b[off + 2] >> 1) & 1;
  const channels = b[off + 3] >> 6 === 3 ? 1 : 2;
  const samples = layer === 1 ? 384 : layer === 3 && !mpeg1 ? 576 : 1152;
  let length = 0;
  if (kbps > 0) {
    length = layer === 1
      ? (Math.floor((12 * kbps) / rate) + padding) * 4
      : Math.floor(((samples / 8) * kbps) / rate) + padding;
  }
  return { rate, channels, length, samples };
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
  if (mpegFrame(b, 0)) return 'mp3';
  return null;
}

function checkRate(rate: number, name: string, where: string, offset: number): number {
  if (!(rate >= MIN_SAMPLE_RATE && rate <= MAX_SAMPLE_RATE)) {
    const problem = `${where} says sample rate ${rate} Hz; supported: ${MIN_SAMPLE_RATE} to ${MAX_SAMPLE_RATE} Hz`;
    throw new AudioDecodeError(name, problem, offset);
  }
  return rate;
}

/** MP3: the first frame after the tag (junk up to 64 KiB skipped), then every frame header to the end. */
function probeMp3(b: Uint8Array): AudioProbe {
  let off = id3Size(b);
  let first: MpegFrame | null = null;
  for (const end = Math.min(b.length - 4, off + 65536); off <= end && !first; ) {
    first = mpegFrame(b, off);
    if (!first) off++;
  }
  if (!first) return { container: 'mp3' };
  let samples = 0;
  // Sum the frames of the first frame's stream; stop at the first gap (a trailing tag, junk).
  for (let f: MpegFrame | null = first; f && f.length > 0 && f.rate === first.rate; f = mpegFrame(b, off)) {
    samples += f.samples;
    off += f.length;
  }
  const durationSec = first.length > 0 ? samples / first.rate : undefined;
  return { container: 'mp3', sampleRate: first.rate, channels: first.channels, durationSec };
}

function probeAdts(b: Uint8Array): AudioProbe {
  let off = id3Size(b);
  const rate = ADTS_RATES[(b[off + 2] >> 2) & 0xf];
  const channels = ((b[off + 2] & 1) << 2) | (b[off + 3] >> 6);
  let samples = 0;
  while (isAdts(b, off)) {
    const length = ((b[off + 3] & 3) << 11) | (b[off + 4] << 3) | (b[off + 5] >> 5);
    if (length < 7) break;
    samples += 1024 * ((b[off + 6] & 3) + 1);
    off += length;
  }
  return { container: 'aac', sampleRate: rate, channels: channels || undefined, durationSec: samples / rate };
}

/** Ogg: rate and channels from the identification header, duration from the last page's granule position. */
function probeOgg(b: Uint8Array, container: AudioContainer, name: string): AudioProbe {
  const pkt = 27 + b[26];
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let rate: number | undefined;
  let channels: number | undefined;
  let preSkip = 0;
  if (container === 'ogg-opus' && b.length >= pkt + 12) {
    rate = 48000; // Opus always decodes at 48 kHz
    channels = b[pkt + 9];
    preSkip = dv.getUint16(pkt + 10, true);
  } else if (container === 'ogg-vorbis' && b.length >= pkt + 16) {
    channels = b[pkt + 11];
    rate = checkRate(dv.getUint32(pkt + 12, true), name, 'the Vorbis header', pkt + 12);
  }
  let durationSec: number | undefined;
  if (rate) {
    for (let off = b.length - 27; off >= 0 && off >= b.length - 65536 - 27; off--) {
      if (b[off] !== 0x4f || ascii(b, off, 4) !== 'OggS') continue;
      const lo = dv.getUint32(off + 6, true);
      const hi = dv.getInt32(off + 10, true);
      if (hi >= 0 && !(hi === 0 && lo === 0)) durationSec = Math.max(0, hi * 2 ** 32 + lo - preSkip) / rate;
      break;
    }
  }
  return { container, sampleRate: rate, channels, durationSec };
}

/** AIFF/AIFC: channels, frames and the 80-bit extended sample rate from the COMM chunk. */
function probeAiff(b: Uint8Array, name: string): AudioProbe {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let off = 12; off + 26 <= b.length; ) {
    const size = dv.getUint32(off + 4);
    if (ascii(b, off, 4) === 'COMM') {
      const channels = dv.getUint16(off + 8);
      const frames = dv.getUint32(off + 10);
      const exponent = (dv.getUint16(off + 16) & 0x7fff) - 16383;
      const mantissa = dv.getUint32(off + 18) * 2 ** 32 + dv.getUint32(off + 22);
      const rate = Math.round(mantissa * 2 ** (exponent - 63));
      checkRate(rate, name, `AIFF COMM chunk at byte ${off}`, off + 16);
      return { container: 'aiff', sampleRate: rate, channels, durationSec: frames / rate };
    }
    off += 8 + size + (size & 1);
  }
  return { container: 'aiff' };
}

/** MP4: the top-level boxes, the movie header's duration, and whether the index comes after the data. */
function probeMp4(b: Uint8Array): AudioProbe {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  /** [type, body start, end] of each box in [from, to). */
  const boxes = (from: number, to: number): [string, number, number][] => {
    const out: [string, number, number][] = [];
    for (let off = from; off + 8 <= to; ) {
      let size = dv.getUint32(off);
      let body = off + 8;
      if (size === 1 && off + 16 <= to) {
        size = dv.getUint32(off + 8) * 2 ** 32 + dv.getUint32(off + 12);
        body = off + 16;
      } else if (size === 0) size = to - off;
      if (size < body - off) break;
      out.push([ascii(b, off + 4, 4), body, Math.min(off + size, to)]);
      off += size;
    }
    return out;
  };
  const top = boxes(0, b.length);
  const moov = top.findIndex(([type]) => type === 'moov');
  const mdat = top.findIndex(([type]) => type === 'mdat');
  if (moov < 0) return { container: 'mp4', indexAtEnd: true };
  const indexAtEnd = mdat >= 0 && mdat < moov;
  const mvhd = boxes(top[moov][1], top[moov][2]).find(([type]) => type === 'mvhd');
  if (!mvhd) return { container: 'mp4', indexAtEnd };
  const p = mvhd[1];
  const v1 = b[p] === 1;
  if (p + (v1 ? 32 : 20) > b.length) return { container: 'mp4', indexAtEnd };
  const timescale = dv.getUint32(p + (v1 ? 20 : 12));
  const [hi, lo] = v1 ? [dv.getUint32(p + 24), dv.getUint32(p + 28)] : [0, dv.getUint32(p + 16)];
  const duration = hi * 2 ** 32 + lo;
  const known = timescale > 0 && lo !== 0xffffffff; // all ones: "unknown"

  return { container: 'mp4', durationSec: known ? duration / timescale : undefined, indexAtEnd };
}

/**
 * Reads the header: container, rate, channels and, where the header says, the duration.
 * @throws AudioDecodeError for an unknown format, a malformed WAV header, or a sample rate outside
 *   [MIN_SAMPLE_RATE, MAX_SAMPLE_RATE]
 */
export function probeAudio(bytes: Uint8Array, name: string): AudioProbe {
  const b = bytes;
  if (b.length === 0) throw new AudioDecodeError(name, 'file is empty', 0);
  const container = sniffContainer(b);
  if (!container) {
    const head = Array.from(b.subarray(0, 8), (x) => x.toString(16).padStart(2, '0')).join(' ');
    const problem = `unrecognised audio format (first bytes: ${head}); supported: ${SUPPORTED_FORMATS}`;
    throw new AudioDecodeError(name, problem, 0);
  }
  switch (container) {
    case 'wav': {
      const h = readWavHeader(b, name);
      return { container, sampleRate: h.sampleRate, channels: h.channelCount, durationSec: h.frames / h.sampleRate };
    }
    case 'flac': {
      // fLaC, then the STREAMINFO block header (4 bytes) and body: rate 20 bits at byte 10, channels − 1
      // 3 bits, bits − 1 5 bits, total samples 36 bits
      const p = id3Size(b) + 8;
      if (b.length < p + 18) return { container };
      const rate = checkRate((b[p + 10] << 12) | (b[p + 11] << 4) | (b[p + 12] >> 4), name, 'FLAC STREAMINFO', p + 10);
      const total =
        (b[p + 13] & 0x0f) * 2 ** 32 + ((b[p + 14] << 24) >>> 0) + (b[p + 15] << 16) + (b[p + 16] << 8) + b[p + 17];
      const maxFrameBytes = (b[p + 7] << 16) | (b[p + 8] << 8) | b[p + 9];
      const channels = ((b[p + 12] >> 1) & 7) + 1;
      const durationSec = total > 0 ? total / rate : undefined;
      return { container, sampleRate: rate, channels, durationSec, maxFrameBytes };
    }
    case 'mp3':
      return probeMp3(b);
    case 'aac':
      return probeAdts(b);
    case 'ogg-opus':
    case 'ogg-vorbis':
      return probeOgg(b, container, name);
    case 'aiff':
      return probeAiff(b, name);
    case 'mp4':
      return probeMp4(b);
    default:
      return { container };
  }
}

/** The sample rate the header declares, when it is cheap to read and within bounds; undefined otherwise. */
export function sniffSampleRate(bytes: Uint8Array): number | undefined {
  try {
    return probeAudio(bytes, 'audio').sampleRate;
  } catch {
    return undefined;
  }
}
