/**
 * Speech chunks from VAD probabilities, planned as the probabilities arrive (so transcription can start before the
 * whole file has been through the VAD, and the state stays bounded by one chunk's frames).
 *
 *   const plan = new ChunkPlanner({ frameSamples: 512, sampleRate: 16000 });
 *   for (const piece of probabilityPieces) for (const c of plan.push(piece)) transcribe(c);
 *   for (const c of plan.finish(totalSamples)) transcribe(c);
 *
 * 1. Speech regions, silero-style hysteresis: a region starts at a frame with p ≥ `threshold`; it ends when p stays
 *    below `negThreshold` for `minSilenceMs` (the end is the first quiet frame); regions shorter than `minSpeechMs`
 *    are dropped.
 * 2. Regions are merged greedily into chunks of at most `maxChunkSec` (padding included): a region joins the open
 *    chunk when the chunk still fits, otherwise the chunk is closed in the pause before the region.
 * 3. A single run of speech that does not fit alone is cut at its quietest frame (lowest p) in the second half of
 *    the allowed span; such cuts get no padding (the pieces meet).
 * 4. Each chunk is padded by `padMs` on both sides, but never past the middle of the pause to its neighbour, before
 *    the start of the audio or past its end.
 * Browser-safe; no GPU.
 */

export interface SegmenterOptions {
  /** Probability at or above which speech starts. Default 0.5 (silero's `threshold`). */
  threshold?: number;
  /** Probability below which speech may end. Default 0.35 (silero's `threshold - 0.15`). */
  negThreshold?: number;
  /** Regions shorter than this are dropped. Default 250 ms. */
  minSpeechMs?: number;
  /** Quiet time that ends a region (and the shortest pause a chunk can be cut in). Default 100 ms. */
  minSilenceMs?: number;
  /**
   * Audio kept on each side of a chunk's speech. Default 300 ms: with 100 or 200 ms the demo model misreads one of
   * its six held-out samples each (it was trained on clips with a lead-in); faster-whisper pads 400 ms.
   */
  padMs?: number;
  /** Longest chunk, padding included. Default 30 s (the model's window). */
  maxChunkSec?: number;
}

export const DEFAULT_SEGMENTER: Required<SegmenterOptions> = {
  threshold: 0.5,
  negThreshold: 0.35,
  minSpeechMs: 250,
  minSilenceMs: 100,
  padMs: 300,
  maxChunkSec: 30,
};

/** A stretch of audio to transcribe on its own, in samples; `maxProb` is the highest VAD probability in it. */
export interface SpeechChunk {
  startSample: number;
  endSample: number;
  maxProb: number;
}

/** A chunk in frames before padding; `cutStart` / `cutEnd`: the edge is a cut inside speech (no padding). */
interface FrameChunk {
  s: number;
  e: number;
  cutStart: boolean;
  cutEnd: boolean;
}

export class ChunkPlanner {
  private readonly o: Required<SegmenterOptions>;
  private readonly frameSamples: number;
  private readonly padSamples: number;
  private readonly minSpeech: number;
  private readonly minSilence: number;
  /** Most frames of speech in one chunk, so that it fits `maxChunkSec` with padding on both sides. */
  private readonly maxFrames: number;

  /** Probabilities of frames `base..frame-1` (only those a pending chunk or region may still need). */
  private history: number[] = [];
  private base = 0;
  private frame = 0;
  /** The open speech region: start frame and (when quiet frames follow) the first quiet frame. */
  private run: { s: number; quietFrom: number; cutStart: boolean } | null = null;
  /** The open chunk (regions merged so far). */
  private chunk: FrameChunk | null = null;
  /** End sample of the last emitted chunk (padding never overlaps it). */
  private lastEnd = 0;

  constructor(geometry: { frameSamples: number; sampleRate: number }, options: SegmenterOptions = {}) {
    this.o = { ...DEFAULT_SEGMENTER, ...options };
    this.frameSamples = geometry.frameSamples;
    const frames = (ms: number) => Math.max(1, Math.round((ms / 1000) * geometry.sampleRate / geometry.frameSamples));
    this.padSamples = Math.round((this.o.padMs / 1000) * geometry.sampleRate);
    this.minSpeech = frames(this.o.minSpeechMs);
    this.minSilence = frames(this.o.minSilenceMs);
    const maxSamples = Math.floor(this.o.maxChunkSec * geometry.sampleRate);
    this.maxFrames = Math.floor((maxSamples - 2 * this.padSamples) / geometry.frameSamples);
    if (this.maxFrames < 2 * this.minSpeech) {
      throw new RangeError(`maxChunkSec ${this.o.maxChunkSec} s is too short for padMs ${this.o.padMs} and ` +
        `minSpeechMs ${this.o.minSpeechMs}`);
    }
  }

