/**
 * Conformance: on every corpus clip (decoded with decodeAudio, so at 16 kHz), our per-chunk speech probabilities
 * equal onnxruntime-node running the original Silero VAD v5 ONNX, state and context carried across chunks; also at
 * 8 kHz (resampled) on three clips, and fed to a stream in uneven pieces. The corpus is in ../shared here and on
 * CI, so this never skips.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeAudio } from '../../src/audio/decode';
import { resample } from '../../src/audio/resample';
import type { SileroVad } from '../../src/vad';
import { SafetensorsFile } from '../../src/weights/safetensors';
import { MemorySource } from '../../src/weights/sources';
import { EXPECTED, GOLDEN_DUMP } from './golden-dump-expected';
import { CORPUS, loadShippedVad, maxAbsDiff, OrtVad, REPO } from './helpers';

const TOLERANCE = 1e-4;
const manifest = join(CORPUS, 'manifest.json');
if (!existsSync(manifest)) throw new Error(`${manifest} is missing: the VAD conformance test needs ../shared/corpus`);
const clips = (JSON.parse(readFileSync(manifest, 'utf8')) as { clips: { file: string }[] }).clips.map((c) => c.file);
const EIGHT_K = ['audio/en-jfk.wav', 'audio/en-ldc93s1-8k.wav', 'audio/zh-funasr-sample.wav'];

let vad: SileroVad;
let ref: OrtVad;
const decoded = new Map<string, Float32Array>();

async function samples16k(file: string): Promise<Float32Array> {
  let s = decoded.get(file);
  if (!s) {
    s = (await decodeAudio(new Uint8Array(readFileSync(join(CORPUS, file))), file)).samples;
    decoded.set(file, s);
  }
  return s;
}

beforeAll(async () => {
  vad = await loadShippedVad();
  ref = await OrtVad.create();
});
afterAll(async () => {
  await ref?.release();
});

describe('Silero VAD v5 vs onnxruntime-node on the corpus', () => {
  it('has clips and the 8 kHz picks among them', () => {
    expect(clips.length).toBeGreaterThanOrEqual(10);
    for (const f of EIGHT_K) expect(clips).toContain(f);
  });

  it.each(clips)('16 kHz: %s', async (file) => {
    const x = await samples16k(file);
    const want = await ref.probabilities(x, 16000);
    const got = vad.probabilities(x, 16000);
    expect(got.length).toBe(Math.ceil(x.length / 512));
    expect(maxAbsDiff(got, want)).toBeLessThanOrEqual(TOLERANCE);
    // The clip has speech and non-speech: the values are not all alike (a constant output would be a broken net).
    expect(Math.max(...want) - Math.min(...want)).toBeGreaterThan(0.3);
  });

  it.each(EIGHT_K)('8 kHz: %s', async (file) => {
    const x = resample(await samples16k(file), 16000, 8000);
    const want = await ref.probabilities(x, 8000);
    const got = vad.probabilities(x, 8000);
    expect(got.length).toBe(Math.ceil(x.length / 256));
    expect(maxAbsDiff(got, want)).toBeLessThanOrEqual(TOLERANCE);
  });

  it.each([16000, 8000] as const)('a stream fed in uneven pieces gives the same values (%i Hz)', async (rate) => {
    const x16 = await samples16k('audio/en-jfk.wav');
    const x = rate === 16000 ? x16 : resample(x16, 16000, rate);
    const want = await ref.probabilities(x, rate);
    const s = vad.stream(rate);
    const parts: number[] = [];
    let pos = 0;
    // Pieces from 1 sample to several chunks, crossing chunk edges everywhere.
    for (let i = 0; pos < x.length; i++) {
      const n = [1, 37, 511, 512, 1500, 7000, 64][i % 7];
      parts.push(...s.push(x.subarray(pos, pos + n)));
      pos += n;
    }
    parts.push(...s.flush());
    expect(maxAbsDiff(Float32Array.from(parts), want)).toBeLessThanOrEqual(TOLERANCE);
    expect(s.chunks).toBe(want.length);
  });

  it.each([16000, 8000] as const)("the browser test's expected values are onnxruntime-node's (%i Hz)", async (rate) => {
    const bytes = new Uint8Array(readFileSync(join(REPO, GOLDEN_DUMP)));
    const st = await SafetensorsFile.open(new MemorySource(bytes, GOLDEN_DUMP));
    const b = await st.read('input_samples');
    const x16 = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    const want = await ref.probabilities(rate === 16000 ? x16 : resample(x16, 16000, rate), rate);
    expect(maxAbsDiff(Float32Array.from(EXPECTED[rate]), want)).toBeLessThanOrEqual(1e-6);
  });
});
