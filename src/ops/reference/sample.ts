/** Plain-TypeScript references for src/ops/sample.ts. Order: value descending, then index ascending. */
import { logSumExpParts } from './softmax';

export interface TopKRefOptions {
  logSoftmax?: boolean;
  rowBias?: ArrayLike<number>;
  flatten?: boolean;
}

/** Scores as the kernel defines them (f32 steps, log Σ exp in f64). */
export function scores(logits: Float32Array, vocab: number, o: TopKRefOptions = {}): Float32Array {
  const rows = logits.length / vocab;
  const out = new Float32Array(logits.length);
  const f = Math.fround;
  for (let r = 0; r < rows; r++) {
    const row = logits.subarray(r * vocab, (r + 1) * vocab);
    const b = o.rowBias ? o.rowBias[r] : 0;
    const { max, logSum } = o.logSoftmax ? logSumExpParts(row) : { max: 0, logSum: 0 };
    for (let v = 0; v < vocab; v++) {
      out[r * vocab + v] = o.logSoftmax ? f(f(f(row[v] - max) - f(logSum)) + b) : f(row[v] + b);
    }
  }
  return out;
}

/** Top k per row (or over all rows with flatten: indices r·vocab + v). */
export function topK(logits: Float32Array, vocab: number, k: number,
  o: TopKRefOptions = {}): { idx: number[]; val: number[] } {
  const s = scores(logits, vocab, o);
  const rows = logits.length / vocab;
  const groups = o.flatten ? [[0, s.length]] : Array.from({ length: rows }, (_, r) => [r * vocab, (r + 1) * vocab]);
  const idx: number[] = [];
  const val: number[] = [];
  for (const [lo, hi] of groups) {
    const order = Array.from({ length: hi - lo }, (_, i) => lo + i);
    order.sort((a, b) => (s[b] - s[a]) || a - b);
    for (const i of order.slice(0, k)) {
      idx.push(o.flatten ? i : i - lo);
      val.push(s[i]);
    }
  }
  return { idx, val };
}

export function argmax(logits: Float32Array, vocab: number): number[] {
  return topK(logits, vocab, 1).idx;
}
