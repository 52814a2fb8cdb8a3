/**
 * matmul rows of the kernel benchmark.
 *
 *   1024³ GEMM (shape {M,N,K}, GFLOP/s = 2·M·N·K / median):
 *     baseline-naive     one output per invocation, 16x16 workgroups (matmul-baselines.wgsl `naive`)
 *     baseline-appendix  the spec appendix's 64x64 / 16x16 / 4x4 register-blocked kernel verbatim (B given as Wᵀ)
 *     baseline-regblock  the same kernel adapted to W [N, K] and any size (matmul-baselines.wgsl `regblock`)
 *     ours-f32 / ours-f16 / ours-f16-native   matmul() with the variant it chooses on this adapter
 *     tiled-f32          the GPU-oriented shared-memory kernel (what a hardware GPU gets), for comparison
 *   decode GEMV M=1, K=2048, N=6144 (GB/s = weight bytes / median):
 *     ours-f32 / ours-f16 / ours-f16-native, splitk-f32 / splitk-f16 (the GPU-oriented variant)
 */
import { Recorder, f32ToF16Bits, type Gpu, type Tensor } from '../../src/gpu';
import { matmul, type F16Read, type MatmulVariant } from '../../src/ops/matmul';
import { type BenchCase, type BenchInstance, seededUniform } from '../lib';

export const GEMM = { M: 1024, N: 1024, K: 1024 };
export const DECODE = { M: 1, N: 6144, K: 2048 };


function weights(gpu: Gpu, N: number, K: number, dtype: 'f32' | 'f16'): Tensor {
  const w = seededUniform(N * K, 2, 0.05);
  return dtype === 'f32'
    ? gpu.upload('bench.w', w, [N, K], 'f32')
    : gpu.upload('bench.w16', f32ToF16Bits(w), [N, K], 'f16');
}

function ours(
  shape: { M: number; N: number; K: number }, dtype: 'f32' | 'f16',
  opts: { variant?: MatmulVariant; f16Read?: F16Read } = {},
) {
  return (gpu: Gpu): BenchInstance => {
    const { M, N, K } = shape;
    const x = gpu.upload('bench.x', seededUniform(M * K, 1), [M, K], 'f32');
    const w = weights(gpu, N, K, dtype);
    const y = gpu.tensor('bench.y', [M, N], 'f32');
    return {
      run: () => {
        const rec = new Recorder(gpu, 'bench matmul');
        matmul(rec, x, w, undefined, y, { label: 'bench', ...opts });
        rec.submit();
      },
      dispose: () => gpu.release(x, w, y),
    };
  };
}

/** The spec appendix kernel verbatim: A [M,K], Bt = Wᵀ [K,N]; needs M, N % 64 == 0 and K % 16 == 0. */
function appendix(shape: { M: number; N: number; K: number }) {
  return (gpu: Gpu): BenchInstance => {
    const { M, N, K } = shape;
    const a = gpu.upload('bench.a', seededUniform(M * K, 1), [M, K], 'f32');
    const bt = gpu.upload('bench.bt', seededUniform(K * N, 2, 0.05), [K, N], 'f32');
    const c = gpu.tensor('bench.c', [M, N], 'f32');
    return {
      run: () => {
        const rec = new Recorder(gpu, 'bench appendix');
        rec.dispatch({ shader: 'matmul-baselines.wgsl', entryPoint: 'appendix', defines: { APPENDIX: true } },
          'appendix', [a, bt, c], [M, N, K, 0], [N / 64, M / 64]);
        rec.submit();
      },
      dispose: () => gpu.release(a, bt, c),
    };
  };
}

const needF16 = (gpu: Gpu) => (gpu.caps.f16 ? undefined : 'no shader-f16');
const gemmFlops = 2 * GEMM.M * GEMM.N * GEMM.K;

export const cases: BenchCase[] = [
  {
    op: 'matmul', variant: 'baseline-naive', shape: GEMM, flops: gemmFlops,
    setup: ours(GEMM, 'f32', { variant: 'naive' }),
  },
  { op: 'matmul', variant: 'baseline-appendix', shape: GEMM, flops: gemmFlops, setup: appendix(GEMM) },
  {
    op: 'matmul', variant: 'baseline-regblock', shape: GEMM, flops: gemmFlops,
    setup: ours(GEMM, 'f32', { variant: 'regblock' }),
  },
  { op: 'matmul', variant: 'tiled-f32', shape: GEMM, flops: gemmFlops, setup: ours(GEMM, 'f32', { variant: 'tiled' }) },
  { op: 'matmul', variant: 'ours-f32', shape: GEMM, flops: gemmFlops, setup: ours(GEMM, 'f32') },
  { op: 'matmul', variant: 'ours-f16', shape: GEMM, flops: gemmFlops, setup: ours(GEMM, 'f16') },
  {
    op: 'matmul', variant: 'ours-f16-native', shape: GEMM, flops: gemmFlops, skip: needF16,
    setup: ours(GEMM, 'f16', { f16Read: 'native' }),
  },
  ...(['f32', 'f16'] as const).flatMap((dtype): BenchCase[] => {
    const bytes = DECODE.N * DECODE.K * (dtype === 'f32' ? 4 : 2);
    const bytesNote = 'weight bytes read per run';
    const flops = 2 * DECODE.M * DECODE.N * DECODE.K;
    return [
      { op: 'matmul', variant: `ours-${dtype}`, shape: DECODE, bytes, bytesNote, flops, setup: ours(DECODE, dtype) },
      ...(dtype === 'f16'
        ? [{
          op: 'matmul', variant: 'ours-f16-native', shape: DECODE, bytes, bytesNote, flops, skip: needF16,
          setup: ours(DECODE, 'f16', { f16Read: 'native' }),
        }]
        : []),
      {
        op: 'matmul', variant: `splitk-${dtype}`, shape: DECODE, bytes, bytesNote, flops,
        setup: ours(DECODE, dtype, { variant: 'splitk' }),
      },
    ];
  }),
];
