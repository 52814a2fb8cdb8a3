/**
 * Plain-TypeScript references for the 4-bit kernels (src/ops/matmul-int4.ts; f64 accumulation, f32 results). The
 * quantisation and the packed layout are in src/weights/quant.ts.
 */
import { matmul } from './matmul';
import { dequantizeRows4 } from '../../weights/quant';

/** y[M,N] = x[M,K] · dequant4(packed, s)[N,K]ᵀ (+ bias): the 4-bit matmul's exact target. */
export function matmulInt4(x: ArrayLike<number>, packed: Uint8Array, scales: Uint16Array, M: number, N: number,
  K: number, G: number, bias?: ArrayLike<number>): Float32Array {
  return matmul(x, dequantizeRows4(packed, scales, N, K, G), M, N, K, bias);
}

/** out[j] = dequant4(table row ids[j]) ([n, K]; ids ≥ rows give zero rows): the 4-bit gather's exact target. */
export function embedInt4(packed: Uint8Array, scales: Uint16Array, rows: number, K: number, G: number,
  ids: ArrayLike<number>): Float32Array {
  const w = dequantizeRows4(packed, scales, rows, K, G);
  const out = new Float32Array(ids.length * K);
  for (let j = 0; j < ids.length; j++) if (ids[j] < rows) out.set(w.subarray(ids[j] * K, (ids[j] + 1) * K), j * K);
  return out;
}
