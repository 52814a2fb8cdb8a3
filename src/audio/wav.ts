/**
 * RIFF/WAVE parser (our own; no dependency).
 *
 * Supported sample encodings:
 * - PCM integer (format tag 1): 8-bit unsigned, 16/24/32-bit signed little-endian, including
 *   "odd" widths such as 12 or 20 bits stored left-justified in a 2- or 3-byte container;
 * - IEEE float (tag 3): 32 and 64 bit;
 * - G.711 A-law (tag 6) and µ-law (tag 7), 8 bit;
 * - WAVE_FORMAT_EXTENSIBLE (tag 0xFFFE) whose sub-format GUID is one of the above;
 * - any channel count; RF64 (the 64-bit-size variant, via its `ds64` chunk).
 *
 * Integers are scaled by the full container range (16-bit: /32768, 24-bit: /8388608, 8-bit:
 * (b-128)/128), so full scale maps to [-1, 1). Float samples are passed through unchanged (values
 * outside ±1 are kept); a NaN or infinite float sample is an error, never silently passed on.
 *
 * Chunk walking: chunks other than `fmt `, `data` and `ds64` (LIST, fact, cue, bext, JUNK…) are
 * skipped. Odd-sized chunks are followed by one pad byte; when a writer forgot that pad byte (the
 * padded position does not start a plausible chunk id but the unpadded one does), the unpadded
 * position is used.
 *
 * Data size rule (deterministic, no warnings):
 * - the audio is `min(declared size, bytes left in the file)`, rounded down to whole frames;
 * - a declared size larger than what is left is accepted only when it is a *placeholder* that
 *   streaming writers put in a header they cannot seek back to fix: 0xFFFFFFFF (ffmpeg, RF64),
 *   anything ≥ 0x7FFF0000 (sox writes 0x7FFFF000-ish), or 0 followed by audio bytes rather than by
 *   another chunk. Any other oversize means the file was cut short: `AudioDecodeError`.
 */
import { AudioDecodeError } from './errors';
import { MAX_SAMPLE_RATE, MIN_SAMPLE_RATE } from './resample';

/** Decoded PCM: one Float32Array per channel, all the same length. */
export interface PcmAudio {
  sampleRate: number;
  channels: Float32Array[];
}

export type WavEncoding = 'pcm-uint8' | 'pcm-int' | 'float' | 'alaw' | 'mulaw';

export interface WavAudio extends PcmAudio {
  encoding: WavEncoding;
  /** Container bits per sample (8, 16, 24, 32, 64). */
  bitsPerSample: number;
  /** Significant bits (== container bits unless the header says otherwise). */
  validBitsPerSample: number;
  /** The effective format tag (for EXTENSIBLE: the sub-format's). */
  formatTag: number;
  extensible: boolean;
  /** Speaker mask of an EXTENSIBLE header (0 when absent). */
  channelMask: number;
  /** Byte offset of the first audio byte. */
  dataOffset: number;
  /** Audio bytes used (whole frames). */
  dataBytes: number;
  /** True when the data size was a streaming placeholder and the data ran to the end of the file. */
  streamed: boolean;
}

const TAG_PCM = 0x0001;
const TAG_FLOAT = 0x0003;
const TAG_ALAW = 0x0006;
const TAG_MULAW = 0x0007;
const TAG_EXTENSIBLE = 0xfffe;

/** Bytes 2..15 of every KSDATAFORMAT_SUBTYPE_* GUID that maps a classic format tag. */
const GUID_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];

const KNOWN_CODECS: Record<number, string> = {
  0x0002: 'Microsoft ADPCM',
  0x0011: 'IMA ADPCM',
  0x0031: 'GSM 6.10',
  0x0050: 'MPEG',
  0x0055: 'MPEG Layer III',
  0x00ff: 'AAC',
  0x1610: 'HE-AAC',
  0xf1ac: 'FLAC',
};

const SUPPORTED =
  'PCM 8-bit unsigned / 16, 24, 32-bit signed, IEEE float 32/64-bit, A-law, µ-law (plain or WAVE_FORMAT_EXTENSIBLE)';

