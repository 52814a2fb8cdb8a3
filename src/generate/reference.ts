/**
 * Plain-TypeScript reference of the reductions a `SearchModel` performs on its logits: the spec the
 * GPU kernels are tested against, and the building blocks of CPU models (tests, tools).
 */
import type { Candidate } from './types';

const f32 = Math.fround;

/**
 * log_softmax of one row, as float32: `f32(f32(x - max) - f32(log(Σ exp(x - max))))`, with the
 * sum accumulated in float64. Matches torch's float32 `log_softmax` to about one ulp (torch's
 * accumulation order is implementation-defined, so bit equality is not promised). A row whose
 * maximum is -Infinity or NaN gives NaN everywhere, as torch does.
 */
export function logSoftmaxF32(logits: ArrayLike<number>): Float32Array {
  const n = logits.length;
  const out = new Float32Array(n);
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = f32(logits[i]);
    if (v > max || Number.isNaN(v)) max = v;
  }
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(f32(f32(logits[i]) - max));
  const lse = f32(Math.log(sum));
  for (let i = 0; i < n; i++) out[i] = f32(f32(f32(logits[i]) - max) - lse);
  return out;
}

/** Index of the largest value (ties and NaN-free rows → lowest index), like `torch.argmax`. */
export function argmaxF32(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** True when candidate `a` comes before `b` in `SearchModel.topK` order. */
export function candidateBefore(a: Candidate, b: Candidate): boolean {
  if (a.score !== b.score) return a.score > b.score;
  if (a.row !== b.row) return a.row < b.row;
  return a.token < b.token;
}

/** Comparator for `Array.prototype.sort` in `SearchModel.topK` order. */
export function compareCandidates(a: Candidate, b: Candidate): number {
  if (a.score !== b.score) return b.score - a.score;
  if (a.row !== b.row) return a.row - b.row;
  return a.token - b.token;
}

/**
 * `SearchModel.topK` on the CPU: the k best (row, token) of `f32(rowScores[row] + logProbs[row][token])`
 * over `rows = rowScores.length` rows, in topK order. `logProbs[row]` are log-softmaxed rows (e.g.
 * from `logSoftmaxF32`). Keeps a sorted buffer of k, so O(rows·V·log k) worst case, O(rows·V) typical.
 */
export function topKCandidates(
  logProbs: readonly ArrayLike<number>[],
  rowScores: ArrayLike<number>,
  k: number,
): Candidate[] {
  const rows = rowScores.length;
  if (logProbs.length < rows) throw new RangeError(`topK: ${rows} row scores but ${logProbs.length} rows of log-probs`);
  const total = logProbs.slice(0, rows).reduce((s, r) => s + r.length, 0);
  if (!Number.isInteger(k) || k < 1 || k > total) throw new RangeError(`topK: k = ${k} outside 1..${total}`);
  const out: Candidate[] = [];
  for (let row = 0; row < rows; row++) {
    const lp = logProbs[row];
    const base = rowScores[row];
    for (let token = 0; token < lp.length; token++) {
      const c: Candidate = { row, token, score: f32(base + lp[token]) };
      if (out.length === k && !candidateBefore(c, out[k - 1])) continue;
      // insertion into the sorted buffer (rows and tokens arrive in increasing flat order, so an
      // equal score goes after the ones already there)
      let i = out.length === k ? k - 1 : out.length;
      if (out.length < k) out.push(c);
      while (i > 0 && candidateBefore(c, out[i - 1])) {
        out[i] = out[i - 1];
        i--;
      }
      out[i] = c;
    }
  }
  return out;
}
