/**
 * Audio from a byte stream that arrives in pieces of any size (a pipe: `arecord … |`, `sox … -t wav - |`), decoded
 * to mono float samples as the bytes come: either a WAV stream (its header, then PCM) or raw PCM of a given format.
 *
 * Memory stays bounded however long the stream runs: the decoder keeps the WAV header until it is complete (at most
 * `MAX_WAV_STREAM_HEADER_BYTES`) and then only a partial frame (fewer bytes than one frame) between pieces.
 *
 * WAV streams: the header is read with `readWavStreamHeader` (wav.ts), so every encoding `parseWav` reads is read
 * here too; a data size of 0 or a placeholder (0xFFFFFFFF, as streaming writers leave it) means "to the end of the
 * stream", any other size ends the audio there (what follows, e.g. a LIST chunk, is skipped). A stream that ends
 * early is not an error (a recording stopped with Ctrl-C); one that ends inside its header is.
 */
import { downmixToMono } from './decode';
import { AudioDecodeError } from './errors';
import { sniffContainer } from './probe';
import { MAX_SAMPLE_RATE, MIN_SAMPLE_RATE } from './resample';
import { readWavFrames, readWavStreamHeader, type WavHeader } from './wav';

export const RAW_ENCODINGS = ['s16le', 'f32le'] as const;
export type RawEncoding = (typeof RAW_ENCODINGS)[number];

/** Headerless PCM: interleaved little-endian samples. */
export interface RawPcmFormat {
  encoding: RawEncoding;
  sampleRate: number;
  channels: number;
}

/** The most bytes a WAV stream's chunks before `data` may take (LIST, bext… are small; more means garbage). */
export const MAX_WAV_STREAM_HEADER_BYTES = 2 ** 20;

const CONTAINER_NAMES: Record<string, string> = {
  flac: 'FLAC', mp3: 'MP3', aac: 'AAC (ADTS)', 'ogg-vorbis': 'Ogg Vorbis', 'ogg-opus': 'Ogg Opus', ogg: 'Ogg',
  mp4: 'MP4/M4A', webm: 'WebM', aiff: 'AIFF', caf: 'CAF', amr: 'AMR', wma: 'WMA', qoa: 'QOA', wavpack: 'WavPack',
};

/**
 * Decodes a stream piece by piece: `push` each piece as it arrives and get its mono samples (at `sampleRate`,
 * known once the header is read), then `end` when the stream ends.
 *
 * @example
 * const dec = new PcmStreamDecoder('stdin');                       // a WAV stream; or pass a RawPcmFormat
 * for await (const piece of process.stdin) session.push(dec.push(piece));
 * dec.end();
 */
export class PcmStreamDecoder {
  private header: WavHeader | null = null;
  /** Until the header is read: the bytes so far; after: a partial frame carried to the next piece. */
  private pending: Uint8Array = new Uint8Array(0);
  /** Stream offset of `pending[0]`. */
  private pendingAt = 0;
  /** Audio bytes still to come (Infinity: to the end of the stream). */
  private dataLeft = Infinity;

  constructor(private readonly name: string, raw?: RawPcmFormat) {
    if (!raw) return;
    if (!(raw.sampleRate >= MIN_SAMPLE_RATE && raw.sampleRate <= MAX_SAMPLE_RATE)) {
      throw new RangeError(`sample rate ${raw.sampleRate} Hz is outside ${MIN_SAMPLE_RATE} to ${MAX_SAMPLE_RATE} Hz`);
    }
    if (!Number.isInteger(raw.channels) || raw.channels < 1 || raw.channels > 65535) {
      throw new RangeError(`channel count ${raw.channels} is not an integer from 1 to 65535`);
    }
    const bits = raw.encoding === 's16le' ? 16 : 32;
    // The same sample conversion as a WAV file of that format: a header with the audio starting at byte 0.
    this.header = {
      sampleRate: raw.sampleRate, channelCount: raw.channels, frames: 0,
      encoding: raw.encoding === 's16le' ? 'pcm-int' : 'float', bitsPerSample: bits, validBitsPerSample: bits,
      formatTag: raw.encoding === 's16le' ? 1 : 3, extensible: false, channelMask: 0,
      dataOffset: 0, dataBytes: 0, streamed: true,
    };
  }

