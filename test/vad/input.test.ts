/** Bad VAD input is refused with a clear error, before it can reach the LSTM state. */
import { beforeAll, describe, expect, it } from 'vitest';
import { VadInputError, type SileroVad } from '../../src/vad';
import { loadShippedVad } from './helpers';

let vad: SileroVad;
beforeAll(async () => {
  vad = await loadShippedVad();
});

function tone(n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => 0.3 * Math.sin(i / 7) * Math.sin(i / 900));
}

describe('VAD input checks', () => {
  it.each([NaN, Infinity, -Infinity])('a non-finite sample (%s) is named by its position in the stream', (bad) => {
    const x = tone(2000);
    x[1500] = bad;
    const message = `VAD input sample 1500 is ${bad}: samples must be finite`;
    expect(() => vad.probabilities(x, 16000)).toThrow(new VadInputError(message));
    const s = vad.stream(8000);
    s.push(tone(700));
    const y = tone(100);
    y[3] = bad;
    expect(() => s.push(y)).toThrow(/VAD input sample 703 is/);
  });

  it('a refused push leaves the stream as it was', () => {
    const x = tone(3000);
    const want = vad.probabilities(x, 16000);
    const s = vad.stream(16000);
    const got = [...s.push(x.subarray(0, 1000))];
    const bad = x.slice(1000, 1100);
    bad[50] = NaN;
    expect(() => s.push(bad)).toThrow(VadInputError);
    got.push(...s.push(x.subarray(1000)), ...s.flush());
    expect(Float32Array.from(got)).toEqual(want);
    expect(s.chunks).toBe(want.length);
  });

  it('only a Float32Array is taken', () => {
    const array = [0.1, 0.2] as unknown as Float32Array;
    expect(() => vad.probabilities(array, 16000)).toThrow(/must be a Float32Array of samples, got \[object Array\]/);
    const f64 = new Float64Array(600) as unknown as Float32Array;
    expect(() => vad.probabilities(f64, 16000)).toThrow(/got \[object Float64Array\]/);
  });
});