  /** Adds the next frames' probabilities; returns the chunks that are final now. */
  push(probs: Float32Array): SpeechChunk[] {
    const out: SpeechChunk[] = [];
    for (const p of probs) this.step(p, out);
    return out;
  }

  /** End of audio (`totalSamples` long): closes the open region and chunk. */
  finish(totalSamples: number): SpeechChunk[] {
    const out: SpeechChunk[] = [];
    if (this.run) this.closeRun(this.run.quietFrom >= 0 ? this.run.quietFrom : this.frame, out);
    if (this.chunk) this.emit(this.chunk, totalSamples, totalSamples, out);
    this.chunk = null;
    return out;
  }

  private step(p: number, out: SpeechChunk[]): void {
    const f = this.frame++;
    this.history.push(p);
    const run = this.run;
    if (!run) {
      if (p >= this.o.threshold) {
        this.run = { s: f, quietFrom: -1, cutStart: false };
      } else if (this.chunk && f + 1 - this.chunk.s > this.maxFrames) {
        // No later region can join it: close the chunk now (earlier text, and no history kept through silence).
        this.emit(this.chunk, this.midpoint(this.chunk.e, f + 1), Infinity, out);
        this.chunk = null;
      } else if (!this.chunk) {
        this.trim(f + 1);
      }
      return;
    }
    if (p >= this.o.threshold) run.quietFrom = -1;
    else if (p < this.o.negThreshold && run.quietFrom < 0) run.quietFrom = f;
    if (run.quietFrom >= 0 && f + 1 - run.quietFrom >= this.minSilence) {
      this.closeRun(run.quietFrom, out);
      return;
    }
    // Speech still running: make sure the open chunk plus this run fit; else close the chunk in the pause before
    // the run, or (the run alone is too long) cut the run at its quietest frame.
    const from = this.chunk ? this.chunk.s : run.s;
    if (f + 1 - from <= this.maxFrames) return;
    if (this.chunk) {
      this.emit(this.chunk, this.midpoint(this.chunk.e, run.s), Infinity, out);
      this.chunk = null;
      return;
    }
    const q = this.quietest(run.s + Math.ceil(this.maxFrames / 2), f);
    this.emit({ s: run.s, e: q, cutStart: run.cutStart, cutEnd: true }, Infinity, Infinity, out);
    run.s = q;
    run.cutStart = true;
    if (run.quietFrom >= 0 && run.quietFrom < q) run.quietFrom = -1;
    this.trim(q);
  }

  /** The region [run.s, end) is complete: it joins the open chunk, or starts one. */
  private closeRun(end: number, out: SpeechChunk[]): void {
    const run = this.run!;
    this.run = null;
    if (end - run.s < this.minSpeech && !run.cutStart) {
      if (!this.chunk) this.trim(this.frame);
      return;
    }
    // It fits: `step` closed the open chunk before the run could take it past maxFrames.
    if (this.chunk) this.chunk.e = end;
    else this.chunk = { s: run.s, e: end, cutStart: run.cutStart, cutEnd: false };
  }

  /** Sample in the middle of the pause between frames `end` (first quiet) and `start` (first speech). */
  private midpoint(end: number, start: number): number {
    return Math.floor(((end + start) * this.frameSamples) / 2);
  }

  /** Frame in [from, to] with the lowest probability (the earliest of equals). */
  private quietest(from: number, to: number): number {
    let best = from;
    for (let f = from + 1; f <= to; f++) if (this.history[f - this.base] < this.history[best - this.base]) best = f;
    return best;
  }

  /** Pads and clamps a frame chunk (`padLimit`: latest end allowed by the next chunk; `total`: audio length). */
  private emit(c: FrameChunk, padLimit: number, total: number, out: SpeechChunk[]): void {
    const fs = this.frameSamples;
    const startSample = c.cutStart ? c.s * fs : Math.max(this.lastEnd, c.s * fs - this.padSamples);
    const endSample = Math.min(total, c.cutEnd ? c.e * fs : Math.min(padLimit, c.e * fs + this.padSamples));
    let maxProb = 0;
    for (let f = c.s; f < c.e; f++) maxProb = Math.max(maxProb, this.history[f - this.base]);
    this.lastEnd = endSample;
    out.push({ startSample, endSample, maxProb });
    this.trim(this.run ? Math.min(this.run.s, c.e) : c.e);
  }

  /** Forgets the probabilities of frames before `frame`. */
  private trim(frame: number): void {
    if (frame <= this.base) return;
    this.history.splice(0, frame - this.base);
    this.base = frame;
  }
}
