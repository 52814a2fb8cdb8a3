import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AudioDecodeError } from '../../src/audio/errors';
import { isWav, parseWav } from '../../src/audio/wav';
import { CORPUS, HAS_CORPUS, NO_CORPUS, hasCommand, makeWav, readF32, run, tempDir, removeTempDirs } from './helpers';

afterAll(removeTempDirs);

const HAS_SOX = hasCommand('sox');

function expectClose(got: Float32Array, want: number[], tol = 0): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    expect(Math.abs(got[i] - want[i]), `sample ${i}: ${got[i]} vs ${want[i]}`).toBeLessThanOrEqual(tol);
  }
}

/** Run fn, expect an AudioDecodeError naming the file; return it. */
function decodeError(bytes: Uint8Array, name = 'clip.wav'): AudioDecodeError {
  try {
    parseWav(bytes, name);
  } catch (e) {
    expect(e).toBeInstanceOf(AudioDecodeError);
    const err = e as AudioDecodeError;
    expect(err.message.startsWith(`${name}: `)).toBe(true);
    expect(err.fileName).toBe(name);
    return err;
  }
  throw new Error('expected an AudioDecodeError');
}

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

describe('parseWav: sample formats', () => {
  it('8-bit unsigned PCM', () => {
    const w = parseWav(
      makeWav({ format: 1, bits: 8, rate: 8000, channels: 1, samples: [0, 64, 128, 192, 255] }),
      'u8.wav',
    );
    expect(w.encoding).toBe('pcm-uint8');
    expect(w.sampleRate).toBe(8000);
    expectClose(w.channels[0], [-1, -0.5, 0, 0.5, 127 / 128]);
  });

  it('16-bit signed PCM', () => {
    const w = parseWav(
      makeWav({ format: 1, bits: 16, rate: 16000, channels: 1, samples: [-32768, -16384, 0, 1, 32767] }),
      's16.wav',
    );
    expect(w.encoding).toBe('pcm-int');
    expect(w.bitsPerSample).toBe(16);
    expectClose(w.channels[0], [-1, -0.5, 0, 1 / 32768, 32767 / 32768]);
  });

  it('24-bit signed PCM (sign extension)', () => {
    const w = parseWav(
      makeWav({ format: 1, bits: 24, rate: 44100, channels: 1, samples: [-8388608, -4194304, -1, 0, 1, 8388607] }),
      's24.wav',
    );
    expectClose(w.channels[0], [-1, -0.5, -1 / 8388608, 0, 1 / 8388608, 8388607 / 8388608]);
  });

  it('32-bit signed PCM', () => {
    const w = parseWav(
      makeWav({ format: 1, bits: 32, rate: 48000, channels: 1, samples: [-2147483648, 0, 1073741824, 2147483647] }),
      's32.wav',
    );
    expectClose(w.channels[0], [-1, 0, 0.5, 1], 1e-9);
  });

  it('12-bit PCM in a 16-bit container (left-justified)', () => {
    const w = parseWav(
      makeWav({ format: 1, bits: 12, rate: 16000, channels: 1, samples: [-32768, 16, 0x7ff0] }),
      's12.wav',
    );
    expect(w.bitsPerSample).toBe(16);
    expect(w.validBitsPerSample).toBe(12);
    expectClose(w.channels[0], [-1, 16 / 32768, 0x7ff0 / 32768]);
  });

  it('32-bit float, values beyond ±1 kept', () => {
    const w = parseWav(
      makeWav({ format: 3, bits: 32, rate: 16000, channels: 1, samples: [-1, 0.25, 0.5, 1.5, -2] }),
      'f32.wav',
    );
    expect(w.encoding).toBe('float');
    expectClose(w.channels[0], [-1, 0.25, 0.5, 1.5, -2]);
  });

  it('64-bit float', () => {
    const w = parseWav(
      makeWav({ format: 3, bits: 64, rate: 16000, channels: 1, samples: [0.1, -0.3, 1e-9] }),
      'f64.wav',
    );
    expect(w.bitsPerSample).toBe(64);
    expectClose(w.channels[0], [Math.fround(0.1), Math.fround(-0.3), Math.fround(1e-9)]);
  });

  it('G.711 µ-law and A-law', () => {
    const mu = parseWav(
      makeWav({ format: 7, bits: 8, rate: 8000, channels: 1, samples: [0xff, 0x7f, 0x00, 0x80, 0xfe] }),
      'mu.wav',
    );
    expect(mu.encoding).toBe('mulaw');
    expectClose(mu.channels[0], [0, 0, -32124 / 32768, 32124 / 32768, 8 / 32768]);
    const a = parseWav(
      makeWav({ format: 6, bits: 8, rate: 8000, channels: 1, samples: [0xd5, 0x55, 0xaa, 0x2a] }),
      'a.wav',
    );
    expect(a.encoding).toBe('alaw');
    expectClose(a.channels[0], [8 / 32768, -8 / 32768, 32256 / 32768, -32256 / 32768]);
  });

  it('stereo interleaving, 16-bit', () => {
    const w = parseWav(
      makeWav({ format: 1, bits: 16, rate: 16000, channels: 2, samples: [100, -100, 200, -200, 300, -300] }),
      'st.wav',
    );
    expect(w.channels.length).toBe(2);
    expectClose(w.channels[0], [100 / 32768, 200 / 32768, 300 / 32768]);
    expectClose(w.channels[1], [-100 / 32768, -200 / 32768, -300 / 32768]);
  });

  it('5 channels, 24-bit', () => {
    const samples = Array.from({ length: 15 }, (_, i) => (i - 7) * 1000);
    const w = parseWav(makeWav({ format: 1, bits: 24, rate: 16000, channels: 5, samples }), 'five.wav');
    expect(w.channels.length).toBe(5);
    for (let c = 0; c < 5; c++) expectClose(w.channels[c], [0, 1, 2].map((f) => ((f * 5 + c - 7) * 1000) / 8388608));
  });

  it('WAVE_FORMAT_EXTENSIBLE: PCM 24-bit stereo, float 32-bit, 20 valid bits', () => {
    const pcm = parseWav(
      makeWav({ format: 1, bits: 24, rate: 48000, channels: 2, extensible: true, samples: [4194304, -4194304] }),
      'ext.wav',
    );
    expect(pcm.extensible).toBe(true);
    expect(pcm.formatTag).toBe(1);
    expect(pcm.channelMask).toBe(3);
    expectClose(pcm.channels[0], [0.5]);
    expectClose(pcm.channels[1], [-0.5]);
    const fl = parseWav(
      makeWav({ format: 3, bits: 32, rate: 48000, channels: 1, extensible: true, samples: [0.75] }),
      'extf.wav',
    );
    expect(fl.encoding).toBe('float');
    expectClose(fl.channels[0], [0.75]);
    const v20 = parseWav(
      makeWav({ format: 1, bits: 20, rate: 48000, channels: 1, extensible: true, samples: [0x400000] }),
      'ext20.wav',
    );
    expect(v20.bitsPerSample).toBe(24);
    expect(v20.validBitsPerSample).toBe(20);
    expectClose(v20.channels[0], [0.5]);
  });
});

