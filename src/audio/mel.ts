/**
 * Whisper-style log-mel spectrogram on the CPU, exactly as the Hugging Face
 * `WhisperFeatureExtractor._torch_extract_fbank_features` computes it (spec §1):
 *
 *   periodic Hann(n_fft) · reflect-padded (n_fft/2 each side, `center=True`) frames every `hop`
 *   → |rFFT|² (n_fft/2+1 bins) → drop the LAST frame → Slaney mel filterbank
 *   → log10(max(mel, 1e-10)) → max(x, max(x) − 8) with the max over the whole window
 *   → (x + 4) / 4.
 *
 * Input is one window of samples (for GLM-ASR: 480 000 samples, already zero-padded — see
 * `splitWindows`); output is Float32Array [nMels × nFrames], mel-major (row m holds mel bin m for
 * every frame), the layout of HF `input_features[0]` ([128, 3000]). Everything is computed in f64
 * and rounded to f32 once at the end.
 */
import { RealFft } from './fft';

export interface MelConfig {
  /** Sampling rate of the input, Hz (16 000). */
  sampleRate: number;
  /** FFT size = window length (400). */
  nFft: number;
  /** Hop between frames in samples (160). */
  hopLength: number;
  /** Number of mel bins (128 for GLM-ASR-Nano, 80 for older Whisper). */
  nMels: number;
  /** Lowest filter edge, Hz (0). */
  fMin?: number;
  /** Highest filter edge, Hz (sampleRate / 2). */
  fMax?: number;
}

/** GLM-ASR-Nano-2512 front end: WhisperFeatureExtractor(feature_size=128) defaults. */
export const GLM_ASR_MEL: Readonly<MelConfig> = Object.freeze({
  sampleRate: 16000,
  nFft: 400,
  hopLength: 160,
  nMels: 128,
});

/** Slaney mel scale (librosa `htk=False`): linear below 1 kHz, logarithmic above. */
export function hzToMelSlaney(hz: number): number {
  if (hz < 1000) return (3 * hz) / 200;
  return 15 + (Math.log(hz / 1000) * 27) / Math.log(6.4);
}

/** Inverse of `hzToMelSlaney`. */
export function melToHzSlaney(mel: number): number {
  if (mel < 15) return (200 * mel) / 3;
  return 1000 * Math.exp(((mel - 15) * Math.log(6.4)) / 27);
}

/**
 * Slaney-normalised triangular mel filterbank, computed from the formula.
 * Returns Float64Array [nMels × (nFft/2+1)] row-major (openai `mel_filters.npz` orientation;
 * HF stores the transpose).
 */
export function melFilterBank(
  nMels: number,
  nFft: number,
  sampleRate: number,
  fMin = 0,
  fMax = sampleRate / 2,
): Float64Array {
  if (!(nMels >= 1 && nFft >= 2 && sampleRate > 0 && fMax > fMin && fMin >= 0)) {
    const params = `nMels=${nMels} nFft=${nFft} sr=${sampleRate} f=[${fMin}, ${fMax}]`;
    throw new RangeError(`bad mel filterbank parameters: ${params}`);
  }
  const bins = Math.floor(nFft / 2) + 1;
  const mMin = hzToMelSlaney(fMin);
  const mMax = hzToMelSlaney(fMax);
  const edges = new Float64Array(nMels + 2);
  for (let i = 0; i < nMels + 2; i++) edges[i] = melToHzSlaney(mMin + ((mMax - mMin) * i) / (nMels + 1));
  const out = new Float64Array(nMels * bins);
  for (let m = 0; m < nMels; m++) {
    const lo = edges[m], mid = edges[m + 1], hi = edges[m + 2];
    const norm = 2 / (hi - lo);
    for (let k = 0; k < bins; k++) {
      const f = (k * sampleRate) / nFft;
      const up = (f - lo) / (mid - lo);
      const down = (hi - f) / (hi - mid);
      const v = Math.min(up, down);
      if (v > 0) out[m * bins + k] = v * norm;
    }
  }
  return out;
}

/** Number of feature frames for a window of n samples: floor(n / hop) (the last STFT frame is dropped). */
export function melFrameCount(nSamples: number, hopLength = GLM_ASR_MEL.hopLength): number {
  return Math.floor(nSamples / hopLength);
}

/**
 * A reusable log-mel extractor: window, FFT plan, sparse filterbank and scratch are built once.
 * Not re-entrant (shares scratch buffers); create one per concurrent user.
 */
export class LogMelSpectrogram {
  readonly config: Readonly<Required<MelConfig>>;
  private readonly fft: RealFft;
  private readonly window: Float64Array;
  private readonly frame: Float64Array;
  private readonly power: Float64Array;
  // sparse filterbank: filter m has weights fw[fo[m] .. fo[m+1]) for bins fs[m] ..
  private readonly fStart: Int32Array;
  private readonly fOff: Int32Array;
  private readonly fW: Float64Array;
  private logBuf = new Float64Array(0);