function fourcc(b: Uint8Array, off: number): string {
  let s = '';
  for (let i = 0; i < 4; i++) {
    const c = b[off + i];
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return s;
}

function plausibleChunkId(b: Uint8Array, off: number): boolean {
  if (off + 8 > b.length) return false;
  for (let i = 0; i < 4; i++) {
    const c = b[off + i];
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

const hex4 = (v: number) => `0x${v.toString(16).padStart(4, '0').toUpperCase()}`;

/** True when the bytes start like a RIFF/RF64 WAVE file. */
export function isWav(bytes: Uint8Array): boolean {
  if (bytes.length < 12) return false;
  const id = fourcc(bytes, 0);
  return (id === 'RIFF' || id === 'RF64' || id === 'RIFX') && fourcc(bytes, 8) === 'WAVE';
}

interface Fmt {
  offset: number; // byte offset of the fmt chunk header
  tag: number;
  extensible: boolean;
  channels: number;
  sampleRate: number;
  blockAlign: number;
  bits: number;
  validBits: number;
  channelMask: number;
}

function parseFmt(b: Uint8Array, dv: DataView, off: number, size: number, name: string): Fmt {
  const body = off + 8;
  if (size < 16) throw new AudioDecodeError(name, `fmt chunk at byte ${off} is ${size} bytes, need 16`, off);
  if (body + 16 > b.length) {
    const problem = `fmt chunk at byte ${off} is cut off: the file ends at byte ${b.length}, need ${body + 16}`;
    throw new AudioDecodeError(name, problem, off);
  }
  let tag = dv.getUint16(body, true);
  const channels = dv.getUint16(body + 2, true);
  const sampleRate = dv.getUint32(body + 4, true);
  const blockAlign = dv.getUint16(body + 12, true);
  const bits = dv.getUint16(body + 14, true);
  let validBits = bits;
  let channelMask = 0;
  let extensible = false;
  if (tag === TAG_EXTENSIBLE) {
    extensible = true;
    if (size < 40) {
      const problem = `fmt chunk at byte ${off} is ${size} bytes, WAVE_FORMAT_EXTENSIBLE needs 40`;
      throw new AudioDecodeError(name, problem, off);
    }
    if (body + 40 > b.length) {
      const problem = `fmt chunk at byte ${off} is cut off: the file ends at byte ${b.length}, need ${body + 40}`;
      throw new AudioDecodeError(name, problem, off);
    }
    const cbSize = dv.getUint16(body + 16, true);
    if (cbSize < 22) {
      const problem = `fmt chunk at byte ${off}: WAVE_FORMAT_EXTENSIBLE extension size is ${cbSize}, need 22`;
      throw new AudioDecodeError(name, problem, body + 16);
    }
    validBits = dv.getUint16(body + 18, true) || bits; // 0 means "all bits valid"
    channelMask = dv.getUint32(body + 20, true);
    const guid = body + 24;
    for (let i = 0; i < 14; i++) {
      if (b[guid + 2 + i] !== GUID_TAIL[i]) {
        const g = Array.from(b.subarray(guid, guid + 16), (x) => x.toString(16).padStart(2, '0')).join('');
        const problem = `unsupported WAVE_FORMAT_EXTENSIBLE sub-format GUID ${g} at byte ${guid}; ` +
          `supported: ${SUPPORTED}`;
        throw new AudioDecodeError(name, problem, guid);
      }
    }
    tag = dv.getUint16(guid, true);
  }
  const tagAt = extensible ? body + 24 : body;
  if (tag !== TAG_PCM && tag !== TAG_FLOAT && tag !== TAG_ALAW && tag !== TAG_MULAW) {
    const what = KNOWN_CODECS[tag] ? `${hex4(tag)} (${KNOWN_CODECS[tag]})` : hex4(tag);
    throw new AudioDecodeError(name, `unsupported WAV codec ${what} at byte ${tagAt}; supported: ${SUPPORTED}`, tagAt);
  }
  if (channels === 0) throw new AudioDecodeError(name, `fmt chunk at byte ${off} says 0 channels`, body + 2);
  if (sampleRate < MIN_SAMPLE_RATE || sampleRate > MAX_SAMPLE_RATE) {
    throw new AudioDecodeError(
      name,
      `fmt chunk at byte ${off} says sample rate ${sampleRate} Hz; ` +
        `supported: ${MIN_SAMPLE_RATE} to ${MAX_SAMPLE_RATE} Hz`,
      body + 4,
    );
  }
  const container = Math.ceil(bits / 8);
  let okBits: boolean;
  if (tag === TAG_PCM) okBits = bits >= 1 && bits <= 32;
  else if (tag === TAG_FLOAT) okBits = bits === 32 || bits === 64;
  else okBits = bits === 8;
  if (!okBits || validBits > bits) {
    const problem =
      `fmt chunk at byte ${off}: ${bits} bits per sample (${validBits} valid) is not valid for codec ${hex4(tag)}`;
    throw new AudioDecodeError(name, problem, body + 14);
  }
  if (blockAlign !== channels * container) {
    throw new AudioDecodeError(
      name,
      `fmt chunk at byte ${off}: block align ${blockAlign} does not match ` +
        `${channels} channel(s) × ${container} byte(s)`,
      body + 12,
    );
  }
  return { offset: off, tag, extensible, channels, sampleRate, blockAlign, bits, validBits, channelMask };
}

let alawTable: Float32Array | undefined;
let mulawTable: Float32Array | undefined;

/** G.711 A-law byte → linear sample in [-1, 1) (16-bit scale). */
function alaw(): Float32Array {
  if (alawTable) return alawTable;
  const t = new Float32Array(256);
  for (let i = 0; i < 256; i++) {
    const a = i ^ 0x55;
    const exp = (a >> 4) & 7;
    const man = a & 0x0f;
    const mag = exp === 0 ? (man << 4) + 8 : ((man << 4) + 0x108) << (exp - 1);
    t[i] = ((a & 0x80) !== 0 ? mag : -mag) / 32768;
  }
  return (alawTable = t);
}

/** G.711 µ-law byte → linear sample in [-1, 1) (16-bit scale). */
function mulaw(): Float32Array {
  if (mulawTable) return mulawTable;
  const t = new Float32Array(256);
  for (let i = 0; i < 256; i++) {
    const u = ~i & 0xff;
    const exp = (u >> 4) & 7;
    const man = u & 0x0f;
    const mag = (((man << 3) + 0x84) << exp) - 0x84;
    t[i] = ((u & 0x80) !== 0 ? -mag : mag) / 32768;
  }
  return (mulawTable = t);
}

/** Everything about a WAV file but its samples: what `parseWav` reports, plus the frame count. */
export type WavHeader = Omit<WavAudio, 'channels'> & { channelCount: number; frames: number };

/**
 * Reads a RIFF/WAVE header (the chunk walk and `fmt `), no samples.
 * @throws AudioDecodeError for anything truncated, inconsistent or unsupported
 */
export function readWavHeader(bytes: Uint8Array, name: string): WavHeader {
  return walkHeader(bytes, name, false)!;
}

/**
 * The header of a WAV *stream* from its first bytes (a pipe: the audio is still to come): null while `bytes` end
 * before the `data` chunk's header. The declared data size is taken as it stands (`dataBytes`, whole frames), or,
 * when it is 0 or a placeholder (0xFFFFFFFF, ≥ 0x7FFF0000), the data runs to the end of the stream (`streamed`).
 * The `fmt ` chunk must come before `data`. `frames` is not meaningful here.
 * @throws AudioDecodeError for bytes that are not a WAV header, or an unsupported format
 */
export function readWavStreamHeader(bytes: Uint8Array, name: string): WavHeader | null {
  return walkHeader(bytes, name, true);
}

/** The chunk walk; `prefix`: `bytes` are the start of a stream (see readWavStreamHeader). */
function walkHeader(bytes: Uint8Array, name: string, prefix: boolean): WavHeader | null {
  const len = bytes.length;
  if (len < 12) {
    if (prefix) return null;
    throw new AudioDecodeError(name, `file is ${len} bytes, too short for a RIFF/WAVE header (12 bytes)`, 0);
  }
  const magic = fourcc(bytes, 0);
  if (magic === 'RIFX') throw new AudioDecodeError(name, 'big-endian RIFX WAVE files are not supported', 0);
  if (magic !== 'RIFF' && magic !== 'RF64') {
    throw new AudioDecodeError(name, `not a RIFF file: starts with '${magic}' at byte 0`, 0);
  }
  if (fourcc(bytes, 8) !== 'WAVE') {
    throw new AudioDecodeError(name, `RIFF form type at byte 8 is '${fourcc(bytes, 8)}', not 'WAVE'`, 8);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  let fmt: Fmt | undefined;
  let ds64DataSize: number | undefined;
  let dataHeader = -1; // offset of the data chunk header
  let dataStart = 0;
  let dataAvail = 0; // bytes of audio available (before rounding to frames)
  let streamed = false;
  let off = 12;

  while (off + 8 <= len) {
    const id = fourcc(bytes, off);
    const size = dv.getUint32(off + 4, true);
    const body = off + 8;
    const left = len - body;

    if (id === 'data') {
      if (dataHeader < 0) {
        dataHeader = off;
        dataStart = body;
        let declared = size;
        if (magic === 'RF64' && size === 0xffffffff && ds64DataSize !== undefined) declared = ds64DataSize;
        if (prefix) {
          if (!fmt) {
            const problem = `data chunk at byte ${off} comes before the 'fmt ' chunk: a stream needs the format first`;
            throw new AudioDecodeError(name, problem, off);
          }
          streamed = declared === 0 || declared === 0xffffffff || declared >= 0x7fff0000;
          dataAvail = streamed ? left : declared;
          break;
        }
        if (declared <= left) {
          const placeholderZero = declared === 0 && left > 0 && !plausibleChunkId(bytes, body);
          if (placeholderZero) {
            dataAvail = left;
            streamed = true;
            break;
          }
          dataAvail = declared;
        } else if (declared === 0xffffffff || declared >= 0x7fff0000) {
          dataAvail = left;
          streamed = true;
          break; // the data runs to the end of the file
        } else {
          throw new AudioDecodeError(
            name,
            `data chunk at byte ${off} declares ${declared} bytes but only ${left} remain (file truncated)`,
            off,
          );
        }
        if (fmt) break; // everything needed; ignore trailing chunks
      }
    } else if (size > left) {
      // A chunk that runs past the end of the file. Harmless trailing metadata once we have both
      // fmt and data; before that it means the file is cut short (or, for a stream, that more is to come).
      if (fmt && dataHeader >= 0) break;
      if (prefix) return null;
      throw new AudioDecodeError(
        name,
        `chunk '${id}' at byte ${off} declares ${size} bytes but only ${left} remain (file truncated)`,
        off,
      );
    } else if (id === 'fmt ') {
      if (!fmt) fmt = parseFmt(bytes, dv, off, size, name);
      if (dataHeader >= 0) break;
    } else if (id === 'ds64' && magic === 'RF64') {
      if (size < 24) throw new AudioDecodeError(name, `ds64 chunk at byte ${off} is ${size} bytes, need 24`, off);
      const lo = dv.getUint32(body + 8, true);
      const hi = dv.getUint32(body + 12, true);
      ds64DataSize = hi * 0x1_0000_0000 + lo;
    }

    let next = body + size;
    if (size & 1) {
      // pad byte; tolerate writers that omit it
      next += 1;
      if (!plausibleChunkId(bytes, next) && plausibleChunkId(bytes, next - 1)) next -= 1;
    }
    off = next;
  }

  if (prefix && dataHeader < 0) return null;
  if (!fmt) {
    const problem = `no 'fmt ' chunk found (scanned up to byte ${Math.min(off, len)} of ${len})`;
    throw new AudioDecodeError(name, problem, Math.min(off, len));
  }
  if (dataHeader < 0) {
    const problem = `no 'data' chunk found (scanned up to byte ${Math.min(off, len)} of ${len})`;
    throw new AudioDecodeError(name, problem, Math.min(off, len));
  }

  const frames = Math.floor(dataAvail / fmt.blockAlign);
  const bps = fmt.blockAlign / fmt.channels;
  const encoding: WavEncoding =
    fmt.tag === TAG_FLOAT ? 'float'
    : fmt.tag === TAG_ALAW ? 'alaw'
    : fmt.tag === TAG_MULAW ? 'mulaw'
    : bps === 1 ? 'pcm-uint8'
    : 'pcm-int';
  return {
    sampleRate: fmt.sampleRate,
    channelCount: fmt.channels,
    frames,
    encoding,
    bitsPerSample: bps * 8,
    validBitsPerSample: fmt.validBits,
    formatTag: fmt.tag,
    extensible: fmt.extensible,
    channelMask: fmt.channelMask,
    dataOffset: dataStart,
    dataBytes: frames * fmt.blockAlign,
    streamed,
  };
}

/**
 * Converts frames [f0, f1) of a WAV file to Float32, one array per channel, written from index
 * `at` of each `out` array. A NaN or infinite float sample is an AudioDecodeError.
 */
export function readWavFrames(
  bytes: Uint8Array,
  h: WavHeader,
  name: string,
  f0: number,
  f1: number,
  channels: Float32Array[],
  at = 0,
): void {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nch = h.channelCount;
  const bps = h.bitsPerSample / 8;
  const frames = f1 - f0;
  const dataStart = h.dataOffset + f0 * nch * bps;
  const { encoding } = h;
  if (encoding === 'float') {
    for (let f = 0, p = dataStart; f < frames; f++) {
      for (let c = 0; c < nch; c++, p += bps) {
        const v = bps === 4 ? dv.getFloat32(p, true) : dv.getFloat64(p, true);
        if (!Number.isFinite(v)) {
          throw new AudioDecodeError(name, `non-finite float sample (${v}) at byte ${p}`, p);
        }
        channels[c][at + f] = v;
      }
    }
  } else if (encoding === 'alaw' || encoding === 'mulaw') {
    const table = encoding === 'alaw' ? alaw() : mulaw();
    for (let f = 0, p = dataStart; f < frames; f++) {
      for (let c = 0; c < nch; c++, p++) channels[c][at + f] = table[bytes[p]];
    }
  } else if (encoding === 'pcm-uint8') {
    for (let f = 0, p = dataStart; f < frames; f++) {
      for (let c = 0; c < nch; c++, p++) channels[c][at + f] = (bytes[p] - 128) / 128;
    }
  } else if (bps === 2) {
    for (let f = 0, p = dataStart; f < frames; f++) {
      for (let c = 0; c < nch; c++, p += 2) channels[c][at + f] = dv.getInt16(p, true) / 32768;
    }
  } else if (bps === 3) {
    for (let f = 0, p = dataStart; f < frames; f++) {
      for (let c = 0; c < nch; c++, p += 3) {
        const v = (bytes[p] | (bytes[p + 1] << 8) | (bytes[p + 2] << 16)) << 8; // sign-extend via the top byte
        channels[c][at + f] = (v >> 8) / 8388608;
      }
    }
  } else {
    for (let f = 0, p = dataStart; f < frames; f++) {
      for (let c = 0; c < nch; c++, p += 4) channels[c][at + f] = dv.getInt32(p, true) / 2147483648;
    }
  }
}

/**
 * Parse a RIFF/WAVE file into per-channel Float32 samples.
 * @param name used in error messages (a path, URL or label)
 * @throws AudioDecodeError for anything truncated, inconsistent or unsupported
 */
export function parseWav(bytes: Uint8Array, name: string): WavAudio {
  const h = readWavHeader(bytes, name);
  const channels = Array.from({ length: h.channelCount }, () => new Float32Array(h.frames));
  readWavFrames(bytes, h, name, 0, h.frames, channels);
  const { channelCount: _n, frames: _f, ...rest } = h;
  return { ...rest, channels };
}