describe('parseWav: chunk layout', () => {
  const samples = [1000, -1000, 2000, -2000];
  const want = samples.map((v) => v / 32768);

  it('skips LIST, odd-sized chunks (with pad byte) and trailing chunks', () => {
    const bytes = makeWav({
      format: 1, bits: 16, rate: 16000, channels: 1, samples,
      before: [
        { id: 'LIST', body: ascii('INFOISFT\x0e\x00\x00\x00Lavf58.76.100\x00') },
        { id: 'odd ', body: ascii('abc') },
        { id: 'fact', body: Uint8Array.of(4, 0, 0, 0) },
      ],
      after: [{ id: 'id3 ', body: ascii('xyzzy') }],
    });
    const w = parseWav(bytes, 'list.wav');
    expectClose(w.channels[0], want);
    expect(w.streamed).toBe(false);
  });

  it('tolerates a missing pad byte after an odd-sized chunk', () => {
    const bytes = makeWav({
      format: 1,
      bits: 16,
      rate: 16000,
      channels: 1,
      samples,
      before: [{ id: 'odd ', body: ascii('abc') }],
      noPad: true,
    });
    expectClose(parseWav(bytes, 'nopad.wav').channels[0], want);
  });

  it('odd-sized data chunk (8-bit mono) followed by a padded chunk', () => {
    const bytes = makeWav({
      format: 1,
      bits: 8,
      rate: 8000,
      channels: 1,
      samples: [128, 255, 0],
      after: [{ id: 'LIST', body: ascii('INFO') }],
    });
    expectClose(parseWav(bytes, 'odd8.wav').channels[0], [0, 127 / 128, -1]);
  });

  it('data chunk before fmt chunk', () => {
    const good = makeWav({ format: 1, bits: 16, rate: 16000, channels: 1, samples });
    // re-assemble as RIFF WAVE data fmt
    const fmt = good.subarray(12, 12 + 24);
    const data = good.subarray(36);
    const bytes = new Uint8Array(good.length);
    bytes.set(good.subarray(0, 12));
    bytes.set(data, 12);
    bytes.set(fmt, 12 + data.length);
    expectClose(parseWav(bytes, 'datafirst.wav').channels[0], want);
  });

  it('streamed WAV: data size 0xFFFFFFFF runs to the end of the file', () => {
    const w = parseWav(
      makeWav({ format: 1, bits: 16, rate: 16000, channels: 1, samples, dataSize: 0xffffffff, riffSize: 0xffffffff }),
      'pipe.wav',
    );
    expect(w.streamed).toBe(true);
    expectClose(w.channels[0], want);
  });

  it("streamed WAV: sox's 0x7FFFF000 placeholder, partial last frame dropped", () => {
    const bytes = makeWav({
      format: 1,
      bits: 16,
      rate: 16000,
      channels: 2,
      samples: [...samples, 7],
      dataSize: 0x7ffff000,
    });
    const w = parseWav(bytes, 'sox.wav');
    expect(w.streamed).toBe(true);
    expect(w.channels[0].length).toBe(2);
    expectClose(w.channels[0], [1000 / 32768, 2000 / 32768]);
  });

  it('streamed WAV: data size 0 followed by audio, vs a real empty data chunk', () => {
    const w = parseWav(makeWav({ format: 1, bits: 16, rate: 16000, channels: 1, samples, dataSize: 0 }), 'zero.wav');
    expect(w.streamed).toBe(true);
    expectClose(w.channels[0], want);
    const empty = parseWav(
      makeWav({
        format: 1,
        bits: 16,
        rate: 16000,
        channels: 1,
        samples: [],
        after: [{ id: 'LIST', body: ascii('INFO') }],
      }),
      'empty.wav',
    );
    expect(empty.streamed).toBe(false);
    expect(empty.channels[0].length).toBe(0);
  });

  it('declared data size not a whole number of frames: partial frame dropped', () => {
    const bytes = makeWav({ format: 1, bits: 16, rate: 16000, channels: 2, samples: [1, 2, 3], after: [] });
    const w = parseWav(bytes, 'partial.wav');
    expect(w.channels[0].length).toBe(1);
    expect(w.dataBytes).toBe(4);
  });

  it('RF64 with a ds64 chunk', () => {
    const inner = makeWav({
      format: 1,
      bits: 16,
      rate: 16000,
      channels: 1,
      samples,
      dataSize: 0xffffffff,
      riffSize: 0xffffffff,
    });
    const ds64 = new Uint8Array(8 + 28);
    ds64.set(ascii('ds64'), 0);
    const dv = new DataView(ds64.buffer);
    dv.setUint32(4, 28, true);
    dv.setUint32(8, inner.length - 8, true); // riff size lo
    dv.setUint32(16, samples.length * 2, true); // data size lo
    dv.setUint32(24, samples.length, true); // sample count lo
    const bytes = new Uint8Array(inner.length + ds64.length + 2);
    bytes.set(ascii('RF64'), 0);
    bytes.set(inner.subarray(4, 12), 4);
    bytes.set(ds64, 12);
    bytes.set(inner.subarray(12), 12 + ds64.length);
    // two junk bytes after the data that the ds64 size excludes
    bytes[bytes.length - 2] = 0x7f;
    bytes[bytes.length - 1] = 0x7f;
    const w = parseWav(bytes, 'rf64.wav');
    expect(isWav(bytes)).toBe(true);
    expectClose(w.channels[0], want);
    expect(w.streamed).toBe(false);
  });
});

