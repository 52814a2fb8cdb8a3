import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeAudio } from '../../src/audio/decode';
import { ComplexFft, RealFft } from '../../src/audio/fft';
import {
  GLM_ASR_MEL,
  LogMelSpectrogram,
  hzToMelSlaney,
  melFilterBank,
  melToHzSlaney,
  logMelSpectrogram,
} from '../../src/audio/mel';
import { splitWindows } from '../../src/audio/windows';
import {
  HAS_CORPUS,
  MEL_NPZ,
  NO_CORPUS,
  corpusBytes,
  loadManifest,
  pythonMissing,
  readF32,
  readNpz,
  relL2,
  runPython,
  sine,
  tempDir,
  writeF32,
  removeTempDirs,
} from './helpers';

afterAll(removeTempDirs);

function naiveDft(re: Float64Array, im: Float64Array): [Float64Array, Float64Array] {
  const n = re.length;
  const or = new Float64Array(n);
  const oi = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    let sr = 0;
    let si = 0;
    for (let t = 0; t < n; t++) {
      const a = (-2 * Math.PI * ((k * t) % n)) / n;
      sr += re[t] * Math.cos(a) - im[t] * Math.sin(a);
      si += re[t] * Math.sin(a) + im[t] * Math.cos(a);
    }
    or[k] = sr;
    oi[k] = si;
  }
  return [or, oi];
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32 - 0.5;
}

describe('FFT', () => {
  const sizes = [1, 2, 3, 4, 5, 7, 8, 12, 16, 25, 30, 49, 64, 100, 200, 400, 243, 97];
  it.each(sizes)('complex FFT n=%i matches a naive DFT', (n) => {
    const rnd = lcg(n);
    const re = Float64Array.from({ length: n }, rnd);
    const im = Float64Array.from({ length: n }, rnd);
    const [wr, wi] = naiveDft(re, im);
    new ComplexFft(n).forward(re, im);
    let err = 0;
    let mag = 0;
    for (let k = 0; k < n; k++) {
      err = Math.max(err, Math.hypot(re[k] - wr[k], im[k] - wi[k]));
      mag = Math.max(mag, Math.hypot(wr[k], wi[k]));
    }
    expect(err / mag).toBeLessThan(1e-12);
  });

  it.each([2, 8, 10, 50, 400, 512])('real FFT power n=%i matches a naive DFT', (n) => {
    const rnd = lcg(7 * n);
    const x = Float64Array.from({ length: n }, rnd);
    const [wr, wi] = naiveDft(x.slice(), new Float64Array(n));
    const fft = new RealFft(n);
    const p = new Float64Array(fft.bins);
    fft.power(x, p);
    for (let k = 0; k <= n / 2; k++) expect(Math.abs(p[k] - (wr[k] ** 2 + wi[k] ** 2))).toBeLessThan(1e-10 * n);
  });
});

describe('Slaney mel filterbank', () => {
  it('mel scale: linear below 1 kHz, log above, invertible', () => {
    expect(hzToMelSlaney(1000)).toBeCloseTo(15, 12);
    expect(hzToMelSlaney(500)).toBeCloseTo(7.5, 12);
    expect(hzToMelSlaney(6400)).toBeCloseTo(42, 12);
    for (const f of [0, 123.4, 999.9, 1000, 4000, 8000, 22050]) {
      expect(melToHzSlaney(hzToMelSlaney(f))).toBeCloseTo(f, 8);
    }
  });

  for (const nMels of [128, 80]) {
    it(`${nMels} bins equal openai mel_filters.npz mel_${nMels}`, (ctx) => {
      if (!HAS_CORPUS) ctx.skip(NO_CORPUS);
      const ref = readNpz(MEL_NPZ).get(`mel_${nMels}`)!;
      expect(ref.shape).toEqual([nMels, 201]); // openai stores [n_mels, n_fft/2+1]
      expect(ref.fortran).toBe(false);
      const ours = melFilterBank(nMels, 400, 16000);
      expect(ours.length).toBe(ref.data.length);
      let maxAbs = 0;
      for (let i = 0; i < ours.length; i++) maxAbs = Math.max(maxAbs, Math.abs(ours[i] - ref.data[i]));
      expect(maxAbs).toBeLessThan(1e-6);
      expect(relL2(ours, ref.data)).toBeLessThan(1e-6);
      // and the orientation really is [mel, bin]: filter 0 starts at bin 0, the last one ends near bin 200
      expect(ours[1]).toBeGreaterThan(0);
      expect(ours[(nMels - 1) * 201 + 200]).toBeGreaterThanOrEqual(0);
      expect(ours[(nMels - 1) * 201 + 1]).toBe(0);
    });
  }
});

