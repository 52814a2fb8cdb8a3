import { describe, expect, it } from 'vitest';
import {
  MAX_WINDOWS,
  WINDOW_SAMPLES,
  audioTokenCount,
  splitWindows,
  totalAudioTokens,
  validFrameCount,
} from '../../src/audio/windows';

/** The spec's closed form: floor(ceil(L/2)/4) with L = ceil(n/160). */
const closedForm = (n: number) => Math.floor(Math.ceil(Math.ceil(n / 160) / 2) / 4);

describe('audioTokenCount (spec §1 Long audio)', () => {
  it('matches the spec numbers', () => {
    expect(audioTokenCount(480_000)).toBe(375);
    expect(audioTokenCount(169_600)).toBe(132); // en-glmasr-example-f32.wav, 10.6 s
    expect(audioTokenCount(96_000)).toBe(75);
    expect(audioTokenCount(961)).toBe(1);
    expect(audioTokenCount(960)).toBe(0);
    expect(audioTokenCount(1)).toBe(0);
    expect(audioTokenCount(0)).toBe(0);
  });

  it('conv/merge arithmetic equals the closed form for every n up to one window', () => {
    for (let n = 0; n <= WINDOW_SAMPLES; n++) {
      if (audioTokenCount(n) !== closedForm(n)) throw new Error(`n=${n}: ${audioTokenCount(n)} vs ${closedForm(n)}`);
    }
  });

  it('valid frames are ceil(n/160)', () => {
    expect(validFrameCount(480_000)).toBe(3000);
    expect(validFrameCount(161)).toBe(2);
    expect(validFrameCount(0)).toBe(0);
  });

  it('totals over windows', () => {
    expect(totalAudioTokens(480_000)).toBe(375);
    expect(totalAudioTokens(600_000)).toBe(375 + closedForm(120_000));
    expect(totalAudioTokens(480_000 * 25)).toBe(25 * 375);
    expect(totalAudioTokens(480_000 * 25, WINDOW_SAMPLES, { maxWindows: MAX_WINDOWS })).toBe(7875);
    expect(totalAudioTokens(0)).toBe(0);
  });
});

describe('splitWindows', () => {
  const ramp = (n: number) => Float32Array.from({ length: n }, (_, i) => (i % 1000) / 1000 + 0.001);

  it('one full window, no padding', () => {
    const w = splitWindows(ramp(480_000));
    expect(w.length).toBe(1);
    expect(w[0]).toMatchObject({ index: 0, startSample: 0, validSamples: 480_000 });
    expect(w[0].samples.length).toBe(480_000);
  });

  it('consecutive, non-overlapping windows; the last one zero-padded', () => {
    const x = ramp(480_001 + 480_000);
    const w = splitWindows(x);
    expect(w.map((v) => [v.startSample, v.validSamples])).toEqual([
      [0, 480_000],
      [480_000, 480_000],
      [960_000, 1],
    ]);
    expect(w[1].samples[0]).toBe(x[480_000]);
    expect(w[1].samples[479_999]).toBe(x[959_999]);
    expect(w[2].samples[0]).toBe(x[960_000]);
    expect(w[2].samples.subarray(1).every((v) => v === 0)).toBe(true);
  });

  it('short and empty input still give one (padded) window', () => {
    const s = splitWindows(ramp(1234));
    expect(s.length).toBe(1);
    expect(s[0].validSamples).toBe(1234);
    expect(s[0].samples.subarray(1234).every((v) => v === 0)).toBe(true);
    const e = splitWindows(new Float32Array(0));
    expect(e.length).toBe(1);
    expect(e[0].validSamples).toBe(0);
    expect(audioTokenCount(e[0].validSamples)).toBe(0);
  });

  it('custom window size and maxWindows (HF truncates at 21 windows = 630 s)', () => {
    const w = splitWindows(ramp(1000), 300);
    expect(w.map((v) => v.validSamples)).toEqual([300, 300, 300, 100]);
    expect(w.every((v) => v.samples.length === 300)).toBe(true);
    expect(splitWindows(ramp(1000), 300, { maxWindows: 2 }).length).toBe(2);
    expect(() => splitWindows(ramp(10), 0)).toThrow(RangeError);
    expect(() => splitWindows(ramp(10), 5, { maxWindows: 0 })).toThrow(RangeError);
  });
});
