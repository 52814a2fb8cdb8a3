import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { decodeAudio, decodeWithAudioDecode, decodeWithWebAudio, downmixToMono } from '../../src/audio/decode';
import { SUPPORTED_FORMATS, sniffContainer, sniffSampleRate } from '../../src/audio/probe';
import { AudioDecodeError } from '../../src/audio/errors';
import { resample } from '../../src/audio/resample';
import { parseWav } from '../../src/audio/wav';
import {
  HAS_CORPUS,
  NO_CORPUS,
  corpusBytes,
  hasCommand,
  loadManifest,
  makeWav,
  readF32,
  rms,
  run,
  tempDir,
  removeTempDirs,
} from './helpers';

afterAll(removeTempDirs);

const HAS_SOX = hasCommand('sox');
const bytesOf = (...v: (number | string)[]) =>
  Uint8Array.from(v.flatMap((x) => (typeof x === 'string' ? Array.from(x, (c) => c.charCodeAt(0)) : [x])));
const pad = (b: Uint8Array, n = 64) => {
  const o = new Uint8Array(Math.max(n, b.length));
  o.set(b);
  return o;
};

async function expectDecodeError(p: Promise<unknown>, name: string, re: RegExp): Promise<AudioDecodeError> {
  const e = await p.then(
    () => {
      throw new Error('expected an AudioDecodeError');
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(AudioDecodeError);
  const err = e as AudioDecodeError;
  expect(err.message.startsWith(`${name}: `)).toBe(true);
  expect(err.message).toMatch(re);
  return err;
}

/** SNR (dB) of b against a at lag 0, gain-invariant: −10·log10(1 − ρ²). */
function snrAtLag0(a: Float32Array, b: Float32Array): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0, n = Math.min(a.length, b.length); i < n; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  const rho = ab / Math.sqrt(aa * bb);
  return -10 * Math.log10(Math.max(1e-12, 1 - rho * rho));
}

describe('container sniffing', () => {
  it('recognises magic bytes', () => {
    expect(sniffContainer(makeWav({ format: 1, bits: 16, rate: 16000, channels: 1, samples: [0] }))).toBe('wav');
    expect(sniffContainer(pad(bytesOf('RF64', 0, 0, 0, 0, 'WAVE')))).toBe('wav');
    expect(sniffContainer(pad(bytesOf('fLaC', 0, 0, 0, 34)))).toBe('flac');
    expect(sniffContainer(pad(bytesOf('ID3', 4, 0, 0, 0, 0, 0, 0, 0xff, 0xf3, 0x88, 0xc4)))).toBe('mp3');
    expect(sniffContainer(pad(bytesOf('ID3', 4, 0, 0, 0, 0, 0, 0, 'fLaC')))).toBe('flac');
    expect(sniffContainer(pad(bytesOf(0xff, 0xfb, 0x90, 0x64)))).toBe('mp3'); // MPEG-1 layer III frame
    expect(sniffContainer(pad(bytesOf(0xff, 0xf1, 0x50, 0x80)))).toBe('aac'); // ADTS
    const ogg = (pkt: Uint8Array) => pad(Uint8Array.from([...bytesOf('OggS'), ...new Uint8Array(22), 1, 30, ...pkt]));
    expect(sniffContainer(ogg(bytesOf('OpusHead')))).toBe('ogg-opus');
    expect(sniffContainer(ogg(bytesOf(1, 'vorbis')))).toBe('ogg-vorbis');
    expect(sniffContainer(ogg(bytesOf('Speex   ')))).toBe('ogg');
    expect(sniffContainer(pad(bytesOf('FORM', 0, 0, 0, 0, 'AIFF')))).toBe('aiff');
    expect(sniffContainer(pad(bytesOf(0, 0, 0, 32, 'ftypM4A ')))).toBe('mp4');
    expect(sniffContainer(pad(bytesOf(0x1a, 0x45, 0xdf, 0xa3)))).toBe('webm');
    expect(sniffContainer(pad(bytesOf('caff')))).toBe('caf');
    expect(sniffContainer(pad(bytesOf('#!AMR\n')))).toBe('amr');
    expect(sniffContainer(pad(bytesOf('.snd')))).toBeNull();
    expect(sniffContainer(pad(bytesOf('hello world')))).toBeNull();
    expect(sniffContainer(new Uint8Array(0))).toBeNull();
  });

  it('reads the declared sample rate from corpus headers', (ctx) => {
    if (!HAS_CORPUS) ctx.skip(NO_CORPUS);
    expect(sniffSampleRate(corpusBytes('audio/en-jfk-44k-stereo-24bit.flac'))).toBe(44100);
    expect(sniffSampleRate(corpusBytes('audio/en-jfk.mp3'))).toBe(16000);
    expect(sniffSampleRate(corpusBytes('audio/zh-funasr-asr-example.mp3'))).toBe(16000);
    expect(sniffSampleRate(corpusBytes('audio/yue-wenetspeech-yue-48k-stereo.wav'))).toBe(48000);
  });
});

describe('decodeAudio', () => {
  it('unknown format: clear error listing the supported formats', async () => {
    const notAudio = decodeAudio(bytesOf('hello world, not audio'), 'notes.txt');
    const unknown = /unrecognised audio format \(first bytes: 68 65 6c 6c 6f 20 77 6f\)/;
    const e = await expectDecodeError(notAudio, 'notes.txt', unknown);
    expect(e.message).toContain(`supported: ${SUPPORTED_FORMATS}`);
    expect(e.byteOffset).toBe(0);
    await expectDecodeError(decodeAudio(new Uint8Array(0), 'empty.wav'), 'empty.wav', /file is empty/);
  });

  it('WAV errors surface unchanged; an empty WAV is an error', async () => {
    const cut = makeWav({ format: 1, bits: 16, rate: 16000, channels: 1, samples: [1, 2, 3, 4] }).subarray(0, 46);
    const truncated = /data chunk at byte 36 declares 8 bytes but only 2 remain/;
    await expectDecodeError(decodeAudio(cut, 'cut.wav'), 'cut.wav', truncated);
    const empty = makeWav({ format: 1, bits: 16, rate: 16000, channels: 1, samples: [] });
    await expectDecodeError(decodeAudio(empty, 'e.wav'), 'e.wav', /wav file contains no audio samples/);
  });

  it('corrupt or tag-only compressed files → AudioDecodeError (no hang)', async (ctx) => {
    if (!HAS_CORPUS) ctx.skip(NO_CORPUS);
    const spy = vi.spyOn(console, 'error').mockImplementation(() => undefined); // mpg123 logs its errors
    try {
      const flac = corpusBytes('audio/en-jfk-44k-stereo-24bit.flac');
      await expectDecodeError(decodeAudio(flac.subarray(0, 20), 'head.flac'), 'head.flac', /flac/);
      const junk = flac.slice();
      for (let i = 100; i < junk.length; i++) junk[i] = (i * 7919) & 255;
      await expectDecodeError(decodeAudio(junk, 'junk.flac'), 'junk.flac', /flac/);
      await expectDecodeError(decodeAudio(bytesOf('ID3', 4, 0, 0, 0, 0, 0, 0), 'tag.mp3'), 'tag.mp3', /mp3/);
    } finally {
      spy.mockRestore();
    }
  });

  it('mono rule: channels are averaged', async () => {
    const w = makeWav({ format: 1, bits: 16, rate: 16000, channels: 3, samples: [3000, 0, -6000, 300, 300, 300] });
    const d = await decodeAudio(w, 'three.wav');
    expect(d.sourceChannels).toBe(3);
    expect(Array.from(d.samples)).toEqual([Math.fround(-1000 / 32768), Math.fround(300 / 32768)]);
    expect(Array.from(downmixToMono([Float32Array.of(0.5, 1), Float32Array.of(-0.5, 0)]))).toEqual([0, 0.5]);
    expect(() => downmixToMono([new Float32Array(2), new Float32Array(3)])).toThrow(RangeError);
  });

  it('16 kHz mono WAV passes through bit-exact; other rates are resampled', async () => {
    const samples = Array.from({ length: 1600 }, (_, i) => Math.round(10000 * Math.sin(i / 7)));
    const w16 = makeWav({ format: 1, bits: 16, rate: 16000, channels: 1, samples });
    const d16 = await decodeAudio(w16, 'a.wav');
    expect(d16).toMatchObject({ sampleRate: 16000, sourceRate: 16000, sourceChannels: 1, durationSec: 0.1 });
    expect(d16.container).toBe('wav');
    expect(d16.samples).toEqual(parseWav(w16, 'a.wav').channels[0]);
    const lr = Array.from({ length: 8820 }, (_, i) => (i % 2 ? 100 : -100));
    const w441 = makeWav({ format: 1, bits: 16, rate: 44100, channels: 2, samples: lr });
    const d441 = await decodeAudio(w441, 'b.wav');
    expect(d441).toMatchObject({ sourceRate: 44100, sourceChannels: 2, durationSec: 0.1 });
    expect(d441.samples.length).toBe(Math.ceil((4410 * 160) / 441));
    expect(d441.samples.every((v) => v === 0)).toBe(true); // L = −R cancels exactly
  });
});

describe('whole corpus decodes', () => {
  it('every clip in manifest.json: 16 kHz mono, finite, non-silent, duration as listed', async (ctx) => {
    if (!HAS_CORPUS) ctx.skip(NO_CORPUS);
    const spy = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const clips = loadManifest();
    expect(clips.length).toBeGreaterThan(0);
    const rows: string[] = [];
    try {
      for (const clip of clips) {
        const d = await decodeAudio(corpusBytes(clip.file), clip.file);
        expect(d.sampleRate).toBe(16000);
        expect(d.samples.length).toBe(Math.ceil((d.durationSec * d.sourceRate * 16000) / d.sourceRate - 1e-9));
        for (let i = 0; i < d.samples.length; i++) {
          if (!Number.isFinite(d.samples[i])) throw new Error(`${clip.file}: sample ${i} not finite`);
        }
        const level = rms(d.samples);
        expect(level, `${clip.file} RMS`).toBeGreaterThan(1e-4); // −80 dBFS; the quiet clip is ≈ −55
        const rate = /(\d+) Hz/.exec(clip.format);
        if (rate) expect(d.sourceRate, clip.file).toBe(Number(rate[1]));
        if (/\bmono\b/.test(clip.format)) expect(d.sourceChannels, clip.file).toBe(1);
        if (/\bstereo\b/.test(clip.format)) expect(d.sourceChannels, clip.file).toBe(2);
        const dur = /([\d.]+) s\b/.exec(clip.format);
        if (dur) {
          const want = Number(dur[1]);
          if (d.container === 'mp3') {
            // The listed MP3 durations count whole frames, including the encoder's delay and padding;
            // the decoder trims those (gapless), so the audio is up to ~0.15 s shorter.
            expect(d.durationSec, clip.file).toBeLessThanOrEqual(want * 1.01);
            expect(d.durationSec, clip.file).toBeGreaterThanOrEqual(want - 0.15);
          } else {
            const what = `${clip.file}: ${d.durationSec} s vs ${want} s`;
            expect(Math.abs(d.durationSec - want) / want, what).toBeLessThan(0.01);
          }
        }
        const source = `${d.container} ${d.sourceRate} Hz × ${d.sourceChannels}`;
        const out = `${d.samples.length} samples, ${d.durationSec.toFixed(3)} s`;
        rows.push(`${clip.file}: ${source} → ${out}, RMS ${(20 * Math.log10(level)).toFixed(1)} dBFS`);
      }
    } finally {
      spy.mockRestore();
    }
    console.log(rows.join('\n'));
  });

  it('the same recording in other formats/rates lines up at lag 0 with the 16 kHz WAV', async (ctx) => {
    if (!HAS_CORPUS) ctx.skip(NO_CORPUS);
    const spy = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const get = async (f: string) => (await decodeAudio(corpusBytes(`audio/${f}`), f)).samples;
    // [reference 16 kHz WAV, other encoding, minimum SNR dB] — measured 74 / 41 / 36 / 32 / 17 dB
    const pairs: [string, string, number][] = [
      ['en-jfk.wav', 'en-jfk-44k-stereo-24bit.flac', 60], // lossless 44.1k stereo: tests the resampler
      ['en-jfk.wav', 'en-jfk.mp3', 30],
      ['zh-funasr-asr-example.wav', 'zh-funasr-asr-example.mp3', 30],
      ['en-ldc93s1-16k.wav', 'en-ldc93s1-44k-stereo.wav', 25],
      ['en-ldc93s1-16k.wav', 'en-ldc93s1-8k.wav', 12], // 8 kHz has no 4–8 kHz band
    ];
    try {
      for (const [a, b, min] of pairs) {
        const A = await get(a);
        const B = await get(b);
        expect(Math.abs(A.length - B.length), `${a} vs ${b} length`).toBeLessThanOrEqual(1);
        expect(snrAtLag0(A, B), `${a} vs ${b}`).toBeGreaterThan(min);
      }
    } finally {
      spy.mockRestore();
    }
  });
});

describe('formats made by sox go through audio-decode', () => {
  const cases: [string, string[], number][] = [
    // audio-decode's FLAC decoder scales by 1/(2^(b−1)−1) where sox and our WAV parser use 1/2^(b−1):
    // a 32768/32767 gain (+0.0003 dB), i.e. 3.05e-5 relative
    ['flac', ['-r', '32000', '-b', '16', '-c', '1'], 5e-5],
    ['aiff', ['-r', '22050', '-b', '16', '-c', '2'], 1e-6],
    ['ogg', ['-r', '22050', '-c', '2'], 2e-2], // Vorbis: two decoders of a lossy stream
  ];
  for (const [ext, args, tol] of cases) {
    it(ext, async (ctx) => {
      if (!HAS_SOX) ctx.skip('sox is not installed: format round-trip skipped');
      const dir = tempDir();
      const file = join(dir, `t.${ext}`);
      const raw = join(dir, `t.f32`);
      run('sox', ['-n', ...args, file, 'synth', '1', 'sine', '440', 'sine', '2500', 'gain', '-6']);
      const rate = Number(args[args.indexOf('-r') + 1]);
      const channels = Number(args[args.indexOf('-c') + 1]);
      run('sox', [file, '-t', 'f32', raw]);
      const bytes = new Uint8Array(readFileSync(file));
      const d = await decodeAudio(bytes, file);
      expect(d).toMatchObject({ sourceRate: rate, sourceChannels: channels });
      // reference: sox's own decode, mixed and resampled by us
      const inter = readF32(raw);
      const frames = inter.length / channels;
      const channel = (c: number) => Float32Array.from({ length: frames }, (_, i) => inter[i * channels + c]);
      const chans = Array.from({ length: channels }, (_, c) => channel(c));
      const ref = resample(downmixToMono(chans), rate, 16000);
      expect(d.samples.length).toBe(ref.length);
      let num = 0;
      for (let i = 0; i < ref.length; i++) num += (d.samples[i] - ref[i]) ** 2;
      expect(Math.sqrt(num / ref.length) / rms(ref)).toBeLessThan(tol);
    });
  }
});

describe('browser path (WebAudio decodeAudioData), with a stand-in context', () => {
  /** Behaves like a browser: detaches the buffer it is given, decodes, resamples to its own rate. */
  class FakeOfflineAudioContext {
    static made: number[] = [];
    static closed = 0;
    static fail: string | null = null;
    constructor(
      readonly channels: number,
      readonly length: number,
      readonly sampleRate: number,
    ) {
      FakeOfflineAudioContext.made.push(sampleRate);
    }
    async decodeAudioData(buf: ArrayBuffer) {
      const copy = structuredClone(buf, { transfer: [buf] }); // detach, like the real thing
      if (FakeOfflineAudioContext.fail) throw new Error(FakeOfflineAudioContext.fail);
      const pcm = await decodeWithAudioDecode(new Uint8Array(copy), 'fake');
      const rate = this.sampleRate;
      const data = pcm.channels.map((c) => (pcm.sampleRate === rate ? c : resample(c, pcm.sampleRate, rate)));
      const getChannelData = (c: number) => data[c];
      return { numberOfChannels: data.length, sampleRate: rate, length: data[0].length, getChannelData };
    }
    async close() {
      FakeOfflineAudioContext.closed++;
    }
  }

  afterEach(() => {
    vi.unstubAllGlobals();
    FakeOfflineAudioContext.made = [];
    FakeOfflineAudioContext.closed = 0;
    FakeOfflineAudioContext.fail = null;
  });

  it('runs the context at the file rate, leaves the input intact, and matches the Node path', async (ctx) => {
    if (!HAS_CORPUS) ctx.skip(NO_CORPUS);
    vi.stubGlobal('OfflineAudioContext', FakeOfflineAudioContext);
    const flac = corpusBytes('audio/en-jfk-44k-stereo-24bit.flac');
    const viaWeb = await decodeAudio(flac, 'jfk.flac');
    expect(FakeOfflineAudioContext.made).toEqual([44100]);
    expect(FakeOfflineAudioContext.closed).toBe(1);
    expect(flac.byteLength).toBeGreaterThan(0); // not detached
    const viaNode = await decodeAudio(flac, 'jfk.flac', { backend: 'audio-decode' });
    expect(viaWeb.samples).toEqual(viaNode.samples);
    expect(viaWeb).toMatchObject({ sourceRate: 44100, sourceChannels: 2 });
    // WAV never goes to WebAudio
    await decodeAudio(corpusBytes('audio/en-jfk.wav'), 'jfk.wav');
    expect(FakeOfflineAudioContext.made).toEqual([44100]);
  });

  it('uses an injected context factory and the sniffed rate; 48 kHz when unknown', async () => {
    const made: number[] = [];
    const wav = makeWav({ format: 1, bits: 16, rate: 22050, channels: 1, samples: [0, 1000, 2000] });
    const createContext = (rate: number) => {
      made.push(rate);
      return {
        decodeAudioData: async () => {
          const w = parseWav(wav, 'inner');
          const buffer = { numberOfChannels: 1, sampleRate: rate, length: 3, getChannelData: () => w.channels[0] };
          return buffer as unknown as AudioBuffer;
        },
      };
    };
    const pcm = await decodeWithWebAudio(wav, 'w.wav', { createContext });
    expect(made).toEqual([22050]);
    expect(pcm.channels[0].length).toBe(3);
    await decodeWithWebAudio(bytesOf('hello'), 'x.bin', { createContext });
    expect(made).toEqual([22050, 48000]);
  });

  it('decoding failures become AudioDecodeError naming the file and format', async (ctx) => {
    if (!HAS_CORPUS) ctx.skip(NO_CORPUS);
    vi.stubGlobal('OfflineAudioContext', FakeOfflineAudioContext);
    FakeOfflineAudioContext.fail = 'EncodingError: Unable to decode audio data';
    const failing = decodeAudio(corpusBytes('audio/en-jfk.mp3'), 'jfk.mp3');
    await expectDecodeError(failing, 'jfk.mp3', /mp3 decoding failed in WebAudio: EncodingError/);
    expect(FakeOfflineAudioContext.closed).toBe(1);
  });

  it('without any WebAudio global the browser path says so', async () => {
    await expectDecodeError(decodeWithWebAudio(bytesOf('fLaC'), 'a.flac'), 'a.flac', /no WebAudio in this environment/);
  });
});