  constructor(config: Partial<MelConfig> = {}) {
    const c = { ...GLM_ASR_MEL, ...config };
    const cfg: Required<MelConfig> = { fMin: 0, fMax: c.sampleRate / 2, ...c };
    if (cfg.nFft % 2 !== 0) throw new RangeError(`nFft must be even, got ${cfg.nFft}`);
    if (!(cfg.hopLength >= 1)) throw new RangeError(`hopLength must be ≥ 1, got ${cfg.hopLength}`);
    this.config = Object.freeze(cfg);
    const n = cfg.nFft;
    this.fft = new RealFft(n);
    this.window = new Float64Array(n);
    for (let i = 0; i < n; i++) this.window[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n); // periodic Hann
    this.frame = new Float64Array(n);
    this.power = new Float64Array(this.fft.bins);

    const bins = this.fft.bins;
    const dense = melFilterBank(cfg.nMels, n, cfg.sampleRate, cfg.fMin, cfg.fMax);
    this.fStart = new Int32Array(cfg.nMels);
    this.fOff = new Int32Array(cfg.nMels + 1);
    const w: number[] = [];
    for (let m = 0; m < cfg.nMels; m++) {
      let first = -1;
      let last = -1;
      for (let k = 0; k < bins; k++) {
        if (dense[m * bins + k] !== 0) {
          if (first < 0) first = k;
          last = k;
        }
      }
      this.fStart[m] = Math.max(first, 0);
      this.fOff[m] = w.length;
      if (first >= 0) for (let k = first; k <= last; k++) w.push(dense[m * bins + k]);
    }
    this.fOff[cfg.nMels] = w.length;
    this.fW = Float64Array.from(w);
  }

  /** Frames produced for a window of n samples. */
  frameCount(nSamples: number): number {
    return melFrameCount(nSamples, this.config.hopLength);
  }

  /**
   * Log-mel features of one window.
   * @param samples the window (for GLM-ASR: exactly 480 000 samples, zero-padded)
   * @param out optional destination of length nMels × frameCount(samples.length)
   * @returns Float32Array [nMels × nFrames], mel-major
   */
  compute(samples: Float32Array, out?: Float32Array): Float32Array {
    const { nFft, hopLength, nMels } = this.config;
    const n = samples.length;
    const pad = nFft / 2;
    if (n <= pad) {
      throw new RangeError(`log-mel needs more than ${pad} samples for reflect padding, got ${n}`);
    }
    const nFrames = this.frameCount(n);
    const size = nMels * nFrames;
    if (out && out.length !== size) throw new RangeError(`out has ${out.length} elements, need ${nMels}×${nFrames}`);
    const result = out ?? new Float32Array(size);
    if (nFrames === 0) return result;
    if (this.logBuf.length < size) this.logBuf = new Float64Array(size);
    const logv = this.logBuf; // frame-major scratch: logv[t·nMels + m]
    const frame = this.frame;
    const win = this.window;
    const power = this.power;
    const fStart = this.fStart, fOff = this.fOff, fW = this.fW;
    let maxv = -Infinity;

    for (let t = 0; t < nFrames; t++) {
      const start = t * hopLength - pad;
      if (start >= 0 && start + nFft <= n) {
        for (let i = 0; i < nFft; i++) frame[i] = samples[start + i] * win[i];
      } else {
        for (let i = 0; i < nFft; i++) {
          let idx = start + i;
          if (idx < 0) idx = -idx; // reflect (edge sample not repeated)
          else if (idx >= n) idx = 2 * (n - 1) - idx;
          frame[i] = samples[idx] * win[i];
        }
      }
      this.fft.power(frame, power);
      const row = t * nMels;
      for (let m = 0; m < nMels; m++) {
        let acc = 0;
        const k0 = fStart[m] - fOff[m];
        for (let j = fOff[m], e = fOff[m + 1]; j < e; j++) acc += fW[j] * power[k0 + j];
        const v = Math.log10(acc > 1e-10 ? acc : 1e-10);
        logv[row + m] = v;
        if (v > maxv) maxv = v;
      }
    }

    const floor = maxv - 8;
    for (let m = 0; m < nMels; m++) {
      const o = m * nFrames;
      for (let t = 0; t < nFrames; t++) {
        const v = logv[t * nMels + m];
        result[o + t] = ((v > floor ? v : floor) + 4) / 4;
      }
    }
    return result;
  }
}

let shared: LogMelSpectrogram | undefined;

/** One-shot log-mel with the GLM-ASR configuration (or the given one). See `LogMelSpectrogram`. */
export function logMelSpectrogram(samples: Float32Array, config?: Partial<MelConfig>): Float32Array {
  if (config) return new LogMelSpectrogram(config).compute(samples);
  shared ??= new LogMelSpectrogram();
  return shared.compute(samples);
}
