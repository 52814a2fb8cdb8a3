/** Plain-TypeScript references for src/ops/softmax.ts (f64 math, f32 results). */

function rowsOf(x: Float32Array, n: number, fn: (row: Float32Array, out: Float32Array) => void): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length / n; r++) fn(x.subarray(r * n, (r + 1) * n), out.subarray(r * n, (r + 1) * n));
  return out;
}

/** max and log Σ exp(x − max) of one row. */
export function logSumExpParts(row: ArrayLike<number>): { max: number; logSum: number } {
  let m = -Infinity;
  for (let i = 0; i < row.length; i++) m = Math.max(m, row[i]);
  let s = 0;
  for (let i = 0; i < row.length; i++) s += Math.exp(row[i] - m);
  return { max: m, logSum: Math.log(s) };
}

export function softmax(x: Float32Array, n: number): Float32Array {
  return rowsOf(x, n, (row, out) => {
    const { max, logSum } = logSumExpParts(row);
    for (let i = 0; i < n; i++) out[i] = Math.exp(row[i] - max - logSum);
  });
}

export function logSoftmax(x: Float32Array, n: number): Float32Array {
  return rowsOf(x, n, (row, out) => {
    const { max, logSum } = logSumExpParts(row);
    for (let i = 0; i < n; i++) out[i] = row[i] - max - logSum;
  });
}
