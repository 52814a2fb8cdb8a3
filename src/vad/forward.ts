/**
 * Silero VAD v5 forward on the CPU, plain TypeScript (Node and browsers).
 *
 * Per step the network sees `context + chunk` samples (576 at 16 kHz), right-padded by reflection with `context`
 * more, cut into 4 frames of n_fft (hop n_fft/2) → |windowed DFT| → 4 convs (k3, pad 1) + ReLU → LSTM cell →
 * ReLU → 1×1 conv → sigmoid. Everything before the LSTM is independent per step, so `encode` runs it for a whole
 * block of steps at once (one FFT per frame; each conv as dot products over the contiguous rows of a time-major
 * [step][time][channel] layout); `decode` then runs the LSTM step by step, carrying (h, c).
 */
import { RealFft } from '../audio/fft';
import type { VadBranchWeights } from './model';

/** STFT frames per step (and so the encoder's input length): fixed by the geometry checks in model.ts. */
export const FRAMES_PER_STEP = 4;

/**
 * out[r] = bias[r] + Σ_j w[wOff + r·wStride + j] · x[xOff + j] for r < rows, then ReLU if asked. Four rows at a
 * time so each x value is loaded once per four products.
 */
export function matVec(
  w: Float32Array,
  wOff: number,
  wStride: number,
  x: Float32Array,
  xOff: number,
  len: number,
  bias: Float32Array,
  rows: number,
  out: Float32Array,
  outOff: number,
  relu: boolean,
): void {
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const w0 = wOff + r * wStride;
    const w1 = w0 + wStride;
    const w2 = w1 + wStride;
    const w3 = w2 + wStride;
    let a0 = 0;
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    for (let j = 0; j < len; j++) {
      const v = x[xOff + j];
      a0 += w[w0 + j] * v;
      a1 += w[w1 + j] * v;
      a2 += w[w2 + j] * v;
      a3 += w[w3 + j] * v;
    }
    a0 += bias[r];
    a1 += bias[r + 1];
    a2 += bias[r + 2];
    a3 += bias[r + 3];
    out[outOff + r] = relu && a0 < 0 ? 0 : a0;
    out[outOff + r + 1] = relu && a1 < 0 ? 0 : a1;
    out[outOff + r + 2] = relu && a2 < 0 ? 0 : a2;
    out[outOff + r + 3] = relu && a3 < 0 ? 0 : a3;
  }
  for (; r < rows; r++) {
    const w0 = wOff + r * wStride;
    let a = bias[r];
    for (let j = 0; j < len; j++) a += w[w0 + j] * x[xOff + j];
    out[outOff + r] = relu && a < 0 ? 0 : a;
  }
}

/**
 * Two columns at once: out[outA + r] from x at xA and out[outB + r] from x at xB (same weights, lengths and bias).
 * Four rows × two columns keep eight sums in registers: each weight load serves two products (about 1.5× faster
 * than two `matVec` calls in V8).
 */
export function matVec2(
  w: Float32Array,
  wOff: number,
  wStride: number,
  x: Float32Array,
  xA: number,
  xB: number,
  len: number,
  bias: Float32Array,
  rows: number,
  out: Float32Array,
  outA: number,
  outB: number,
  relu: boolean,
): void {
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const w0 = wOff + r * wStride;
    const w1 = w0 + wStride;
    const w2 = w1 + wStride;
    const w3 = w2 + wStride;
    let a0 = 0;
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    let b0 = 0;
    let b1 = 0;
    let b2 = 0;
    let b3 = 0;
    for (let j = 0; j < len; j++) {
      const u = x[xA + j];
      const v = x[xB + j];
      const p = w[w0 + j];
      const q = w[w1 + j];
      const s = w[w2 + j];
      const t = w[w3 + j];
      a0 += p * u;
      a1 += q * u;
      a2 += s * u;
      a3 += t * u;
      b0 += p * v;
      b1 += q * v;
      b2 += s * v;
      b3 += t * v;
    }
    a0 += bias[r];
    a1 += bias[r + 1];
    a2 += bias[r + 2];
    a3 += bias[r + 3];
    b0 += bias[r];
    b1 += bias[r + 1];
    b2 += bias[r + 2];
    b3 += bias[r + 3];
    out[outA + r] = relu && a0 < 0 ? 0 : a0;
    out[outA + r + 1] = relu && a1 < 0 ? 0 : a1;
    out[outA + r + 2] = relu && a2 < 0 ? 0 : a2;
    out[outA + r + 3] = relu && a3 < 0 ? 0 : a3;
    out[outB + r] = relu && b0 < 0 ? 0 : b0;
    out[outB + r + 1] = relu && b1 < 0 ? 0 : b1;
    out[outB + r + 2] = relu && b2 < 0 ? 0 : b2;
    out[outB + r + 3] = relu && b3 < 0 ? 0 : b3;
  }
  if (r < rows) {
    const rest = bias.subarray(r);
    matVec(w, wOff + r * wStride, wStride, x, xA, len, rest, rows - r, out, outA + r, relu);
    matVec(w, wOff + r * wStride, wStride, x, xB, len, rest, rows - r, out, outB + r, relu);
  }
}

