/**
 * Seed audio files (WAV built here, a short FLAC and MP3 in ./seeds) and the byte-level mutations
 * the audio and HTTP fuzz tests apply to them. All randomness comes from the caller's seeded Rng.
 */
import { readFileSync } from 'node:fs';
import type { Rng } from './mutate';

/** A small WAV: `bits` 8/16/24 PCM, 32 float, or 8-bit A-law; optional EXTENSIBLE header. */
interface WavKind {
  float?: boolean;
  alaw?: boolean;
  extensible?: boolean;
}

function wav(rate: number, channels: number, bits: number, frames: number, opts: WavKind = {}): Uint8Array {
  const bps = bits / 8;
  const fmtSize = opts.extensible ? 40 : 16;
  const data = frames * channels * bps;
  const b = new Uint8Array(12 + 8 + fmtSize + 8 + data);
  const v = new DataView(b.buffer);
  const ascii = (o: number, s: string) => [...s].forEach((c, i) => (b[o + i] = c.charCodeAt(0)));
  const tag = opts.float ? 3 : opts.alaw ? 6 : 1;
  ascii(0, 'RIFF');
  v.setUint32(4, b.length - 8, true);
  ascii(8, 'WAVEfmt ');
  v.setUint32(16, fmtSize, true);
  v.setUint16(20, opts.extensible ? 0xfffe : tag, true);
  v.setUint16(22, channels, true);
  v.setUint32(24, rate, true);
  v.setUint32(28, rate * channels * bps, true);
  v.setUint16(32, channels * bps, true);
  v.setUint16(34, bits, true);
  if (opts.extensible) {
    v.setUint16(36, 22, true);
    v.setUint16(38, bits, true);
    v.setUint32(40, 3, true);
    b.set([tag, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71], 44);
  }
  const d = 20 + fmtSize;
  ascii(d, 'data');
  v.setUint32(d + 4, data, true);
  for (let i = 0; i < frames * channels; i++) {
    const x = Math.sin(i / 5) * 0.5;
    const p = d + 8 + i * bps;
    if (opts.float) v.setFloat32(p, x, true);
    else if (bits === 8) b[p] = opts.alaw ? (i * 37) & 255 : Math.round(128 + 100 * x);
    else if (bits === 16) v.setInt16(p, Math.round(20000 * x), true);
    else {
      const s = Math.round(4_000_000 * x);
      b[p] = s & 255;
      b[p + 1] = (s >> 8) & 255;
      b[p + 2] = (s >> 16) & 255;
    }
  }
  return b;
}

/** An MP4 with a movie header (10 s) and an empty data box: enough for the header reader, no audio to decode. */
function mp4Boxes(): Uint8Array {
  const b = new Uint8Array(16 + 8 + 8 + 100 + 8 + 32);
  const v = new DataView(b.buffer);
  const ascii = (o: number, s: string) => [...s].forEach((c, i) => (b[o + i] = c.charCodeAt(0)));
  v.setUint32(0, 16);
  ascii(4, 'ftypM4A ');
  v.setUint32(16, 8 + 108);
  ascii(20, 'moov');
  v.setUint32(24, 108);
  ascii(28, 'mvhd');
  v.setUint32(32 + 12, 1000);
  v.setUint32(32 + 16, 10_000);
  v.setUint32(132, 40);
  ascii(136, 'mdat');
  return b;
}

const seedFile = (name: string) => new Uint8Array(readFileSync(new URL(`./seeds/${name}`, import.meta.url)));

export const AUDIO_SEEDS: [string, Uint8Array][] = [
  ['pcm16-16k-mono.wav', wav(16000, 1, 16, 3200)],
  ['pcm24-44k-stereo.wav', wav(44100, 2, 24, 2000)],
  ['float-48k-mono.wav', wav(48000, 1, 32, 2400, { float: true })],
  ['alaw-8k-mono.wav', wav(8000, 1, 8, 1600, { alaw: true })],
  ['ext-pcm16-22k-stereo.wav', wav(22050, 2, 16, 2205, { extensible: true })],
  ['pcm8-11k-mono.wav', wav(11025, 1, 8, 1100)],
  ['tone.flac', seedFile('tone.flac')],
  ['speech.mp3', seedFile('speech.mp3')],
  ['tone.aiff', seedFile('tone.aiff')],
  ['index-only.m4a', mp4Boxes()],
];

const INTERESTING_32 = [
  0, 1, 2, 999, 1000, 7999, 16000, 44100, 768_000, 768_001, 20_000_003,
  0x7fff_0000, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff,
];
const INTERESTING_16 = [0, 1, 2, 3, 6, 7, 8, 12, 16, 24, 32, 64, 255, 0x7fff, 0xfffe, 0xffff];

/** One to four mutations, most of them in the first 64 bytes, where the headers are. */
export function mutateAudio(r: Rng, input: Uint8Array): Uint8Array {
  let b = input.slice();
  const at = () => (r.chance(0.75) ? r.int(Math.min(64, b.length)) : r.int(b.length));
  for (let m = 0, n = 1 + r.int(4); m < n && b.length > 0; m++) {
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    switch (r.int(8)) {
      case 0:
        b[at()] ^= 1 << r.int(8);
        break;
      case 1:
        b[at()] = r.int(256);
        break;
      case 2: {
        const p = at();
        if (p + 4 <= b.length) v.setUint32(p, r.pick(INTERESTING_32), r.chance(0.8));
        break;
      }
      case 3: {
        const p = at();
        if (p + 2 <= b.length) v.setUint16(p, r.pick(INTERESTING_16), r.chance(0.8));
        break;
      }
      case 4:
        b = b.slice(0, r.int(b.length + 1));
        break;
      case 5: {
        const junk = Uint8Array.from({ length: 1 + r.int(300) }, () => r.int(256));
        const out = new Uint8Array(b.length + junk.length);
        const p = r.int(b.length + 1);
        out.set(b.subarray(0, p));
        out.set(junk, p);
        out.set(b.subarray(p), p + junk.length);
        b = out;
        break;
      }
      case 6: {
        // copy a block of the header over another place (duplicated or misplaced chunks, frames)
        const from = r.int(Math.min(64, b.length));
        const len = 1 + r.int(24);
        b.copyWithin(at(), from, from + len);
        break;
      }
      default: {
        const p = r.int(b.length);
        b.fill(r.chance(0.5) ? 0 : 0xff, p, p + 1 + r.int(64));
      }
    }
  }
  return b;
}