  /** The stream's sample rate; undefined until a WAV stream's header has been read. */
  get sampleRate(): number | undefined {
    return this.header?.sampleRate;
  }

  /** The stream's channel count (the samples returned are their average); undefined until the header is read. */
  get channels(): number | undefined {
    return this.header?.channelCount;
  }

  /** The mono samples that `piece` completes (possibly none). */
  push(piece: Uint8Array): Float32Array {
    if (this.header) return this.frames(piece);
    this.pending = join(this.pending, piece);
    const h = this.readHeader(false);
    if (!h) return new Float32Array(0);
    this.header = h;
    this.dataLeft = h.streamed ? Infinity : h.dataBytes;
    const audio = this.pending.subarray(h.dataOffset);
    this.pendingAt = h.dataOffset;
    this.pending = new Uint8Array(0);
    return this.frames(audio);
  }

  /**
   * The stream has ended. A partial last frame is dropped (a capture stopped mid-frame).
   * @throws AudioDecodeError when a WAV stream ended before its header was complete
   */
  end(): void {
    if (!this.header) this.readHeader(true);
    this.pending = new Uint8Array(0);
  }

  /** The WAV header from the bytes so far; null while more are needed (`atEnd`: none will come, so that throws). */
  private readHeader(atEnd: boolean): WavHeader | null {
    const b = this.pending;
    if (b.length < 12 && !atEnd) return null;
    if (b.length === 0) throw new AudioDecodeError(this.name, 'is empty: no WAV header came', 0);
    const container = sniffContainer(b);
    if (container && container !== 'wav') {
      const what = CONTAINER_NAMES[container] ?? container;
      throw new AudioDecodeError(this.name, `is ${what} audio, not a WAV stream or raw PCM`, 0);
    }
    const h = readWavStreamHeader(b, this.name);
    if (h) return h;
    if (atEnd) throw new AudioDecodeError(this.name, `ended after ${b.length} bytes, inside the WAV header`, b.length);
    if (b.length > MAX_WAV_STREAM_HEADER_BYTES) {
      const problem = `no WAV 'data' chunk in the first ${MAX_WAV_STREAM_HEADER_BYTES} bytes`;
      throw new AudioDecodeError(this.name, problem, MAX_WAV_STREAM_HEADER_BYTES);
    }
    return null;
  }

  /** Whole frames of `piece` (after the carried partial frame) as mono samples; carries the rest. */
  private frames(piece: Uint8Array): Float32Array {
    const h = this.header!;
    if (this.dataLeft < piece.length) piece = piece.subarray(0, this.dataLeft);
    this.dataLeft -= piece.length;
    const bytes = this.pending.length ? join(this.pending, piece) : piece;
    const at = this.pendingAt;
    const blockAlign = h.channelCount * (h.bitsPerSample / 8);
    const n = Math.floor(bytes.length / blockAlign);
    this.pending = bytes.slice(n * blockAlign);
    this.pendingAt = at + n * blockAlign;
    const channels = Array.from({ length: h.channelCount }, () => new Float32Array(n));
    try {
      readWavFrames(bytes, { ...h, dataOffset: 0 }, this.name, 0, n, channels);
    } catch (e) {
      // Its offset is within this piece; the stream's is the one to report.
      if (!(e instanceof AudioDecodeError) || e.byteOffset === undefined) throw e;
      const offset = at + e.byteOffset;
      throw new AudioDecodeError(this.name, e.problem.replace(/at byte \d+$/, `at byte ${offset}`), offset);
    }
    return downmixToMono(channels);
  }
}

function join(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
