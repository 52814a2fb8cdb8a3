/**
 * PcmStreamDecoder: a WAV stream or raw PCM pushed in pieces of any size (single bytes, odd sizes that split
 * samples and frames, the header cut anywhere) decodes to exactly what the whole bytes decode to; the streaming
 * data sizes (0, 0xFFFFFFFF) run to the end; bad streams fail with the problem and its byte offset.
 */
import { describe, expect, it } from 'vitest';
import { downmixToMono } from '../../src/audio/decode';
import { AudioDecodeError } from '../../src/audio/errors';
import { MAX_WAV_STREAM_HEADER_BYTES, PcmStreamDecoder, type RawPcmFormat } from '../../src/audio/wav-stream';
import { parseWav } from '../../src/audio/wav';
import { AUDIO_SEEDS, mutateAudio } from '../fuzz/audio-mutate';
import { Rng } from '../fuzz/mutate';
import { encodeSamples, makeWav } from './helpers';

/** A deterministic pseudo-random generator (tests must not depend on Math.random's sequence). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

/** `bytes` cut at random places into pieces of 1 to `max` bytes. */
function pieces(bytes: Uint8Array, max: number, seed: number): Uint8Array[] {
  const r = rng(seed);
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length;) {
    const n = 1 + Math.floor(r() * max);
    out.push(bytes.slice(at, at + n));
    at += n;
  }
  return out;
}

function decodeInPieces(parts: Uint8Array[], raw?: RawPcmFormat): Float32Array {
  const dec = new PcmStreamDecoder('stdin', raw);
  const got: number[] = [];
  for (const p of parts) got.push(...dec.push(p));
  dec.end();
  return Float32Array.from(got);
}

function randomWords(n: number, bits: number, seed: number): number[] {
  const r = rng(seed);
  const full = 2 ** (bits - 1);
  return Array.from({ length: n }, () => Math.floor((r() * 2 - 1) * full));
}

function streamError(parts: Uint8Array[], raw?: RawPcmFormat): AudioDecodeError {
  const dec = new PcmStreamDecoder('stdin', raw);
  try {
    for (const p of parts) dec.push(p);
    dec.end();
  } catch (e) {
    expect(e).toBeInstanceOf(AudioDecodeError);
    expect((e as Error).message.startsWith('stdin: ')).toBe(true);
    return e as AudioDecodeError;
  }
  throw new Error('expected an AudioDecodeError');
}

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

