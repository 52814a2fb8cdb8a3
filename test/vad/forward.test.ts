/**
 * The CPU forward's pieces against direct textbook versions, with random weights and inputs: the blocked
 * mat-vec and mat-mul, the batched kernel-3 convs, and a whole branch (STFT by FFT, encoder, LSTM, decoder) against a
 * step-by-step reference that uses the STFT basis as a plain conv, with small odd sizes, several blocks and pushes.
 */
import { describe, expect, it } from 'vitest';
import { conv3Relu, matMul, matVec, tapsMajor, VadBranch } from '../../src/vad/forward';
import type { VadBranchWeights } from '../../src/vad/model';
import { VadStream } from '../../src/vad/silero';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}
const rand = (n: number, r: () => number, scale = 1): Float32Array =>
  Float32Array.from({ length: n }, () => r() * scale);
const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

/** PyTorch Conv1d(kernel 3, padding 1, stride) + ReLU on [cin][t] → [cout][tOut]. */
function refConv(x: number[][], w: Float32Array, b: Float32Array, cout: number, stride: number): number[][] {
  const cin = x.length;
  const tIn = x[0].length;
  const tOut = Math.floor((tIn + 2 - 3) / stride) + 1;
  return Array.from({ length: cout }, (_, o) =>
    Array.from({ length: tOut }, (_, t) => {
      let a = b[o];
      for (let i = 0; i < cin; i++) {
        for (let k = 0; k < 3; k++) {
          const tt = t * stride + k - 1;
          if (tt >= 0 && tt < tIn) a += w[(o * cin + i) * 3 + k] * x[i][tt];
        }
      }
      return Math.max(0, a);
    }),
  );
}

describe('matVec', () => {
  it.each([1, 3, 4, 7, 13])('equals the direct sum for %i rows, with and without ReLU', (rows) => {
    const r = rng(rows);
    const len = 11;
    const stride = 15;
    const w = rand(5 + rows * stride, r);
    const x = rand(len + 2, r);
    const bias = rand(rows, r);
    for (const relu of [false, true]) {
      const out = new Float32Array(rows + 1);
      matVec(w, 5, stride, x, 2, len, bias, rows, out, 1, relu);
      expect(out[0]).toBe(0);
      for (let o = 0; o < rows; o++) {
        let a = bias[o];
        for (let j = 0; j < len; j++) a += w[5 + o * stride + j] * x[2 + j];
        expect(out[1 + o]).toBeCloseTo(relu ? Math.max(0, a) : a, 5);
      }
    }
  });
});

describe('matMul', () => {
  it.each([
    [1, 5],
    [2, 4],
    [5, 7],
    [6, 8],
  ])('equals the direct product for %i columns of %i rows (pairs and a lone column, row tails)', (cols, rows) => {
    const r = rng(100 * cols + rows);
    const len = 9;
    const xStep = 12;
    const outStep = rows + 3;
    const w = rand(rows * len, r);
    const x = rand(1 + cols * xStep, r);
    const bias = rand(rows, r);
    const out = new Float32Array(2 + cols * outStep);
    matMul(w, 0, len, x, 1, xStep, len, bias, rows, out, 2, outStep, cols, true);
    for (let c = 0; c < cols; c++) {
      for (let o = 0; o < rows; o++) {
        let a = bias[o];
        for (let j = 0; j < len; j++) a += w[o * len + j] * x[1 + c * xStep + j];
        expect(out[2 + c * outStep + o]).toBeCloseTo(Math.max(0, a), 5);
      }
      for (let o = rows; o < outStep && c < cols - 1; o++) expect(out[2 + c * outStep + o]).toBe(0);
    }
  });
});

describe('conv3Relu', () => {
  it.each([
    [4, 1],
    [4, 2],
    [2, 2],
    [1, 1],
    [5, 2],
  ])('equals PyTorch Conv1d(k3, pad 1) + ReLU for %i frames, stride %i, over 3 sequences', (tIn, stride) => {
    const r = rng(tIn * 10 + stride);
    const cin = 6;
    const cout = 7;
    const steps = 3;
    const w = rand(cout * cin * 3, r);
    const b = rand(cout, r);
    const seqs = Array.from({ length: steps }, () => Array.from({ length: cin }, () => Array.from(rand(tIn, r))));
    const x = new Float32Array(steps * tIn * cin);
    seqs.forEach((seq, s) => seq.forEach((row, i) => row.forEach((v, t) => (x[(s * tIn + t) * cin + i] = v))));
    const tOut = Math.floor((tIn - 1) / stride) + 1;
    const out = new Float32Array(steps * tOut * cout);
    expect(conv3Relu(x, steps, tIn, cin, tapsMajor(w, cout, cin, 3), b, cout, stride, out)).toBe(tOut);
    seqs.forEach((seq, s) => {
      const want = refConv(seq, w, b, cout, stride);
      for (let o = 0; o < cout; o++) {
        for (let t = 0; t < tOut; t++) expect(out[(s * tOut + t) * cout + o]).toBeCloseTo(want[o][t], 5);
      }
    });
  });
});

