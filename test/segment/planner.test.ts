/**
 * ChunkPlanner (src/models/glm-asr/segments.ts) on synthetic VAD probabilities: hysteresis, greedy merging into
 * chunks of at most 30 s cut in pauses, the quietest-point cut of a speech run longer than 30 s, padding, and that
 * the chunks do not depend on how the probabilities are split into pushes; a shorter `maxChunkSec`.
 */
import { describe, expect, it } from 'vitest';
import {
  ChunkPlanner, DEFAULT_SEGMENTER, type SegmenterOptions, type SpeechChunk,
} from '../../src/models/glm-asr/segments';

const SR = 16000;
const FRAME = 512; // 32 ms
const frames = (sec: number) => Math.round((sec * SR) / FRAME);
const PAD = DEFAULT_SEGMENTER.padMs / 1000;

/** Probabilities for `sec` seconds: speech (0.9) in the given [start, end) second ranges, else 0.05. */
function probs(sec: number, speech: [number, number][], speechP = 0.9, quietP = 0.05): Float32Array {
  const p = new Float32Array(frames(sec)).fill(quietP);
  for (const [a, b] of speech) p.fill(speechP, frames(a), frames(b));
  return p;
}

function plan(p: Float32Array, pieces = [p.length], options: SegmenterOptions = {}): SpeechChunk[] {
  const planner = new ChunkPlanner({ frameSamples: FRAME, sampleRate: SR }, options);
  const out: SpeechChunk[] = [];
  let at = 0;
  for (const n of pieces) {
    out.push(...planner.push(p.subarray(at, at + n)));
    at += n;
  }
  if (at < p.length) out.push(...planner.push(p.subarray(at)));
  out.push(...planner.finish(p.length * FRAME));
  return out;
}

const sec = (c: SpeechChunk) => [c.startSample / SR, c.endSample / SR];

describe('ChunkPlanner', () => {
  it('merges nearby speech into one chunk, padded, and finds nothing in silence', () => {
    const c = plan(probs(20, [[2, 4], [5, 7]]));
    expect(c.length).toBe(1);
    const [s, e] = sec(c[0]);
    expect(s).toBeCloseTo(frames(2) * FRAME / SR - PAD, 6);
    expect(e).toBeCloseTo(frames(7) * FRAME / SR + PAD, 6);
    expect(c[0].maxProb).toBeCloseTo(0.9, 6);
    expect(plan(probs(60, []))).toEqual([]);
  });

  it('hysteresis: speech lasts while p stays above 0.35 (ends at the first quieter frame); a 200 ms blip is dropped',
    () => {
    const p = probs(40, [[1, 3]]);
    p.fill(0.4, frames(3), frames(4)); // between the thresholds: still speech
    p.fill(0.9, frames(30), frames(30.2)); // 200 ms blip: shorter than 250 ms
    const c = plan(p);
    expect(c.length).toBe(1);
    expect(sec(c[0])[1]).toBeCloseTo(frames(4) * FRAME / SR + PAD, 6);
    // Probabilities only ever at 0.4 never start speech.
    expect(plan(probs(10, [[1, 5]], 0.4))).toEqual([]);
  });

  it('closes a chunk in the pause before speech that would take it past 30 s; pads meet in the middle of a short pause',
    () => {
    const speech: [number, number][] = [[1, 12], [12.15, 25.5], [25.65, 40], [41, 54], [60, 62]];
    const c = plan(probs(90, speech));
    expect(c.length).toBe(3);
    for (const x of c) expect(x.endSample - x.startSample).toBeLessThanOrEqual(30 * SR);
    // 1-25.5 s, then 25.65-54 s (a 150 ms pause: the padding of both stops at its middle), then 60-62 s.
    const middle = ((frames(25.5) + frames(25.65)) * FRAME) / 2;
    expect(c[0].startSample).toBe(frames(1) * FRAME - PAD * SR);
    expect(c[0].endSample).toBe(middle);
    expect(c[1].startSample).toBe(middle);
    expect(c[1].endSample).toBe(frames(54) * FRAME + PAD * SR);
    // No cut inside speech: every chunk edge lies outside every speech range.
    for (const x of c) {
      for (const edge of [x.startSample, x.endSample]) {
        for (const [s, e] of speech) expect(edge <= frames(s) * FRAME || edge >= frames(e) * FRAME).toBe(true);
      }
    }
  });

  it('cuts a single speech run longer than 30 s once, at its quietest frame, the pieces meeting without padding',
    () => {
    const p = probs(50, [[2, 47]]);
    p[frames(25)] = 0.55; // the quietest frame of the run's allowed span (still speech)
    const c = plan(p);
    expect(c.length).toBe(2);
    expect(c[0].endSample).toBe(frames(25) * FRAME);
    expect(c[1].startSample).toBe(c[0].endSample);
    for (const x of c) expect(x.endSample - x.startSample).toBeLessThanOrEqual(30 * SR);
  });

  it('maxChunkSec 10: closes chunks in the pauses at most 10 s apart, padding included', () => {
    const speech: [number, number][] = [[1, 4], [4.5, 8], [8.5, 12], [13, 15], [15.5, 26]];
    expect(plan(probs(30, speech)).length).toBe(1);
    const c = plan(probs(30, speech), undefined, { maxChunkSec: 10 });
    // 1-8 s (with 8.5-12 s it would be 11.6 s), 8.5-15 s, then 15.5-26 s: 10.5 s of speech, cut once.
    const middle = (a: number, b: number) => ((frames(a) + frames(b)) * FRAME) / 2;
    expect(c.length).toBe(4);
    expect(c[0].startSample).toBe(frames(1) * FRAME - PAD * SR);
    expect(c[0].endSample).toBe(middle(8, 8.5));
    expect(c[1].startSample).toBe(middle(8, 8.5));
    expect(c[1].endSample).toBe(middle(15, 15.5));
    expect(c[3].startSample).toBe(c[2].endSample);
    for (const x of c) expect(x.endSample - x.startSample).toBeLessThanOrEqual(10 * SR);
  });

  it('gives the same chunks for any split of the probabilities into pushes', () => {
    const p = probs(200, [[1, 12], [12.15, 25], [31, 40], [41, 78], [90, 91], [150, 190]]);
    p[frames(60)] = 0.6;
    const whole = plan(p);
    expect(whole.length).toBeGreaterThanOrEqual(5);
    expect(plan(p, [1, 7, 100, 333, 1, 2000])).toEqual(whole);
    expect(plan(p, Array.from({ length: p.length }, () => 1))).toEqual(whole);
  });
});