describe('PcmStreamDecoder: WAV streams', () => {
  it('16-bit mono in pieces of every size from 1 to 7 bytes equals the whole file, header included', () => {
    const wav = makeWav({ format: 1, bits: 16, rate: 16000, channels: 1, samples: randomWords(301, 16, 1) });
    const want = parseWav(wav, 'x').channels[0];
    for (let max = 1; max <= 7; max++) {
      expect(decodeInPieces(pieces(wav, max, max))).toEqual(want);
    }
  });

  it('24-bit stereo at 48 kHz is mixed down to mono; the rate is known once the header is read', () => {
    const wav = makeWav({ format: 1, bits: 24, rate: 48000, channels: 2, samples: randomWords(2 * 257, 24, 2) });
    const dec = new PcmStreamDecoder('stdin');
    expect(dec.sampleRate).toBeUndefined();
    expect(dec.push(wav.subarray(0, 43)).length).toBe(0); // one byte short of the data chunk's body
    expect(dec.sampleRate).toBeUndefined();
    const got = [...dec.push(wav.subarray(43, 50))]; // 7 bytes: one frame (6 bytes), one byte carried
    expect(dec.sampleRate).toBe(48000);
    expect(dec.channels).toBe(2);
    for (const p of pieces(wav.subarray(50), 13, 3)) got.push(...dec.push(p));
    dec.end();
    expect(Float32Array.from(got)).toEqual(downmixToMono(parseWav(wav, 'x').channels));
  });

  it('data size 0 or 0xFFFFFFFF (streaming writers) runs to the end of the stream', () => {
    const samples = randomWords(100, 16, 4);
    const want = parseWav(makeWav({ format: 1, bits: 16, rate: 24000, channels: 1, samples }), 'x').channels[0];
    for (const dataSize of [0, 0xffffffff, 0x7ffff000]) {
      const wav = makeWav({ format: 1, bits: 16, rate: 24000, channels: 1, samples, dataSize, riffSize: dataSize });
      expect(decodeInPieces(pieces(wav, 9, dataSize))).toEqual(want);
    }
  });

  it('a declared data size ends the audio there: a LIST chunk after it is not read as samples', () => {
    const samples = randomWords(64, 16, 5);
    const list = { id: 'LIST', body: ascii('INFOISFT\x05\x00\x00\x00sox\x00\x00') };
    const wav = makeWav({ format: 1, bits: 16, rate: 16000, channels: 1, samples, after: [list] });
    expect(decodeInPieces(pieces(wav, 5, 6))).toEqual(parseWav(wav, 'x').channels[0]);
  });

  it('an odd-sized chunk before data (with its pad byte, or without it) is walked over byte by byte', () => {
    const samples = randomWords(10, 16, 7);
    const before = [{ id: 'LIST', body: ascii('odd') }];
    for (const noPad of [false, true]) {
      const wav = makeWav({ format: 1, bits: 16, rate: 16000, channels: 1, samples, before, noPad });
      expect(decodeInPieces(pieces(wav, 1, 8))).toEqual(parseWav(wav, 'x').channels[0]);
    }
  });

  it('a stream cut mid-data is not an error: its whole frames are kept', () => {
    const wav = makeWav({ format: 1, bits: 16, rate: 16000, channels: 2, samples: randomWords(40, 16, 9) });
    const cut = wav.subarray(0, wav.length - 7); // 20 frames of 4 bytes: 18 whole ones and 1 byte are left
    expect(decodeInPieces(pieces(cut, 6, 10))).toEqual(downmixToMono(parseWav(wav, 'x').channels).slice(0, 18));
  });

  it('a NaN float sample is an error at its byte offset in the stream', () => {
    const samples = [0.5, -0.5, 0.25, NaN, 0];
    const wav = makeWav({ format: 3, bits: 32, rate: 16000, channels: 1, samples });
    const e = streamError(pieces(wav, 5, 11));
    expect(e.message).toBe(`stdin: non-finite float sample (NaN) at byte ${44 + 12}`);
    expect(e.byteOffset).toBe(56);
  });
});

describe('PcmStreamDecoder: bad WAV streams', () => {
  it('garbage bytes: not a RIFF file, after 12 bytes', () => {
    const dec = new PcmStreamDecoder('stdin');
    expect(dec.push(ascii('hello world')).length).toBe(0);
    expect(() => dec.push(ascii('!'))).toThrow(/^stdin: not a RIFF file: starts with 'hell' at byte 0$/);
  });

  it('another container is named', () => {
    const id3 = Uint8Array.of(0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 0, 0, 0xff, 0xfb, 0x90, 0x64);
    expect(streamError([id3]).message).toBe('stdin: is MP3 audio, not a WAV stream or raw PCM');
    expect(streamError([ascii('fLaC\0\0\0\x22xxxxxxxx')]).message).toMatch(/is FLAC audio/);
  });

  it('a stream that ends inside its header, or is empty', () => {
    const wav = makeWav({ format: 1, bits: 16, rate: 16000, channels: 1, samples: [1, 2] });
    for (const n of [7, 12, 30, 43]) {
      const e = streamError(pieces(wav.subarray(0, n), 3, n));
      expect(e.message).toBe(`stdin: ended after ${n} bytes, inside the WAV header`);
      expect(e.byteOffset).toBe(n);
    }
    expect(streamError([]).message).toBe('stdin: is empty: no WAV header came');
  });

  it('a header whose chunks before data run past 1 MiB is refused without waiting for more', () => {
    const head = makeWav({ format: 1, bits: 16, rate: 16000, channels: 1, samples: [],
      before: [{ id: 'JUNK', body: new Uint8Array(0) }] }).subarray(0, 44);
    new DataView(head.buffer, head.byteOffset).setUint32(40, 0x7ffffff0, true); // JUNK declares ~2 GiB
    const dec = new PcmStreamDecoder('stdin');
    dec.push(head);
    expect(() => dec.push(new Uint8Array(MAX_WAV_STREAM_HEADER_BYTES)))
      .toThrow(`stdin: no WAV 'data' chunk in the first ${MAX_WAV_STREAM_HEADER_BYTES} bytes`);
  });

  it('data before fmt cannot be streamed; an unsupported codec is named', () => {
    const d = ascii('RIFF\xff\xff\xff\xffWAVEdata\xff\xff\xff\xff\0\0\0\0');
    expect(streamError([d]).message).toBe(
      "stdin: data chunk at byte 12 comes before the 'fmt ' chunk: a stream needs the format first");
    const adpcm = makeWav({ format: 2, bits: 4, rate: 16000, channels: 1, samples: [] });
    expect(streamError([adpcm]).message).toMatch(/unsupported WAV codec 0x0002 \(Microsoft ADPCM\)/);
  });
});

