/**
 * Long audio → 30 s windows, and how many audio tokens each window yields (spec §1 "Long audio").
 *
 * The HF reference (GlmAsrProcessor) cuts the 16 kHz signal into consecutive, non-overlapping
 * windows of `chunk_length · 16000` = 480 000 samples, zero-pads the last one, and runs every
 * window through the log-mel and encoder independently. Window i contributes the first
 * `audioTokenCount(validSamples_i)` of its 375 projector outputs.
 */

/** 30 s at 16 kHz: samples per encoder window (chunk_length × sampling_rate). */
export const WINDOW_SAMPLES = 480_000;
/** STFT hop: one mel frame per 160 samples. */
export const HOP_LENGTH = 160;
/** HF's `max_audio_len` = 655 s → int(655 // 30) = 21 windows (630 s). Applied only on request. */
export const MAX_WINDOWS = 21;

export interface AudioWindow {
  /** Window index (0-based). */
  index: number;
  /** First input sample covered by the window. */
  startSample: number;
  /** Real (non-padding) samples in the window, 0 … nSamples. */
  validSamples: number;
  /** Exactly nSamples samples: the input slice followed by zeros. */
  samples: Float32Array;
}

export interface SplitOptions {
  /** Keep at most this many windows (the HF reference uses MAX_WINDOWS = 21); default: all. */
  maxWindows?: number;
}

/**
 * Split 16 kHz mono samples into `max(1, ceil(n / nSamples))` consecutive windows of nSamples each,
 * the last one zero-padded. An empty input still gives one (all-padding) window, as in HF.
 */
export function splitWindows(samples: Float32Array, nSamples = WINDOW_SAMPLES, opts: SplitOptions = {}): AudioWindow[] {
  if (!(Number.isInteger(nSamples) && nSamples > 0)) {
    throw new RangeError(`nSamples must be a positive integer, got ${nSamples}`);
  }
  let count = Math.max(1, Math.ceil(samples.length / nSamples));
  if (opts.maxWindows !== undefined) {
    if (!(Number.isInteger(opts.maxWindows) && opts.maxWindows >= 1)) {
      throw new RangeError(`maxWindows must be a positive integer, got ${opts.maxWindows}`);
    }
    count = Math.min(count, opts.maxWindows);
  }
  const out: AudioWindow[] = [];
  for (let i = 0; i < count; i++) {
    const start = i * nSamples;
    const end = Math.min(start + nSamples, samples.length);
    const w = new Float32Array(nSamples); // zero-filled
    w.set(samples.subarray(start, end));
    out.push({ index: i, startSample: start, validSamples: Math.max(0, end - start), samples: w });
  }
  return out;
}

/** Valid mel frames for n real samples: ceil(n / hop) (HF `attention_mask[:, ::160]`). */
export function validFrameCount(validSamples: number, hopLength = HOP_LENGTH): number {
  return validSamples <= 0 ? 0 : Math.ceil(validSamples / hopLength);
}

/**
 * Audio tokens one window yields for n valid samples (HF `_get_audio_token_length`):
 * L = ceil(n/160); after conv2 (stride 2): c2 = (L − 1) // 2 + 1; after the ×4 merge:
 * N = (c2 − 4) // 4 + 1, with Python floor division — equivalently floor(ceil(L/2) / 4).
 * 480 000 → 375; 961 → 1; 960 and fewer → 0.
 */
export function audioTokenCount(validSamples: number, hopLength = HOP_LENGTH): number {
  const L = validFrameCount(validSamples, hopLength);
  const c2 = Math.floor((L - 1) / 2) + 1;
  return Math.max(0, Math.floor((c2 - 4) / 4) + 1);
}

/** Total audio tokens for a whole signal of n samples, summed over its windows. */
export function totalAudioTokens(nSamples: number, windowSamples = WINDOW_SAMPLES, opts: SplitOptions = {}): number {
  let count = Math.max(1, Math.ceil(nSamples / windowSamples));
  if (opts.maxWindows !== undefined) count = Math.min(count, opts.maxWindows);
  let total = 0;
  for (let i = 0; i < count; i++) total += audioTokenCount(Math.min(windowSamples, nSamples - i * windowSamples));
  return total;
}
