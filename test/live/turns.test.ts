/**
 * The live turn detector (src/models/glm-asr/turns.ts) on hand-made probability sequences: when turns are
 * confirmed and end, the hysteresis between threshold and negThreshold, short candidates dropped, and the cut of
 * an over-long turn.
 */
import { describe, expect, it } from 'vitest';
import { TurnDetector, type TurnEvent } from '../../src/models/glm-asr/turns';

/** Events of `probs` pushed one by one, each with the frame that caused it. */
function run(t: TurnDetector, probs: number[]): (TurnEvent & { at: number })[] {
  const out: (TurnEvent & { at: number })[] = [];
  probs.forEach((p, at) => {
    const e = t.push(p);
    if (e) out.push({ ...e, at });
  });
  return out;
}

const fill = (n: number, p: number) => new Array<number>(n).fill(p);
const options = { threshold: 0.5, minSpeechFrames: 4, silenceFrames: 3 };

describe('TurnDetector', () => {
  it('confirms a turn after minSpeechFrames and ends it silenceFrames after its first quiet frame', () => {
    const probs = [...fill(5, 0.1), ...fill(10, 0.9), ...fill(6, 0.1)];
    expect(run(new TurnDetector(options), probs)).toEqual([
      { type: 'start', frame: 5, at: 8 },
      { type: 'stop', frame: 15, at: 17 },
    ]);
  });

  it('drops speech shorter than minSpeechFrames without an event', () => {
    const t = new TurnDetector(options);
    expect(run(t, [...fill(3, 0.9), ...fill(5, 0.1)])).toEqual([]);
    expect(t.inSpeech).toBe(false);
    expect(t.openSince).toBe(8);
  });

  it('keeps a turn through probabilities between negThreshold and threshold (hysteresis)', () => {
    // 0.4 is below the threshold but above threshold − 0.15: not quiet, so the turn goes on.
    const probs = [...fill(4, 0.9), ...fill(10, 0.4), ...fill(3, 0.2)];
    expect(run(new TurnDetector(options), probs)).toEqual([
      { type: 'start', frame: 0, at: 3 },
      { type: 'stop', frame: 14, at: 16 },
    ]);
    const strict = new TurnDetector({ ...options, negThreshold: 0.45 });
    expect(run(strict, probs)).toEqual([
      { type: 'start', frame: 0, at: 3 },
      { type: 'stop', frame: 4, at: 6 },
    ]);
  });

  it('a short pause does not end the turn; speech after it resets the quiet count', () => {
    const probs = [...fill(4, 0.9), ...fill(2, 0.1), ...fill(4, 0.9), ...fill(3, 0.1)];
    expect(run(new TurnDetector(options), probs)).toEqual([
      { type: 'start', frame: 0, at: 3 },
      { type: 'stop', frame: 10, at: 12 },
    ]);
  });

  it('cut: the quietest frame of a span, and the turn goes on from the cut', () => {
    const t = new TurnDetector(options);
    const probs = [0.9, 0.9, 0.9, 0.9, 0.8, 0.6, 0.45, 0.7, 0.44, 0.9, 0.9];
    run(t, probs);
    expect(t.inSpeech).toBe(true);
    expect(t.quietest(5, 10)).toBe(8);
    expect(t.quietest(0, 7)).toBe(6);
    t.cut(8);
    expect(t.openSince).toBe(8);
    expect(t.quietest(0, 10)).toBe(8);
    // Still one turn: it ends on silence with the first quiet frame after the cut.
    expect(run(t, fill(3, 0.1))).toEqual([{ type: 'stop', frame: 11, at: 2 }]);
  });

  it('quietest picks the earliest of equal frames', () => {
    const t = new TurnDetector(options);
    run(t, [0.9, 0.9, 0.9, 0.9, 0.3, 0.9, 0.3, 0.9]);
    expect(t.quietest(0, 7)).toBe(4);
    expect(t.quietest(5, 7)).toBe(6);
  });

  it('reset forgets the open turn: speech after it needs minSpeechFrames again', () => {
    const t = new TurnDetector(options);
    run(t, fill(6, 0.9));
    expect(t.inSpeech).toBe(true);
    t.reset();
    expect(t.inSpeech).toBe(false);
    expect(run(t, fill(4, 0.9))).toEqual([{ type: 'start', frame: 6, at: 3 }]);
  });
});