describe('PcmStreamDecoder: raw PCM', () => {
  it('s16le stereo split at odd byte counts equals the same samples as a WAV file', () => {
    const words = randomWords(2 * 199, 16, 12);
    const bytes = encodeSamples(1, 16, words);
    const want = downmixToMono(parseWav(makeWav({ format: 1, bits: 16, rate: 8000, channels: 2, samples: words }),
      'x').channels);
    for (const max of [1, 3, 5, 99]) {
      expect(decodeInPieces(pieces(bytes, max, max), { encoding: 's16le', sampleRate: 8000, channels: 2 }))
        .toEqual(want);
    }
  });

  it('f32le mono, values passed through; a trailing partial sample is dropped', () => {
    const values = [0.1, -0.7, 1.5, 0];
    const bytes = encodeSamples(3, 32, values);
    const cut = bytes.subarray(0, 15);
    expect(decodeInPieces(pieces(cut, 2, 13), { encoding: 'f32le', sampleRate: 16000, channels: 1 }))
      .toEqual(Float32Array.from(values.slice(0, 3)));
  });

  it('an infinite f32le sample is an error at its stream offset', () => {
    const bytes = encodeSamples(3, 32, [0, 0, 0, Infinity]);
    const e = streamError(pieces(bytes, 3, 14), { encoding: 'f32le', sampleRate: 16000, channels: 1 });
    expect(e.message).toBe('stdin: non-finite float sample (Infinity) at byte 12');
  });

  it('a rate or channel count out of range is refused at construction', () => {
    expect(() => new PcmStreamDecoder('stdin', { encoding: 's16le', sampleRate: 10, channels: 1 }))
      .toThrow(/sample rate 10 Hz is outside 1000 to 768000 Hz/);
    expect(() => new PcmStreamDecoder('stdin', { encoding: 's16le', sampleRate: 16000, channels: 0 }))
      .toThrow(/channel count 0/);
  });
});

describe('PcmStreamDecoder: seeded fuzz', () => {
  it('2000 mutated WAV, FLAC, MP3, AIFF and MP4 seeds in random pieces: finite samples or an AudioDecodeError', () => {
    const r = new Rng(0x5eed_57e4);
    let rejected = 0;
    for (let i = 0; i < 2000; i++) {
      const [seed, bytes] = r.pick(AUDIO_SEEDS);
      const input = mutateAudio(r, bytes);
      const dec = new PcmStreamDecoder('stdin');
      try {
        for (const p of pieces(input, 1 + r.int(600), i)) {
          const x = dec.push(p);
          for (let k = 0; k < x.length; k++) {
            if (!Number.isFinite(x[k])) throw new Error(`case ${i} (${seed}): sample ${k} is ${x[k]}`);
          }
        }
        dec.end();
      } catch (e) {
        if (!(e instanceof AudioDecodeError) || !e.message.startsWith('stdin: ')) {
          throw new Error(`case ${i} (${seed}): ${(e as Error).message}`, { cause: e });
        }
        rejected++;
      }
    }
    // Both outcomes occur: the mutations are neither all harmless nor all fatal.
    expect(rejected).toBeGreaterThan(200);
    expect(rejected).toBeLessThan(1900);
  });
});
