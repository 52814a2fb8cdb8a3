/**
 * Live sessions at other rates, side by side, and the cut of speech longer than maxUtteranceSeconds: each final
 * equal to the file transcription of the same samples.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GlmAsr } from '../../src/models/glm-asr/node';
import { testGpu } from '../helpers/gpu';
import { atRate, checkOrder, fileSegment, finals, modelRateView, RATE, runAll, speech } from './helpers';

describe('live sessions at other rates (demo model)', () => {
  let asr: GlmAsr;

  beforeAll(async () => {
    asr = await GlmAsr.load('demo', { gpu: await testGpu(), precision: 'f32' });
  });
  afterAll(() => asr?.dispose());

  it('speech longer than maxUtteranceSeconds is cut in a quiet frame, both parts transcribed as files', async () => {
    const { samples } = await speech(['digits-oh.wav', 'digits-brown-noise.wav'], 0.1);
    const pcm = atRate(samples, 44100, 'f32');
    const { events } = await runAll(asr, pcm, { sampleRate: 44100, partialIntervalMs: 0, chunkMs: 60,
      maxUtteranceSeconds: 3 });
    checkOrder(events, true);
    const segs = finals(events);
    expect(segs.length).toBeGreaterThanOrEqual(2);
    expect(segs[0].end - segs[0].start).toBeLessThanOrEqual(3);
    expect(segs[0].end - segs[0].start).toBeGreaterThanOrEqual(1.5);
    expect(segs[1].start).toBe(segs[0].end); // a cut: the next utterance starts where this one ends
    const view = modelRateView(pcm, 44100);
    // The cut is the frame of lowest VAD probability in the second half of the 3 s allowed (the earliest of equals).
    const probs = asr.vad!.probabilities(view, RATE);
    const frame = asr.vad!.chunkSamples(RATE);
    const cutFrame = Math.round(segs[0].end * RATE) / frame;
    const from = Math.ceil(((segs[0].start + 1.5) * RATE) / frame);
    const half = probs.subarray(from, Math.ceil(((segs[0].start + 3) * RATE) / frame));
    expect(Number.isInteger(cutFrame)).toBe(true);
    expect(probs[cutFrame]).toBe(Math.min(...half));
    expect(probs[cutFrame]).toBeLessThan(0.5);
    for (const s of segs.slice(0, 2)) expect(s).toEqual(await fileSegment(asr, view, s));
  });

  it('sessions at 8, 24 and 16 kHz (f32 and s16, 20 to 100 ms chunks) run side by side', async () => {
    const { samples } = await speech(['number-slow-tempo.wav'], 0.8);
    const cases = [
      { rate: 8000, format: 'f32', chunkMs: 20 }, { rate: 24000, format: 's16', chunkMs: 100 },
      { rate: 16000, format: 's16', chunkMs: 25 },
    ] as const;
    const pcms = cases.map((c) => atRate(samples, c.rate, c.format));
    const runs = await Promise.all(cases.map((c, i) => runAll(asr, pcms[i], { sampleRate: c.rate,
      partialIntervalMs: 0, chunkMs: c.chunkMs })));
    for (const [i, c] of cases.entries()) {
      const { events, session } = runs[i];
      checkOrder(events, true);
      const segs = finals(events);
      expect(segs, `${c.rate} Hz`).toHaveLength(1);
      expect(segs[0]).toEqual(await fileSegment(asr, modelRateView(pcms[i], c.rate), segs[0]));
      expect(session.pushedSeconds).toBeCloseTo(pcms[i].length / c.rate, 9);
    }
  });
});
