/**
 * Turns of speech decided as VAD probabilities arrive (live sessions, ./live.ts): the hysteresis of the file
 * segmenter (./segments.ts), one frame at a time, with no look-ahead.
 *
 *   const turns = new TurnDetector({ threshold: 0.5, minSpeechFrames: 8, silenceFrames: 16 });
 *   for (const p of probs) { const e = turns.push(p); if (e?.type === 'start') … if (e?.type === 'stop') … }
 *
 * - A candidate turn opens at a frame with p ≥ `threshold`. Its speech lasts up to its first quiet frame: the first
 *   frame with p < `negThreshold` (default threshold − 0.15) not followed by a frame at or above `threshold`.
 * - It is confirmed (`start`, with its first frame) once its speech spans `minSpeechFrames`; a candidate that goes
 *   quiet for `silenceFrames` first is dropped with no event (a click, a cough).
 * - A confirmed turn ends (`stop`, with its first quiet frame) once it has been quiet for `silenceFrames`.
 * So `start` comes minSpeechFrames after the speech began and `stop` silenceFrames after it ended. The state is
 * the probabilities since the open turn's first frame (the session bounds a turn's length by cutting it).
 * Browser-safe; no GPU.
 */

export interface TurnOptions {
  /** Probability at or above which speech starts. */
  threshold: number;
  /** Probability below which speech may end. Default threshold − 0.15 (silero's convention). */
  negThreshold?: number;
  /** Speech frames that confirm a turn. */
  minSpeechFrames: number;
  /** Quiet frames that end a turn. */
  silenceFrames: number;
}

export type TurnEvent = { type: 'start'; frame: number } | { type: 'stop'; frame: number };

export class TurnDetector {
  private readonly negThreshold: number;
  private frame = 0;
  /** The open turn: first frame, first quiet frame (−1 while speaking), confirmed or still a candidate. */
  private turn: { s: number; quietFrom: number; confirmed: boolean } | null = null;
  /** Probabilities of frames turn.s … frame − 1. */
  private history: number[] = [];

  constructor(private readonly o: TurnOptions) {
    this.negThreshold = o.negThreshold ?? Math.max(0, o.threshold - 0.15);
  }

  /** Frames seen so far. */
  get frames(): number {
    return this.frame;
  }

  /** First frame of the open turn (confirmed or not); `frames` when none is open. */
  get openSince(): number {
    return this.turn ? this.turn.s : this.frame;
  }

  /** A confirmed turn is open. */
  get inSpeech(): boolean {
    return this.turn?.confirmed ?? false;
  }

  /** Adds the next frame's probability; returns the event it causes, if any. */
  push(p: number): TurnEvent | null {
    const f = this.frame++;
    const turn = this.turn;
    if (!turn) {
      if (p >= this.o.threshold) {
        this.turn = { s: f, quietFrom: -1, confirmed: false };
        this.history = [p];
        return this.confirm(f);
      }
      return null;
    }
    this.history.push(p);
    if (p >= this.o.threshold) turn.quietFrom = -1;
    else if (p < this.negThreshold && turn.quietFrom < 0) turn.quietFrom = f;
    if (turn.quietFrom >= 0 && f + 1 - turn.quietFrom >= this.o.silenceFrames) {
      this.turn = null;
      this.history = [];
      return turn.confirmed ? { type: 'stop', frame: turn.quietFrom } : null;
    }
    return turn.confirmed ? null : this.confirm(f);
  }

  /** `start` once the candidate's speech (up to its first quiet frame, or frame `f` inclusive) is long enough. */
  private confirm(f: number): TurnEvent | null {
    const turn = this.turn!;
    const end = turn.quietFrom >= 0 ? turn.quietFrom : f + 1;
    if (end - turn.s < this.o.minSpeechFrames) return null;
    turn.confirmed = true;
    return { type: 'start', frame: turn.s };
  }

  /** Frame in [from, to] of the open turn with the lowest probability (the earliest of equals). */
  quietest(from: number, to: number): number {
    const s = this.openSince;
    from = Math.max(from, s);
    to = Math.min(to, this.frame - 1);
    let best = from;
    for (let f = from + 1; f <= to; f++) if (this.history[f - s] < this.history[best - s]) best = f;
    return best;
  }

  /** The open confirmed turn goes on from `frame` (a cut): earlier frames are forgotten. */
  cut(frame: number): void {
    const turn = this.turn;
    if (!turn || frame <= turn.s) return;
    this.history.splice(0, frame - turn.s);
    turn.s = frame;
    if (turn.quietFrom >= 0 && turn.quietFrom < frame) turn.quietFrom = -1;
  }

  /** Forgets the open turn (the session's `clear`): the next frame at or above the threshold opens a new one. */
  reset(): void {
    this.turn = null;
    this.history = [];
  }
}