/**
 * `matVec` over `cols` columns: column i reads x at xOff + i·xStep and writes out at outOff + i·outStep. Runs them
 * in pairs through `matVec2`.
 */
export function matMul(
  w: Float32Array,
  wOff: number,
  wStride: number,
  x: Float32Array,
  xOff: number,
  xStep: number,
  len: number,
  bias: Float32Array,
  rows: number,
  out: Float32Array,
  outOff: number,
  outStep: number,
  cols: number,
  relu: boolean,
): void {
  let i = 0;
  for (; i + 2 <= cols; i += 2) {
    const xa = xOff + i * xStep;
    const oa = outOff + i * outStep;
    matVec2(w, wOff, wStride, x, xa, xa + xStep, len, bias, rows, out, oa, oa + outStep, relu);
  }
  if (i < cols) matVec(w, wOff, wStride, x, xOff + i * xStep, len, bias, rows, out, outOff + i * outStep, relu);
}

/** PyTorch's conv weight [out][in][k] as [out][k][in], so that k taps over time-major rows are one contiguous dot. */
export function tapsMajor(weight: Float32Array, cout: number, cin: number, k: number): Float32Array {
  const out = new Float32Array(weight.length);
  for (let o = 0; o < cout; o++) {
    for (let i = 0; i < cin; i++) {
      for (let t = 0; t < k; t++) out[(o * k + t) * cin + i] = weight[(o * cin + i) * k + t];
    }
  }
  return out;
}

/**
 * Conv1d (kernel 3, zero padding 1, `stride`) + ReLU over `steps` independent sequences of `tIn` time-major rows of
 * `cin` channels; `w` in taps-major layout. Output: `steps` sequences of ⌊(tIn − 1)/stride⌋ + 1 rows of `cout`.
 */
export function conv3Relu(
  x: Float32Array,
  steps: number,
  tIn: number,
  cin: number,
  w: Float32Array,
  bias: Float32Array,
  cout: number,
  stride: number,
  out: Float32Array,
): number {
  const tOut = Math.floor((tIn - 1) / stride) + 1;
  // Each output time has the same taps in every sequence: one batched product over the sequences per time.
  for (let t = 0; t < tOut; t++) {
    const first = t * stride - 1;
    const kLo = first < 0 ? -first : 0;
    const kHi = Math.min(2, tIn - 1 - first);
    const len = (kHi - kLo + 1) * cin;
    const xOff = (first + kLo) * cin;
    matMul(w, kLo * cin, 3 * cin, x, xOff, tIn * cin, len, bias, cout, out, t * cout, tOut * cout, steps, true);
  }
  return tOut;
}

function sigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}

/** One branch (16 or 8 kHz) with its scratch buffers, sized for up to `maxSteps` steps per `encode`. */
export class VadBranch {
  readonly weights: VadBranchWeights;
  readonly chunk: number;
  readonly context: number;
  readonly hidden: number;
  readonly maxSteps: number;
  private readonly fft: RealFft;
  private readonly frame: Float64Array;
  private readonly power: Float64Array;
  private readonly padded: Float32Array;
  private readonly convW: Float32Array[];
  private readonly acts: Float32Array[];
  private readonly gatesX: Float32Array;
  private readonly biasSum: Float32Array;
  private readonly gates: Float32Array;
  private readonly noBias: Float32Array;

