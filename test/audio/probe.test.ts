import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeAudio } from '../../src/audio/decode';
import { AudioDecodeError } from '../../src/audio/errors';
import { probeAudio } from '../../src/audio/probe';
import { HAS_CORPUS, NO_CORPUS, corpusBytes, hasCommand, pcmWav, removeTempDirs, run, tempDir } from './helpers';

afterAll(removeTempDirs);

async function decodeError(p: Promise<unknown>): Promise<AudioDecodeError> {
  const e = await p.then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(AudioDecodeError);
  return e as AudioDecodeError;
}

describe('probeAudio: the header alone', () => {
  it('WAV: exact duration, rate and channels', () => {
    const probe = probeAudio(pcmWav(22050, 22050 * 3), 'a.wav');
    expect(probe).toEqual({ container: 'wav', sampleRate: 22050, channels: 1, durationSec: 3 });
  });

  it('FLAC (STREAMINFO) and MP3 (frame headers) durations match the corpus', (ctx) => {
    if (!HAS_CORPUS) ctx.skip(NO_CORPUS);
    const flac = probeAudio(corpusBytes('audio/en-jfk-44k-stereo-24bit.flac'), 'jfk.flac');
    expect(flac).toMatchObject({ container: 'flac', sampleRate: 44100, channels: 2, durationSec: 11 });
    const mp3 = probeAudio(corpusBytes('audio/en-jfk.mp3'), 'jfk.mp3');
    expect(mp3).toMatchObject({ container: 'mp3', sampleRate: 16000 });
    expect(Math.abs(mp3.durationSec! - 11)).toBeLessThan(0.2); // whole frames, plus the encoder's delay
    const mp3b = probeAudio(corpusBytes('audio/zh-funasr-asr-example.mp3'), 'b.mp3');
    expect(Math.abs(mp3b.durationSec! - 5.547)).toBeLessThan(0.2);
  });

  it('Ogg Vorbis: duration from the last granule position', (ctx) => {
    if (!hasCommand('sox')) ctx.skip('sox is not installed: Ogg file not made');
    const file = join(tempDir(), 't.ogg');
    run('sox', ['-n', '-r', '22050', '-c', '2', file, 'synth', '2.5', 'sine', '440']);
    const p = probeAudio(new Uint8Array(readFileSync(file)), 't.ogg');
    expect(p).toMatchObject({ container: 'ogg-vorbis', sampleRate: 22050, channels: 2 });
    expect(p.durationSec).toBeCloseTo(2.5, 2);
  });

  it('AIFF: duration from COMM (80-bit rate)', (ctx) => {
    if (!hasCommand('sox')) ctx.skip('sox is not installed: AIFF file not made');
    const file = join(tempDir(), 't.aiff');
    run('sox', ['-n', '-r', '22050', '-c', '2', '-b', '16', file, 'synth', '1.5', 'sine', '440']);
    const p = probeAudio(new Uint8Array(readFileSync(file)), 't.aiff');
    expect(p).toEqual({ container: 'aiff', sampleRate: 22050, channels: 2, durationSec: 1.5 });
  });

  it('MP4: duration from the movie header, and whether the index comes after the data', () => {
    const box = (type: string, ...body: Uint8Array[]) => {
      const size = 8 + body.reduce((n, x) => n + x.length, 0);
      const out = new Uint8Array(size);
      new DataView(out.buffer).setUint32(0, size);
      out.set([...type].map((c) => c.charCodeAt(0)), 4);
      let at = 8;
      for (const x of body) {
        out.set(x, at);
        at += x.length;
      }
      return out;
    };
    const mvhd = (timescale: number, duration: number) => {
      const body = new Uint8Array(100); // version 0: flags, created, modified, timescale, duration, …
      new DataView(body.buffer).setUint32(12, timescale);
      new DataView(body.buffer).setUint32(16, duration);
      return box('mvhd', body);
    };
    const ftyp = box('ftyp', new TextEncoder().encode('M4A \0\0\0\0M4A isom'));
    const moov = box('moov', mvhd(44100, 44100 * 700));
    const mdat = box('mdat', new Uint8Array(64));
    const cat = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((x) => [...x]));
    const faststart = { container: 'mp4', durationSec: 700, indexAtEnd: false };
    expect(probeAudio(cat(ftyp, moov, mdat), 'a.m4a')).toEqual(faststart);
    expect(probeAudio(cat(ftyp, mdat, moov), 'b.m4a')).toEqual({ ...faststart, indexAtEnd: true });
    expect(probeAudio(cat(ftyp, mdat), 'c.m4a')).toEqual({ container: 'mp4', indexAtEnd: true });
  });

  it('sample rates outside 1 kHz – 768 kHz are refused from the header, fast, naming the byte', () => {
    for (const rate of [1, 999, 768_001, 20_000_003, 48_000_001, 4_294_967_295]) {
      const t0 = performance.now();
      let err: unknown;
      try {
        probeAudio(pcmWav(rate, 100), 'x.wav');
      } catch (e) {
        err = e;
      }
      expect(performance.now() - t0).toBeLessThan(50);
      expect(err).toBeInstanceOf(AudioDecodeError);
      const expected = `x.wav: fmt chunk at byte 12 says sample rate ${rate} Hz; supported: 1000 to 768000 Hz`;
      expect((err as AudioDecodeError).message).toBe(expected);
      expect((err as AudioDecodeError).byteOffset).toBe(24);
    }
    expect(probeAudio(pcmWav(1000, 10), 'lo.wav').sampleRate).toBe(1000);
    expect(probeAudio(pcmWav(768_000, 10), 'hi.wav').sampleRate).toBe(768_000);
  });

  it('a FLAC STREAMINFO rate outside the bounds is refused', (ctx) => {
    if (!HAS_CORPUS) ctx.skip(NO_CORPUS);
    const flac = corpusBytes('audio/en-jfk-44k-stereo-24bit.flac').slice();
    // rate = 20 bits from STREAMINFO byte 10 (file byte 18): write 1 Hz
    flac[18] = 0;
    flac[19] = 0;
    flac[20] = (flac[20] & 0x0f) | 0x10;
    expect(() => probeAudio(flac, 'slow.flac')).toThrow(
      /slow.flac: FLAC STREAMINFO says sample rate 1 Hz; supported: 1000 to 768000 Hz/,
    );
  });
});