describe('parseWav: errors name the file, the problem and the byte offset', () => {
  const good = makeWav({
    format: 1,
    bits: 16,
    rate: 16000,
    channels: 1,
    samples: Array.from({ length: 100 }, (_, i) => i * 100),
  });

  it('truncated RIFF header', () => {
    const e = decodeError(good.subarray(0, 8));
    expect(e.message).toBe('clip.wav: file is 8 bytes, too short for a RIFF/WAVE header (12 bytes)');
    expect(e.byteOffset).toBe(0);
  });

  it('not RIFF / not WAVE / RIFX', () => {
    const ogg = ascii('OggS\0\0\0\0\0\0\0\0\0\0\0\0');
    expect(decodeError(ogg).message).toMatch(/not a RIFF file: starts with 'OggS' at byte 0/);
    const notWave = good.slice();
    notWave.set(ascii('AVI '), 8);
    const e = decodeError(notWave);
    expect(e.message).toMatch(/RIFF form type at byte 8 is 'AVI ', not 'WAVE'/);
    expect(e.byteOffset).toBe(8);
    const rifx = good.slice();
    rifx.set(ascii('RIFX'), 0);
    expect(decodeError(rifx).message).toMatch(/big-endian RIFX/);
  });

  it('fmt chunk too small', () => {
    const bytes = good.slice(0, 12 + 8 + 8);
    new DataView(bytes.buffer).setUint32(16, 8, true);
    const e = decodeError(bytes);
    expect(e.message).toBe('clip.wav: fmt chunk at byte 12 is 8 bytes, need 16');
    expect(e.byteOffset).toBe(12);
  });

  it('file cut inside the fmt chunk', () => {
    const e = decodeError(good.subarray(0, 30));
    expect(e.message).toBe("clip.wav: chunk 'fmt ' at byte 12 declares 16 bytes but only 10 remain (file truncated)");
    expect(e.byteOffset).toBe(12);
  });

  it('truncated data', () => {
    const e = decodeError(good.subarray(0, 44 + 50));
    expect(e.message).toBe('clip.wav: data chunk at byte 36 declares 200 bytes but only 50 remain (file truncated)');
    expect(e.byteOffset).toBe(36);
  });

  it('file ends after the header (no data chunk)', () => {
    const e = decodeError(good.subarray(0, 36));
    expect(e.message).toMatch(/no 'data' chunk found \(scanned up to byte 36 of 36\)/);
    expect(e.byteOffset).toBe(36);
  });

  it('no fmt chunk', () => {
    const bytes = good.slice();
    bytes.set(ascii('junk'), 12);
    expect(decodeError(bytes).message).toMatch(/no 'fmt ' chunk found/);
  });

  it('a chunk overrunning the file before the data', () => {
    const bytes = makeWav({
      format: 1,
      bits: 16,
      rate: 16000,
      channels: 1,
      samples: [1, 2],
      before: [{ id: 'LIST', body: ascii('INFO') }],
    });
    new DataView(bytes.buffer).setUint32(40, 1000, true);
    const e = decodeError(bytes);
    expect(e.message).toMatch(/chunk 'LIST' at byte 36 declares 1000 bytes but only \d+ remain/);
    expect(e.byteOffset).toBe(36);
  });

  it('unsupported codecs', () => {
    const adpcm = makeWav({ format: 2, bits: 16, rate: 16000, channels: 1, samples: [0] });
    const e = decodeError(adpcm);
    expect(e.message).toMatch(
      /^clip\.wav: unsupported WAV codec 0x0002 \(Microsoft ADPCM\) at byte 20; supported: PCM/,
    );
    expect(e.byteOffset).toBe(20);
    const unknownCodec = makeWav({ format: 0x1234, bits: 16, rate: 16000, channels: 1, samples: [0] });
    expect(decodeError(unknownCodec).message).toMatch(/codec 0x1234 at byte 20/);
    const badGuid = makeWav({
      format: 1,
      bits: 16,
      rate: 16000,
      channels: 1,
      samples: [0],
      extensible: true,
      guid: new Uint8Array(16).fill(7),
    });
    const g = decodeError(badGuid);
    expect(g.message).toMatch(
      /unsupported WAVE_FORMAT_EXTENSIBLE sub-format GUID 07070707070707070707070707070707 at byte 44/,
    );
    expect(g.byteOffset).toBe(44);
    const extAdpcm = makeWav({ format: 2, bits: 16, rate: 16000, channels: 1, samples: [0], extensible: true });
    expect(decodeError(extAdpcm).message).toMatch(/codec 0x0002 \(Microsoft ADPCM\) at byte 44/);
  });

  it('inconsistent fmt fields', () => {
    const zeroCh = good.slice();
    new DataView(zeroCh.buffer).setUint16(22, 0, true);
    expect(decodeError(zeroCh).message).toMatch(/fmt chunk at byte 12 says 0 channels/);
    const zeroRate = good.slice();
    new DataView(zeroRate.buffer).setUint32(24, 0, true);
    expect(decodeError(zeroRate).message).toMatch(/sample rate 0/);
    const badAlign = good.slice();
    new DataView(badAlign.buffer).setUint16(32, 3, true);
    const e = decodeError(badAlign);
    expect(e.message).toMatch(/block align 3 does not match 1 channel\(s\) × 2 byte\(s\)/);
    expect(e.byteOffset).toBe(32);
    const float16 = makeWav({ format: 3, bits: 16, rate: 16000, channels: 1, samples: [0] });
    expect(decodeError(float16).message).toMatch(/16 bits per sample .* not valid for codec 0x0003/);
    const shortExt = makeWav({ format: 1, bits: 16, rate: 16000, channels: 1, samples: [0] });
    new DataView(shortExt.buffer).setUint16(20, 0xfffe, true);
    expect(decodeError(shortExt).message).toMatch(/fmt chunk at byte 12 is 16 bytes, WAVE_FORMAT_EXTENSIBLE needs 40/);
  });

  it('non-finite float samples', () => {
    const e = decodeError(makeWav({ format: 3, bits: 32, rate: 16000, channels: 1, samples: [0, 0.5, NaN] }));
    expect(e.message).toBe('clip.wav: non-finite float sample (NaN) at byte 52');
    expect(e.byteOffset).toBe(52);
  });

  it('every truncation and random corruption ends in a result or an AudioDecodeError, never a hang', () => {
    const src = makeWav({
      format: 1, bits: 24, rate: 16000, channels: 2, extensible: true,
      samples: Array.from({ length: 40 }, (_, i) => (i - 20) * 30000),
      before: [{ id: 'LIST', body: ascii('INFOabc') }],
    });
    const check = (bytes: Uint8Array) => {
      try {
        const w = parseWav(bytes, 'fuzz.wav');
        for (const ch of w.channels) for (const v of ch) expect(Number.isFinite(v) && Math.abs(v) <= 1).toBe(true);
      } catch (e) {
        expect(e).toBeInstanceOf(AudioDecodeError);
      }
    };
    for (let n = 0; n <= src.length; n++) check(src.subarray(0, n));
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let trial = 0; trial < 3000; trial++) {
      const b = src.slice();
      const hits = 1 + Math.floor(rnd() * 4);
      for (let h = 0; h < hits; h++) b[Math.floor(rnd() * Math.min(b.length, 100))] = Math.floor(rnd() * 256);
      check(b.subarray(0, Math.floor(rnd() * (b.length + 1))));
    }
  });
});

