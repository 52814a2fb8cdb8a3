/** Plain-TypeScript references for src/ops/matmul.ts (f64 accumulation, f32 results). */
import { f16BitsToF32, f32ToF16Bits } from '../../gpu';

/** y[M,N] = x[M,K] · w[N,K]ᵀ (+ bias[N]) */
export function matmul(x: ArrayLike<number>, w: ArrayLike<number>, M: number, N: number, K: number,
  bias?: ArrayLike<number>): Float32Array {
  const y = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += x[m * K + k] * w[n * K + k];
      y[m * N + n] = bias ? s + bias[n] : s;
    }
  }
  return y;
}

/** C[i] = alpha · A[i] · B[⌊i / (batch / batchB)⌋]ᵀ for A [batch,M,K], B [batchB,N,K] → C [batch,M,N]. */
export function batchedMatmul(a: ArrayLike<number>, b: ArrayLike<number>, batch: number, batchB: number, M: number,
  N: number, K: number, alpha = 1): Float32Array {
  const c = new Float32Array(batch * M * N);
  const div = batch / batchB;
  for (let i = 0; i < batch; i++) {
    const bi = Math.floor(i / div);
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a[(i * M + m) * K + k] * b[(bi * N + n) * K + k];
        c[(i * M + m) * N + n] = alpha * s;
      }
    }
  }
  return c;
}

/** The values an f16 weight tensor really holds: each f32 rounded to the nearest half (ties to even). */
export function roundToF16(w: ArrayLike<number>): Float32Array {
  return f16BitsToF32(f32ToF16Bits(w));
}
