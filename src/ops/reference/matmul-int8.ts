/**
 * Plain-TypeScript references for src/ops/matmul-int8.ts (f64 accumulation, f32 results). The quantisation
 * itself (weights and activations) is in src/weights/quant.ts.
 */
import { matmul } from './matmul';
import { dequantizeRows } from '../../weights/quant';

/** y[M,N] = x[M,K] · dequant(q, s)[N,K]ᵀ (+ bias) — the weight-only kernel's exact target. */
export function matmulInt8(x: ArrayLike<number>, q: Int8Array, scales: Uint16Array | Float32Array, M: number,
  N: number, K: number, G: number,
  bias?: ArrayLike<number>): Float32Array {
  return matmul(x, dequantizeRows(q, scales, N, K, G), M, N, K, bias);
}

/**
 * The W8A8 kernel's exact target: activations already quantised (xq [M,K] int8, xs [M, groups] f32), weights
 * (q, s): y[m,n] = Σ_g xs[m,g] · s[n,g] · Σ_{k∈g} xq[m,k] · q[n,k] (+ bias). The inner sums are exact integers.
 */
export function matmulW8A8(xq: Int8Array, xs: Float32Array, q: Int8Array, scales: Float32Array, M: number,
  N: number, K: number, G: number,
  bias?: ArrayLike<number>): Float32Array {
  const groups = Math.ceil(K / G);
  const y = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let g = 0; g < groups; g++) {
        let d = 0;
        for (let k = g * G; k < Math.min(K, (g + 1) * G); k++) d += xq[m * K + k] * q[n * K + k];
        s += d * xs[m * groups + g] * scales[n * groups + g];
      }
      y[m * N + n] = bias ? s + bias[n] : s;
    }
  }
  return y;
}

/** out[dstRow0 + j] = dequant(table[ids[j]]) (zeros for ids ≥ vocab). */
export function embedInt8(q: Int8Array, scales: Uint16Array | Float32Array, vocab: number, d: number,
  G: number, ids: ArrayLike<number>,
  out: Float32Array, dstRow0 = 0): Float32Array {
  const table = dequantizeRows(q, scales, vocab, d, G);
  const res = out.slice();
  for (let j = 0; j < ids.length; j++) {
    const row = dstRow0 + j;
    if (row >= res.length / d) continue;
    for (let c = 0; c < d; c++) res[row * d + c] = ids[j] < vocab ? table[ids[j] * d + c] : 0;
  }
  return res;
}