describe('parseWav agrees with sox on real files', () => {
  const cases: [string, string[]][] = [
    ['u8', ['-b', '8', '-e', 'unsigned-integer']],
    ['s16-stereo', ['-b', '16', '-c', '2']],
    ['s24-stereo-extensible', ['-b', '24', '-c', '2']],
    ['s32', ['-b', '32', '-e', 'signed-integer']],
    ['f32', ['-b', '32', '-e', 'floating-point']],
    ['f64', ['-b', '64', '-e', 'floating-point']],
    ['mulaw', ['-e', 'u-law']],
    ['alaw', ['-e', 'a-law']],
  ];
  for (const [label, args] of cases) {
    it(label, (ctx) => {
      if (!HAS_SOX) ctx.skip('sox is not installed: sox cross-check skipped');
      const dir = tempDir();
      const wav = join(dir, `${label}.wav`);
      const raw = join(dir, `${label}.f32`);
      run('sox', ['-n', '-r', '22050', ...args, wav, 'synth', '0.2', 'sine', '440', 'sine', '1234', 'gain', '-3']);
      run('sox', [wav, '-t', 'f32', '-e', 'floating-point', '-b', '32', raw]);
      const w = parseWav(new Uint8Array(readFileSync(wav)), wav);
      const ref = readF32(raw);
      const nch = w.channels.length;
      expect(w.channels[0].length * nch).toBe(ref.length);
      let maxErr = 0;
      for (let i = 0; i < ref.length; i++) {
        maxErr = Math.max(maxErr, Math.abs(w.channels[i % nch][Math.floor(i / nch)] - ref[i]));
      }
      // sox goes through its 32-bit integer sample type, so s32/f64 can differ from our direct
      // conversion by one f32 step near full scale; everything narrower must match bit for bit.
      expect(maxErr).toBeLessThanOrEqual(label === 's32' || label === 'f64' ? 2 ** -24 : 0);
    });
  }

  it('corpus WAVs (LIST chunk, fact chunk, float, 18-byte fmt) equal sox', (ctx) => {
    if (!HAS_CORPUS) ctx.skip(NO_CORPUS);
    if (!HAS_SOX) ctx.skip('sox is not installed: sox cross-check skipped');
    const dir = tempDir();
    const files = ['en-jfk.wav', 'en-glmasr-example-f32.wav', 'en-vosk-digits.wav'];
    files.push('yue-wenetspeech-yue-48k-stereo.wav');
    for (const f of files) {
      const path = join(CORPUS, 'audio', f);
      const raw = join(dir, `${f}.f32`);
      run('sox', [path, '-t', 'f32', raw]);
      const w = parseWav(new Uint8Array(readFileSync(path)), f);
      const ref = readF32(raw);
      const nch = w.channels.length;
      expect(w.channels[0].length * nch, f).toBe(ref.length);
      for (let i = 0; i < ref.length; i++) {
        if (w.channels[i % nch][Math.floor(i / nch)] !== ref[i]) throw new Error(`${f}: sample ${i} differs from sox`);
      }
    }
  });
});