describe('decodeAudio: limits before and while decoding', () => {
  it('maxSeconds: a long header is refused before decoding (code audio_too_long)', async () => {
    const e = await decodeError(decodeAudio(pcmWav(16000, 16000 * 20), 'long.wav', { maxSeconds: 10 }));
    expect(e.code).toBe('audio_too_long');
    expect(e.message).toBe('long.wav: the header says 20.0 s of audio; the limit is 10 s');
    const ok = await decodeAudio(pcmWav(16000, 16000 * 2), 'ok.wav', { maxSeconds: 10 });
    expect(ok.durationSec).toBe(2);
  });

  it('maxSeconds: a header that does not say (FLAC total 0) is cut off by the decoded length', async (ctx) => {
    if (!HAS_CORPUS) ctx.skip(NO_CORPUS);
    const flac = corpusBytes('audio/en-jfk-44k-stereo-24bit.flac').slice();
    flac.fill(0, 21, 26); // STREAMINFO total samples (36 bits from byte 13's low nibble) = 0: unknown
    flac[21] &= 0xf0;
    expect(probeAudio(flac, 'x.flac').durationSec).toBeUndefined();
    const e = await decodeError(decodeAudio(flac, 'x.flac', { maxSeconds: 4 }));
    expect(e.code).toBe('audio_too_long');
    expect(e.message).toMatch(/^x.flac: more than 4 s of audio decoded; the limit is 4 s$/);
    expect((await decodeAudio(flac, 'x.flac')).durationSec).toBe(11);
  });

  it('an abort signal stops decoding at the next step', async () => {
    const controller = new AbortController();
    const reason = new Error('caller gave up');
    setTimeout(() => controller.abort(reason), 20);
    const t0 = performance.now();
    const long = decodeAudio(pcmWav(44_100, 44_100 * 90), 'long.wav', { signal: controller.signal });
    await expect(long).rejects.toBe(reason);
    expect(performance.now() - t0).toBeLessThan(400); // the whole decode takes ~1 s
    await expect(decodeAudio(pcmWav(16000, 100), 'x.wav', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });

  it('bad input is code invalid_audio', async () => {
    const e = await decodeError(decodeAudio(pcmWav(20_000_003, 100), 'x.wav'));
    expect(e.code).toBe('invalid_audio');
  });

  it('gives the event loop a turn while decoding and resampling a long file (no gap ≥ 200 ms)', async () => {
    const wav = pcmWav(44_100, 44_100 * 90); // 90 s at an awkward ratio: the slowest path
    let maxGap = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 1);
    try {
      const d = await decodeAudio(wav, 'long.wav');
      maxGap = Math.max(maxGap, performance.now() - last); // a decode that never yielded is one gap
      expect(d.samples.length).toBe(16000 * 90);
    } finally {
      clearInterval(timer);
    }
    console.log(`longest event-loop gap: ${maxGap.toFixed(0)} ms`);
    // a step is ~10 ms of work (more on a loaded machine); decoding in one go blocked for ~1 s here
    expect(maxGap).toBeLessThan(200);
  });
});