  constructor(weights: VadBranchWeights, maxSteps: number) {
    this.weights = weights;
    const g = weights.geometry;
    this.chunk = g.chunk;
    this.context = g.context;
    this.hidden = weights.decoderWeight.length;
    this.maxSteps = maxSteps;
    this.fft = new RealFft(g.n_fft);
    this.frame = new Float64Array(g.n_fft);
    this.power = new Float64Array(g.n_fft / 2 + 1);
    this.padded = new Float32Array(g.chunk + 2 * g.context);
    this.convW = weights.encoder.map((e) => tapsMajor(e.weight, e.cout, e.cin, 3));
    // acts[0]: magnitudes; acts[i + 1]: output of encoder conv i.
    let t = FRAMES_PER_STEP;
    this.acts = [new Float32Array(maxSteps * t * (g.n_fft / 2 + 1))];
    for (const e of weights.encoder) {
      t = Math.floor((t - 1) / e.stride) + 1;
      this.acts.push(new Float32Array(maxSteps * t * e.cout));
    }
    if (t !== 1) throw new Error(`VAD encoder leaves ${t} time steps, expected 1`);
    this.gatesX = new Float32Array(maxSteps * 4 * this.hidden);
    this.biasSum = weights.biasIh.map((b, i) => b + weights.biasHh[i]);
    this.gates = new Float32Array(4 * this.hidden);
    this.noBias = new Float32Array(4 * this.hidden);
  }

  /**
   * The per-step part for `steps` steps: step i reads `chunk` samples at src[off + i·chunk], preceded by `context`
   * samples (from `ctx` for step 0, else from src itself). Leaves the LSTM input projections (plus both biases) in
   * gatesX.
   */
  encode(src: Float32Array, off: number, steps: number, ctx: Float32Array): void {
    // Typed arrays drop writes past their end silently: a larger block would give wrong values, not an error.
    if (steps > this.maxSteps) {
      throw new RangeError(`VAD encode of ${steps} steps exceeds its ${this.maxSteps}-step buffers`);
    }
    const { chunk, context, weights } = this;
    const nFft = weights.geometry.n_fft;
    const hop = weights.geometry.hop;
    const bins = nFft / 2 + 1;
    const win = weights.window;
    const padded = this.padded;
    const len = chunk + context;
    const mags = this.acts[0];
    for (let s = 0; s < steps; s++) {
      const start = off + s * chunk;
      if (s === 0) {
        padded.set(ctx, 0);
        padded.set(src.subarray(start, start + chunk), context);
      } else {
        padded.set(src.subarray(start - context, start + chunk), 0);
      }
      // Reflection pad on the right (the edge sample is not repeated).
      for (let j = 0; j < context; j++) padded[len + j] = padded[len - 2 - j];
      for (let f = 0; f < FRAMES_PER_STEP; f++) {
        const base = f * hop;
        for (let n = 0; n < nFft; n++) this.frame[n] = padded[base + n] * win[n];
        this.fft.power(this.frame, this.power);
        const o = (s * FRAMES_PER_STEP + f) * bins;
        for (let k = 0; k < bins; k++) mags[o + k] = Math.sqrt(this.power[k]);
      }
    }
    let t = FRAMES_PER_STEP;
    let cin = bins;
    weights.encoder.forEach((e, i) => {
      t = conv3Relu(this.acts[i], steps, t, cin, this.convW[i], e.bias, e.cout, e.stride, this.acts[i + 1]);
      cin = e.cout;
    });
    const feats = this.acts[this.acts.length - 1];
    const g4 = 4 * this.hidden;
    matMul(weights.weightIh, 0, cin, feats, 0, cin, cin, this.biasSum, g4, this.gatesX, 0, g4, steps, false);
  }

  /** LSTM cell and decoder for the `steps` steps of the last `encode`, carrying `h` and `c`; probabilities to `out`. */
  decode(steps: number, h: Float32Array, c: Float32Array, out: Float32Array, outOff: number): void {
    const H = this.hidden;
    const { weights, gates } = this;
    const dw = weights.decoderWeight;
    for (let s = 0; s < steps; s++) {
      matVec(weights.weightHh, 0, H, h, 0, H, this.noBias, 4 * H, gates, 0, false);
      const gx = s * 4 * H;
      let logit = weights.decoderBias;
      // PyTorch gate order: input, forget, cell (g), output.
      for (let j = 0; j < H; j++) {
        const i = sigmoid(gates[j] + this.gatesX[gx + j]);
        const f = sigmoid(gates[H + j] + this.gatesX[gx + H + j]);
        const gg = Math.tanh(gates[2 * H + j] + this.gatesX[gx + 2 * H + j]);
        const o = sigmoid(gates[3 * H + j] + this.gatesX[gx + 3 * H + j]);
        const cj = f * c[j] + i * gg;
        c[j] = cj;
        const hj = o * Math.tanh(cj);
        h[j] = hj;
        if (hj > 0) logit += dw[j] * hj;
      }
      out[outOff + s] = sigmoid(logit);
    }
  }
}
