/**
 * The long test recordings (weights-tools/train/make_long_audio.py), on a short one (20 s, a random seed):
 *   * the same seed and name give the same bytes, another seed or name other audio;
 *   * the times against the audio: every pause (and the lead-in and tail) is 0.2-2 s and holds noise only (its
 *     RMS is the recorded noise level, no 20 ms frame stands out), every utterance holds speech over the noise,
 *     starting within 150 ms;
 *   * the texts are what was spoken: each utterance's text, spoken again by its speaker, has exactly the length of
 *     its interval and explains the audio there up to the noise (the residual after a least-squares gain is
 *     noise-sized, at one common gain), while another utterance's text leaves speech-sized residuals.
 * Skipped without /usr/bin/python3 + numpy, espeak-ng and sox.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseWav } from '../../src/audio/wav';
import { skipWhen } from '../helpers/skip';
import { missingTools, PY, REPO, runPython } from '../demo/python';

const missing = missingTools(['espeak-ng --version', 'sox --version', `${PY} -c "import numpy"`]);
const SR = 16000;

interface Utterance { start: number; end: number; text: string; speaker: number; gain_db: number }
interface Recording { duration_s: number; noise: string; snr_db: number; noise_rms: number; utterances: Utterance[] }

function generate(dir: string, name: string, seed: number, duration = 20): { wav: Buffer; json: Buffer } {
  const r = spawnSync(PY, ['weights-tools/train/make_long_audio.py', '--out', dir, '--name', name,
    '--duration', String(duration), '--seed', String(seed)], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`make_long_audio.py failed:\n${r.stderr}`);
  return { wav: readFileSync(join(dir, `${name}.wav`)), json: readFileSync(join(dir, `${name}.json`)) };
}

const rms = (x: Float32Array, from: number, to: number) => {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i] * x[i];
  return Math.sqrt(s / Math.max(1, to - from));
};

// Per utterance, from the generator's own phrase renderer: samples of the re-spoken text against the interval's,
// the least-squares gain and the residual RMS, for the recorded text and for another utterance's text.
const RESPEAK = String.raw`
import json, tempfile, wave
import numpy as np
import make_long_audio as mla
path = sys.stdin.read()
rec = json.load(open(path + ".json"))
with wave.open(path + ".wav") as w:
    x = np.frombuffer(w.readframes(w.getnframes()), "<i2") / 32768.0
us = rec["utterances"]
def fit(seg, clean):
    g = float(np.dot(seg, clean) / np.dot(clean, clean))
    return g, float(np.sqrt(np.mean((seg - g * clean) ** 2)))
out = []
with tempfile.TemporaryDirectory() as tmp:
    for k, u in enumerate(us):
        a, b = round(u["start"] * mla.SR), round(u["end"] * mla.SR)
        seg = x[a:b]
        clean = mla.utterance_audio(rec, u, tmp)
        n = min(len(clean), len(seg))
        g, resid = fit(seg[:n], clean[:n])
        other = next(v for v in us[k + 1:] + us[:k] if v["text"] != u["text"])
        wrong = mla.utterance_audio(rec, dict(u, text=other["text"]), tmp)
        wrong = np.pad(wrong, (0, max(0, len(seg) - len(wrong))))[:len(seg)]
        out.append({"samples": b - a, "spoken": len(clean), "gain": g * 10 ** (-u["gain_db"] / 20),
                    "residual": resid, "wrongResidual": fit(seg, wrong)[1]})
print(json.dumps(out))
`;

describe('long test recordings (make_long_audio.py)', skipWhen(missing), () => {
  const dir = mkdtempSync(join(tmpdir(), 'glm-asr-long-'));
  const seed = Math.floor(Math.random() * 1e9);
  let rec: Recording;
  let x: Float32Array;
  let first: { wav: Buffer; json: Buffer };

  beforeAll(() => {
    first = generate(dir, 'a', seed);
    rec = JSON.parse(first.json.toString()) as Recording;
    const wav = parseWav(new Uint8Array(first.wav), 'a.wav');
    expect([wav.sampleRate, wav.channels.length, wav.bitsPerSample]).toEqual([SR, 1, 16]);
    x = wav.channels[0];
  }, 150_000);

  it(`is deterministic for a seed (seed ${seed})`, () => {
    const again = generate(mkdtempSync(join(tmpdir(), 'glm-asr-long-')), 'a', seed);
    expect(again.wav.equals(first.wav)).toBe(true);
    expect(again.json.equals(first.json)).toBe(true);
    // another seed, or another name (each recording of the default set has its own stream), gives other audio
    expect(generate(dir, 'a2', seed).wav.equals(first.wav)).toBe(false);
    expect(generate(dir, 'a3', seed + 1).wav.equals(first.wav)).toBe(false);
  });

  it(`pauses of 0.2-2 s hold noise only; utterances hold speech from their start (seed ${seed})`, () => {
    expect(rec.duration_s).toBeGreaterThanOrEqual(20);
    expect(x.length / SR).toBeCloseTo(rec.duration_s, 6);
    expect(rec.utterances.length).toBeGreaterThanOrEqual(5);
    expect(['brown', 'hum']).toContain(rec.noise);
    const noise = rec.noise_rms;
    expect(noise).toBeGreaterThan(1e-4);
    const bounds = [0, ...rec.utterances.flatMap((u) => [u.start, u.end]), x.length / SR];
    const pauses: [number, number][] = [];
    for (let k = 0; k < bounds.length; k += 2) {
      pauses.push([Math.round(bounds[k] * SR), Math.round(bounds[k + 1] * SR)]);
    }
    // Frames are checked on the first difference of the signal, which takes most of the power out of both noises
    // (brown noise and mains hum are low-frequency) and little out of speech; its RMS in the pauses is the floor
    // (pure noise keeps every 20 ms frame within 1.2 times it).
    const d = x.map((v, i) => (i ? v - x[i - 1] : 0));
    let sum = 0;
    let count = 0;
    for (const [a, b] of pauses) for (let i = a; i < b; i++, count++) sum += d[i] * d[i];
    const floor = Math.sqrt(sum / count);
    const loudest = (a: number, b: number) => { // the loudest 20 ms frame of the difference in [a, b), / floor
      let m = 0;
      for (let i = a; i + 320 <= b; i += 160) m = Math.max(m, rms(d, i, i + 320) / floor);
      return m;
    };
    for (const [a, b] of pauses) {
      const where = `pause ${(a / SR).toFixed(3)}-${(b / SR).toFixed(3)} s`;
      expect((b - a) / SR, where).toBeGreaterThanOrEqual(0.2 - 1 / SR);
      expect((b - a) / SR, where).toBeLessThanOrEqual(2 + 1 / SR);
      const level = rms(x, a, b) / noise;
      expect(level, `${where}: RMS / noise RMS`).toBeGreaterThan(0.7);
      expect(level, `${where}: RMS / noise RMS`).toBeLessThan(1.4);
      // 1 ms kept off each edge: the cut at the speech floor is a small step
      expect(loudest(a + 16, b - 16), `${where}: loudest 20 ms of the difference / in the pauses`).toBeLessThan(1.6);
    }
    for (const u of rec.utterances) {
      const [a, b] = [Math.round(u.start * SR), Math.round(u.end * SR)];
      const where = `"${u.text}" at ${u.start.toFixed(3)}-${u.end.toFixed(3)} s`;
      expect(rms(x, a, b) / noise, `${where}: RMS / noise RMS`).toBeGreaterThan(1.6);
      const onset = loudest(a, a + 0.15 * SR);
      expect(onset, `${where}: loudest 20 ms of the difference in its first 150 ms / in the pauses`).toBeGreaterThan(3);
    }
  });

  it(`the texts are what was spoken: the recorded text re-spoken explains the audio (seed ${seed})`, () => {
    const r = runPython<{ samples: number; spoken: number; gain: number; residual: number; wrongResidual: number }[]>(
      RESPEAK, join(dir, 'a'), 150_000);
    expect(r).toHaveLength(rec.utterances.length);
    const scale = r[0].gain;
    r.forEach((u, k) => {
      const where = `"${rec.utterances[k].text}"`;
      expect(u.spoken, `${where}: re-spoken length`).toBe(u.samples);
      // the recorded gain_db is what was applied: one common scale (the whole recording's) remains, up to the noise
      expect(Math.abs(u.gain / scale - 1), `${where}: gain against the first utterance's, - 1`).toBeLessThan(0.02);
      expect(u.residual / rec.noise_rms, `${where}: residual / noise RMS`).toBeLessThan(1.3);
      expect(u.wrongResidual / rec.noise_rms, `${where}: another text's residual / noise RMS`).toBeGreaterThan(1.8);
    });
  });
});
