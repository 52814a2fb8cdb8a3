import { describe, expect, it } from 'vitest';
import { parseWav } from '../../src/audio/wav';
import { encodeWav } from '../../src/audio/wav-encode';

describe('encodeWav', () => {
  it('writes 16-bit mono PCM: full scale both ways, clipping, NaN as silence', () => {
    const wav = encodeWav(Float32Array.from([0, 1, -1, 2, -2, NaN, 0.5]), 16000);
    expect(wav.length).toBe(44 + 14);
    const v = new DataView(wav.buffer);
    expect(v.getUint32(4, true)).toBe(wav.length - 8);
    expect(v.getUint32(40, true)).toBe(14);
    const pcm = Array.from({ length: 7 }, (_, i) => v.getInt16(44 + 2 * i, true));
    expect(pcm).toEqual([0, 32767, -32768, 32767, -32768, 0, 16384]);
  });

  // Within two 16-bit steps: positive samples scale by 32767, the parser divides by 32768.
  it('is read back by the parser at the same rate', () => {
    const x = Float32Array.from({ length: 4410 }, (_, i) => 0.8 * Math.sin((2 * Math.PI * 440 * i) / 44100));
    const back = parseWav(encodeWav(x, 44100), 'tone.wav');
    expect(back).toMatchObject({ sampleRate: 44100, encoding: 'pcm-int', bitsPerSample: 16, dataBytes: 2 * x.length });
    expect(back.channels).toHaveLength(1);
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(back.channels[0][i] - x[i]));
    expect(worst).toBeLessThanOrEqual(2 / 32768);
  });

  it('refuses a rate that is not a positive integer', () => {
    for (const rate of [0, -16000, 16000.5, NaN, 2 ** 31]) {
      expect(() => encodeWav(new Float32Array(4), rate)).toThrow(/sample rate .* is not a positive integer/);
    }
  });
});