describe('a whole branch', () => {
  const nFft = 16;
  const geometry = { chunk: 32, context: 4, n_fft: nFft, hop: 8 };
  const bins = nFft / 2 + 1;
  const hidden = 5;
  const r = rng(42);
  const layers = [
    { cout: 6, stride: 1 },
    { cout: 5, stride: 2 },
    { cout: 7, stride: 2 },
    { cout: 6, stride: 1 },
  ];
  let cin = bins;
  const encoder = layers.map((l) => {
    const e = { weight: rand(l.cout * cin * 3, r), bias: rand(l.cout, r, 0.2), cin, ...l };
    cin = l.cout;
    return e;
  });
  const weights: VadBranchWeights = {
    rate: 1000,
    geometry,
    window: Float32Array.from({ length: nFft }, (_, n) => 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / nFft)),
    encoder,
    weightIh: rand(4 * hidden * cin, r),
    weightHh: rand(4 * hidden * hidden, r),
    biasIh: rand(4 * hidden, r),
    biasHh: rand(4 * hidden, r),
    decoderWeight: rand(hidden, r, 8),
    decoderBias: 0.1,
  };
  // The ONNX model's STFT: a conv with rows w·cos then −w·sin.
  const basis = (k: number, n: number): number => {
    const ph = (2 * Math.PI * (k % bins) * n) / nFft;
    return k < bins ? weights.window[n] * Math.cos(ph) : -weights.window[n] * Math.sin(ph);
  };

  function refStep(input: number[], h: number[], c: number[]): number {
    const p = [...input];
    for (let j = 0; j < geometry.context; j++) p.push(input[input.length - 2 - j]);
    let x: number[][] = Array.from({ length: bins }, (_, k) =>
      Array.from({ length: 4 }, (_, f) => {
        let re = 0;
        let im = 0;
        for (let n = 0; n < nFft; n++) {
          re += basis(k, n) * p[f * geometry.hop + n];
          im += basis(bins + k, n) * p[f * geometry.hop + n];
        }
        return Math.sqrt(re * re + im * im);
      }),
    );
    for (const e of encoder) x = refConv(x, e.weight, e.bias, e.cout, e.stride);
    const feat = x.map((row) => row[0]);
    const g = Array.from({ length: 4 * hidden }, (_, q) => {
      let a = weights.biasIh[q] + weights.biasHh[q];
      for (let j = 0; j < feat.length; j++) a += weights.weightIh[q * feat.length + j] * feat[j];
      for (let j = 0; j < hidden; j++) a += weights.weightHh[q * hidden + j] * h[j];
      return a;
    });
    let logit = weights.decoderBias;
    for (let j = 0; j < hidden; j++) {
      c[j] = sigmoid(g[hidden + j]) * c[j] + sigmoid(g[j]) * Math.tanh(g[2 * hidden + j]);
      h[j] = sigmoid(g[3 * hidden + j]) * Math.tanh(c[j]);
      logit += weights.decoderWeight[j] * Math.max(0, h[j]);
    }
    return sigmoid(logit);
  }

  it('equals the step-by-step reference across blocks and pushes, state and context carried', () => {
    const audio = rand(geometry.chunk * 11 + 9, rng(7), 2);
    const h = new Array(hidden).fill(0);
    const c = new Array(hidden).fill(0);
    const want: number[] = [];
    let ctx = new Array(geometry.context).fill(0);
    for (let i = 0; i * geometry.chunk < audio.length; i++) {
      const chunk = Array.from({ length: geometry.chunk }, (_, j) => audio[i * geometry.chunk + j] ?? 0);
      const input = [...ctx, ...chunk];
      want.push(refStep(input, h, c));
      ctx = input.slice(-geometry.context);
    }
    // maxSteps 3: pushes of 5 chunks run as blocks of 3 + 2.
    const stream = new VadStream(new VadBranch(weights, 3));
    const cut = 5 * 32 + 3;
    const got = [...stream.push(audio.subarray(0, cut)), ...stream.push(audio.subarray(cut)), ...stream.flush()];
    expect(got.length).toBe(12);
    const small = new VadBranch(weights, 3);
    expect(() => small.encode(audio, 0, 4, new Float32Array(4))).toThrow(/4 steps exceeds its 3-step/);
    for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], 5);
    // The values vary (a net stuck at one value would make this test weak).
    expect(Math.max(...want) - Math.min(...want)).toBeGreaterThan(0.05);
  });
});