describe('log-mel', () => {
  it('shape and layout: [128 × 3000] mel-major for a 30 s window', () => {
    const x = new Float32Array(480_000);
    x.set(sine(16000, 1000, 16000, 0.5)); // 1 s of 1 kHz, then silence
    const m = new LogMelSpectrogram();
    const out = m.compute(x);
    expect(m.frameCount(480_000)).toBe(3000);
    expect(out.length).toBe(128 * 3000);
    // row of the mel bin nearest 1 kHz dominates frame 50 (inside the tone)
    const bins = melFilterBank(128, 400, 16000);
    let best = 0;
    for (let mel = 0; mel < 128; mel++) if (bins[mel * 201 + 25] > bins[best * 201 + 25]) best = mel;
    let argmax = 0;
    for (let mel = 0; mel < 128; mel++) if (out[mel * 3000 + 50] > out[argmax * 3000 + 50]) argmax = mel;
    expect(Math.abs(argmax - best)).toBeLessThanOrEqual(1);
    // dynamic range clamp: everything within 8 (log10 units) = 2 (output units) of the max
    let max = -Infinity;
    let min = Infinity;
    for (const v of out) {
      max = Math.max(max, v);
      min = Math.min(min, v);
    }
    expect(min).toBeCloseTo(max - 2, 6);
    // the silent tail sits at the floor
    expect(out[10 * 3000 + 2500]).toBeCloseTo(max - 2, 6);
  });

  it('all-zero input gives log10(1e-10) everywhere: (−10 + 4)/4', () => {
    const out = logMelSpectrogram(new Float32Array(4800));
    expect(out.length).toBe(128 * 30);
    for (const v of out) expect(v).toBeCloseTo(-1.5, 6);
  });

  it('rejects inputs too short to reflect-pad, and wrong out buffers', () => {
    expect(() => logMelSpectrogram(new Float32Array(200))).toThrow(RangeError);
    expect(() => new LogMelSpectrogram().compute(new Float32Array(1600), new Float32Array(5))).toThrow(RangeError);
  });

  it('config: 80 mel bins, other hop', () => {
    const m = new LogMelSpectrogram({ nMels: 80, hopLength: 320 });
    expect(m.config).toMatchObject({ ...GLM_ASR_MEL, nMels: 80, hopLength: 320, fMin: 0, fMax: 8000 });
    expect(m.compute(new Float32Array(32000)).length).toBe(80 * 100);
  });
});

/** HF WhisperFeatureExtractor._torch_extract_fbank_features, written out with torch for a cross-check. */
const TORCH_MEL = `
import sys, numpy as np, torch
filters = torch.from_numpy(np.load(sys.argv[1])['mel_128'])          # [128, 201] (openai layout)
window = torch.hann_window(400)                                       # periodic
for path in sys.argv[2:]:
    wav = torch.from_numpy(np.fromfile(path, dtype=np.float32))
    stft = torch.stft(wav, 400, 160, window=window, center=True, pad_mode='reflect', return_complex=True)
    magnitudes = stft[..., :-1].abs() ** 2                            # [201, frames], last frame dropped
    mel_spec = filters @ magnitudes                                   # HF: mel_filters.T @ magnitudes, same thing
    log_spec = torch.clamp(mel_spec, min=1e-10).log10()
    log_spec = torch.maximum(log_spec, log_spec.max() - 8.0)
    log_spec = (log_spec + 4.0) / 4.0
    log_spec.numpy().astype(np.float32).tofile(path + '.mel')
`;

describe('log-mel matches a PyTorch (HF Whisper) reference on the corpus', () => {
  it('every corpus clip, plus the second window of a 40 s concatenation: rel-L2 < 1e-4', async (ctx) => {
    if (!HAS_CORPUS) ctx.skip(NO_CORPUS);
    const why = pythonMissing('numpy', 'torch');
    if (why) ctx.skip(why);
    const dir = tempDir();
    const jobs: { label: string; path: string; ours: Float32Array }[] = [];
    const mel = new LogMelSpectrogram();
    const all: Float32Array[] = [];
    for (const clip of loadManifest()) {
      const audio = await decodeAudio(corpusBytes(clip.file), clip.file);
      all.push(audio.samples);
      const [w] = splitWindows(audio.samples);
      const path = join(dir, `${jobs.length}.f32`);
      writeF32(path, w.samples);
      jobs.push({ label: clip.file, path, ours: mel.compute(w.samples) });
    }
    // a long input: two windows, the second partly padding
    const total = all.reduce((s, a) => s + a.length, 0);
    const long = new Float32Array(Math.min(total, 640_000));
    let o = 0;
    for (const a of all) {
      if (o >= long.length) break;
      long.set(a.subarray(0, long.length - o), o);
      o += a.length;
    }
    const wins = splitWindows(long);
    expect(wins.length).toBe(2);
    for (const w of wins) {
      const path = join(dir, `${jobs.length}.f32`);
      writeF32(path, w.samples);
      jobs.push({ label: `long window ${w.index}`, path, ours: mel.compute(w.samples) });
    }
    runPython(TORCH_MEL, [MEL_NPZ, ...jobs.map((j) => j.path)]);
    const report: string[] = [];
    for (const j of jobs) {
      const ref = readF32(`${j.path}.mel`);
      expect(ref.length, j.label).toBe(128 * 3000);
      const err = relL2(j.ours, ref);
      let maxAbs = 0;
      for (let i = 0; i < ref.length; i++) maxAbs = Math.max(maxAbs, Math.abs(j.ours[i] - ref[i]));
      report.push(`${j.label}: relL2 ${err.toExponential(2)} maxAbs ${maxAbs.toExponential(2)}`);
      expect(err, j.label).toBeLessThan(1e-4);
    }
    console.log(`log-mel vs torch:\n  ${report.join('\n  ')}`);
  });
});
