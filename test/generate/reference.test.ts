import { describe, expect, it } from 'vitest';
import { argmaxF32, compareCandidates, logSoftmaxF32, topKCandidates } from '../../src/generate/reference';

describe('logSoftmaxF32', () => {
  it('gives float32 log-probabilities that normalise', () => {
    const lp = logSoftmaxF32([1, 2, 3, -4, 0.5]);
    expect(lp).toBeInstanceOf(Float32Array);
    const total = lp.reduce((s, v) => s + Math.exp(v), 0);
    expect(total).toBeCloseTo(1, 6);
    // log_softmax(x)_i = x_i - logsumexp(x)
    const lse = Math.log([1, 2, 3, -4, 0.5].reduce((s, v) => s + Math.exp(v), 0));
    expect(lp[2]).toBeCloseTo(3 - lse, 6);
    for (const v of lp) expect(Math.fround(v)).toBe(v);
  });

  it('is shift invariant and keeps -Infinity logits at -Infinity', () => {
    const a = logSoftmaxF32([0, 1, -Infinity]);
    const b = logSoftmaxF32([100, 101, -Infinity]);
    expect(a[0]).toBeCloseTo(b[0], 6);
    expect(a[2]).toBe(-Infinity);
  });
});

describe('argmaxF32', () => {
  it('returns the lowest index among ties', () => {
    expect(argmaxF32([1, 3, 3, 2])).toBe(1);
    expect(argmaxF32([5])).toBe(0);
  });
});

describe('topKCandidates', () => {
  const lps = [Float32Array.of(-1, -2, -1, -3), Float32Array.of(-0.5, -1, -4, -1)];

  it('adds row scores in f32 and orders by score, then row, then token', () => {
    const got = topKCandidates(lps, Float32Array.of(0, -0.5), 5);
    expect(got).toEqual([
      { row: 0, token: 0, score: -1 },
      { row: 0, token: 2, score: -1 },
      { row: 1, token: 0, score: -1 },
      { row: 1, token: 1, score: -1.5 },
      { row: 1, token: 3, score: -1.5 },
    ]);
  });

  it('matches a full sort of the table', () => {
    const V = 37;
    const rows = 5;
    const lp = Array.from({ length: rows }, (_, r) =>
      logSoftmaxF32(Float32Array.from({ length: V }, (_, t) => Math.round(Math.sin(r * 13 + t * 7) * 4) / 2)),
    );
    const scores = Float32Array.of(0, -1.25, -1e9, -0.5, -3);
    const all = [];
    for (let row = 0; row < rows; row++) {
      for (let token = 0; token < V; token++) all.push({ row, token,
        score: Math.fround(scores[row] + lp[row][token]) });
    }
    all.sort(compareCandidates);
    for (const k of [1, 2, 8, 40, rows * V]) expect(topKCandidates(lp, scores, k)).toEqual(all.slice(0, k));
  });

  it('rejects k outside 1..rows·V', () => {
    expect(() => topKCandidates(lps, Float32Array.of(0, 0), 0)).toThrow(RangeError);
    expect(() => topKCandidates(lps, Float32Array.of(0, 0), 9)).toThrow(RangeError);
  });
});
