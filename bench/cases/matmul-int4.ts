/**
 * 4-bit matmul rows of the kernel benchmark (docs/quantization.md), beside INT8 in the same group:
 *   decode GEMV M=1, K=2048, N=6144 (GB/s = weight bytes read per run: codes + scales as stored on the GPU)
 *   beam-4 decode M=4 and GEMM 1024³ (GFLOP/s = 2·M·N·K / median)
 * Variants:
 *   int8-auto            matmulInt8() on an Int8Matrix (g64, f32 scales): what an INT8 model runs
 *   int4-auto            matmulInt8() on an Int4Matrix (g32, f16 scale pairs): what a 4-bit model runs
 *   int4-k32 / int4-k8   the two 4-bit kernels forced (32 k per step with per-group partials / 8 k per step)
 *   int4-auto-g64        the group-size comparison
 */
import { Recorder, type Gpu } from '../../src/gpu';
import { uploadInt4Matrix, type Int4Matrix } from '../../src/ops/matmul-int4';
import { matmulInt8, uploadInt8Matrix, type Int8Variant, type QuantMatrix } from '../../src/ops/matmul-int8';
import { quantizeRows, quantizeRows4 } from '../../src/weights/quant';
import { type BenchCase, type BenchInstance, seededUniform } from '../lib';
import { BEAM4, DECODE, GEMM } from './matmul-int8';

type Shape = { M: number; N: number; K: number };

function quantCase(shape: Shape, bits: 8 | 4, G: number, variant?: Partial<Int8Variant>) {
  return (gpu: Gpu): BenchInstance => {
    const { M, N, K } = shape;
    const x = gpu.upload('bench.x', seededUniform(M * K, 1), [M, K], 'f32');
    const w0 = seededUniform(N * K, 2, 0.05);
    let w: QuantMatrix;
    if (bits === 8) {
      const { q, scales } = quantizeRows(w0, N, K, G);
      w = uploadInt8Matrix(gpu, 'bench.w8', q, scales, N, K, G);
    } else {
      const { packed, scales } = quantizeRows4(w0, N, K, G);
      w = uploadInt4Matrix(gpu, 'bench.w4', packed, scales, N, K, G) satisfies Int4Matrix;
    }
    const y = gpu.tensor('bench.y', [M, N], 'f32');
    return {
      run: () => {
        const rec = new Recorder(gpu, 'bench matmul-int4');
        matmulInt8(rec, x, w, undefined, y, { label: 'bench', variant });
        rec.submit();
      },
      dispose: () => {
        gpu.release(x, y);
        for (const b of w.qblocks) gpu.pool.destroy(b.q.buffer), gpu.pool.destroy(b.s.buffer);
      },
    };
  };
}

function rows(shape: Shape, decode: boolean): BenchCase[] {
  const op = 'matmul-int4';
  const flops = 2 * shape.M * shape.N * shape.K;
  const nk = shape.N * shape.K;
  // GPU bytes read per run: INT8 1 B + f32 scale per G; 4-bit ½ B + f16 scale per G
  const bytes = (bits: 8 | 4, G: number) => (decode
    ? { bytes: bits === 8 ? nk + (nk / G) * 4 : nk / 2 + (nk / G) * 2, bytesNote: 'weight bytes read per run (codes + scales)' }
    : {});
  const c = (variant: string, bits: 8 | 4, G: number, v?: Partial<Int8Variant>): BenchCase =>
    ({ op, variant, shape, flops, ...bytes(bits, G), setup: quantCase(shape, bits, G, v) });
  return [
    c('int8-auto', 8, 64),
    c('int4-auto', 4, 32),
    c('int4-k32', 4, 32, { k8: false }),
    c('int4-k8', 4, 32, { k8: true }),
    c('int4-auto-g64', 4, 64),
  ];
}

export const cases: BenchCase[] = [...rows(DECODE, true), ...rows(BEAM4, true), ...rows(GEMM, false)];
