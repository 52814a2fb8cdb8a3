/**
 * INT8 matmul rows of the kernel benchmark (docs/int8.md), side by side with the float kernels in the same group:
 *   decode GEMV M=1, K=2048, N=6144 (GB/s = weight bytes read per run: int8 + f32 scales; float: 4 or 2 B/weight)
 *   beam-4 decode M=4, same K and N (the rows of a beam-search step)
 *   GEMM 1024³ and the encoder's fc1 shape M=1500, K=1280, N=5120 (GFLOP/s = 2·M·N·K / median)
 * Variants (group size 64 unless named):
 *   ours-f32 / ours-f16          matmul() (src/ops/matmul.ts) with its own choice
 *   int8-auto                    matmulInt8() with chooseInt8Variant's choice (what the model runs)
 *   int8-w8-k32[-unpack4xI8]     weight-only, 32 k per step, per-group partial sums; shifts / the unpack4xI8 builtin
 *   int8-w8-k8                   weight-only, 8 k per step, scales folded into the weights
 *   int8-w8a8[-shift]            activations quantised per row/group (included in the time), dot4I8Packed / shifts
 *   int8-auto-g32 / -g128        group-size comparison of the automatic choice
 * The encoder shape (≈ 3 s per run on lavapipe) only runs the float rows, int8-auto and int8-w8a8.
 */
import { Recorder, f32ToF16Bits, type Gpu } from '../../src/gpu';
import { matmul } from '../../src/ops/matmul';
import { matmulInt8, uploadInt8Matrix, type Int8Matrix, type Int8Variant } from '../../src/ops/matmul-int8';
import { quantizeRows } from '../../src/weights/quant';
import { type BenchCase, type BenchInstance, seededUniform } from '../lib';

export const DECODE = { M: 1, N: 6144, K: 2048 };
export const BEAM4 = { M: 4, N: 6144, K: 2048 };
export const GEMM = { M: 1024, N: 1024, K: 1024 };
export const ENCODER_FC1 = { M: 1500, N: 5120, K: 1280 };


function floatCase(shape: { M: number; N: number; K: number }, dtype: 'f32' | 'f16') {
  return (gpu: Gpu): BenchInstance => {
    const { M, N, K } = shape;
    const x = gpu.upload('bench.x', seededUniform(M * K, 1), [M, K], 'f32');
    const w0 = seededUniform(N * K, 2, 0.05);
    const w = dtype === 'f32'
      ? gpu.upload('bench.w', w0, [N, K], 'f32')
      : gpu.upload('bench.w16', f32ToF16Bits(w0), [N, K], 'f16');
    const y = gpu.tensor('bench.y', [M, N], 'f32');
    return {
      run: () => {
        const rec = new Recorder(gpu, 'bench matmul');
        matmul(rec, x, w, undefined, y, { label: 'bench' });
        rec.submit();
      },
      dispose: () => gpu.release(x, w, y),
    };
  };
}

function int8Case(shape: { M: number; N: number; K: number }, G: number, variant?: Partial<Int8Variant>) {
  return (gpu: Gpu): BenchInstance => {
    const { M, N, K } = shape;
    const x = gpu.upload('bench.x', seededUniform(M * K, 1), [M, K], 'f32');
    const { q, scales } = quantizeRows(seededUniform(N * K, 2, 0.05), N, K, G);
    const w: Int8Matrix = uploadInt8Matrix(gpu, 'bench.w8', q, scales, N, K, G);
    const y = gpu.tensor('bench.y', [M, N], 'f32');
    return {
      run: () => {
        const rec = new Recorder(gpu, 'bench matmul-int8');
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

const noDot4 = (gpu: Gpu) => (gpu.caps.packedDot4 ? undefined : 'no packed_4x8_integer_dot_product');

function rows(shape: { M: number; N: number; K: number }, kind: 'decode' | 'gemm' | 'encoder'): BenchCase[] {
  const op = 'matmul-int8';
  const flops = 2 * shape.M * shape.N * shape.K;
  const decode = kind === 'decode';
  const wBytes = (G: number) => shape.N * shape.K + (shape.N * shape.K / G) * 4;
  const extra = (G: number) => (decode
    ? { bytes: wBytes(G), bytesNote: 'weight bytes read per run (int8 + f32 scales; float: 4 or 2 B each)' }
    : {});
  const c = (variant: string, setup: BenchCase['setup'], G = 64, skip?: BenchCase['skip']): BenchCase =>
    ({ op, variant, shape, flops, ...extra(G), setup, skip });
  const floatBytes = (b: number) =>
    (decode ? { bytes: shape.N * shape.K * b, bytesNote: 'weight bytes read per run' } : {});
  const list: BenchCase[] = [
    { op, variant: 'ours-f32', shape, flops, ...floatBytes(4), setup: floatCase(shape, 'f32') },
    { op, variant: 'ours-f16', shape, flops, ...floatBytes(2), setup: floatCase(shape, 'f16') },
    c('int8-auto', int8Case(shape, 64)),
  ];
  if (kind === 'encoder') {
    return [...list, c('int8-w8a8', int8Case(shape, 64, { mode: 'w8a8', dot4: true }), 64, noDot4)];
  }
  list.push(
    c('int8-w8-k32', int8Case(shape, 64, { mode: 'w8', dot4: false, k8: false })),
    c('int8-w8-k32-unpack4xI8', int8Case(shape, 64, { mode: 'w8', dot4: true, k8: false }), 64, noDot4),
    c('int8-w8-k8', int8Case(shape, 64, { mode: 'w8', dot4: false, k8: true })),
    c('int8-w8a8', int8Case(shape, 64, { mode: 'w8a8', dot4: true }), 64, noDot4),
    c('int8-w8a8-shift', int8Case(shape, 64, { mode: 'w8a8', dot4: false })),
    c('int8-auto-g32', int8Case(shape, 32), 32),
    c('int8-auto-g128', int8Case(shape, 128), 128),
  );
  return list;
}

export const cases: BenchCase[] = [
  ...rows(DECODE, 'decode'), ...rows(BEAM4, 'decode'), ...rows(GEMM, 'gemm'), ...rows(ENCODER_FC1, 'encoder'),
];
