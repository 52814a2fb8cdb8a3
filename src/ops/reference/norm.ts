/** Plain-TypeScript references for src/ops/norm.ts (f64 math, f32 results), rows of length d = w.length. */

export function layerNorm(x: Float32Array, w: Float32Array, b: Float32Array, eps: number): Float32Array {
  const d = w.length;
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length / d; r++) {
    const row = x.subarray(r * d, (r + 1) * d);
    let mean = 0;
    for (const v of row) mean += v;
    mean /= d;
    let v2 = 0;
    for (const v of row) v2 += (v - mean) ** 2;
    const inv = 1 / Math.sqrt(v2 / d + eps);
    for (let i = 0; i < d; i++) out[r * d + i] = (row[i] - mean) * inv * w[i] + b[i];
  }
  return out;
}

export function rmsNorm(x: Float32Array, w: Float32Array, eps: number): Float32Array {
  const d = w.length;
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length / d; r++) {
    let ss = 0;
    for (let i = 0; i < d; i++) ss += x[r * d + i] ** 2;
    const inv = 1 / Math.sqrt(ss / d + eps);
    for (let i = 0; i < d; i++) out[r * d + i] = w[i] * x[r * d + i] * inv;
  }
  return out;
}

/** x + r rounded to f32 (what the fused kernels store as the new residual stream). */
export function add(x: Float32Array, r: Float32Array): Float32Array {
  return x.map((v, i) => v + r[i]);
}
