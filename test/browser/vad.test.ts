/**
 * Silero VAD in a real browser (headless Chromium): the shipped weights loaded from files through a FileMapProvider,
 * run on the golden dump's 16 kHz speech and on its 8 kHz resampling, must give onnxruntime-node's probabilities
 * (test/vad/golden-dump-expected.ts, which test/vad/conformance.test.ts checks against onnxruntime-node).
 */
import { describe, expect, it } from 'vitest';
import { resample } from '../../src/audio/resample';
import { SileroVad } from '../../src/vad';
import { FileMapProvider } from '../../src/weights/checkpoint';
import { SafetensorsFile } from '../../src/weights/safetensors';
import { BlobSource } from '../../src/weights/sources';
import { EXPECTED, GOLDEN_DUMP } from '../vad/golden-dump-expected';

async function blob(path: string): Promise<Blob> {
  const res = await fetch(path);
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.blob();
}

describe('SileroVad in the browser', () => {
  it('gives onnxruntime-node\'s probabilities at 16 and 8 kHz', async () => {
    const files = new Map<string, Blob>();
    for (const f of ['config.json', 'model.safetensors']) files.set(f, await blob(`/models/silero-vad-v5/${f}`));
    const vad = await SileroVad.load(new FileMapProvider(files, 'silero-vad-v5'));
    const dump = await SafetensorsFile.open(new BlobSource(await blob(`/${GOLDEN_DUMP}`)));
    const b = await dump.read('input_samples');
    const x = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    for (const rate of [16000, 8000] as const) {
      const got = vad.probabilities(rate === 16000 ? x : resample(x, 16000, rate), rate);
      expect(got.length).toBe(EXPECTED[rate].length);
      let worst = 0;
      got.forEach((p, i) => (worst = Math.max(worst, Math.abs(p - EXPECTED[rate][i]))));
      expect(worst).toBeLessThanOrEqual(1e-4);
    }
  });
});
