/**
 * matmul / batchedMatmul / matmulStrided against the f64 CPU reference.
 *
 * Tolerances (relative L2 over the whole output): 1e-5 for every case. f32 accumulation of K products gives a
 * typical relative error of about √K · 2⁻²⁴ ≈ 3e-6 at K = 2048 in the worst (fully correlated) case and ~1e-7 in
 * practice, so 1e-5 catches any indexing or masking bug (those give errors of order 1) while leaving room for
 * the summation-order differences between variants. f16 weights are compared with the reference computed from
 * the f16-ROUNDED weights (what the GPU really multiplies by), so the same bound applies: only accumulation
 * error remains, never the ~5e-4 quantisation error of the halves themselves.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Gpu, Recorder, f32ToF16Bits, type Tensor } from '../../src/gpu';
import {
  batchedMatmul, chooseMatmulVariant, columnLaneConfig, matmul, matmulStrided, type MatmulVariant,
} from '../../src/ops/matmul';
import * as ref from '../../src/ops/reference/matmul';
import { randomF32, relL2, testGpu } from '../helpers/gpu';

const TOL = 1e-5;
const VARIANTS: MatmulVariant[] = ['gemm', 'gemv', 'tiled', 'splitk', 'naive', 'regblock'];

function uploadW(gpu: Gpu, w: Float32Array, N: number, K: number,
  dtype: 'f32' | 'f16'): { t: Tensor; values: Float32Array } {
  if (dtype === 'f32') return { t: gpu.upload('w', w, [N, K], 'f32'), values: w };
  return { t: gpu.upload('w16', f32ToF16Bits(w), [N, K], 'f16'), values: ref.roundToF16(w) };
}

// [M, N, K]: K of 1, 7, 65 (odd: element-wise weight path), 12 (K % 8 = 4: element-wise), 64, 1000, 2048
// (vector path); M around the gemv/gemm switch (8) and the tile sizes (16, 64); N odd and around the 16/64 tiles.
const SHAPES: [number, number, number][] = [
  [1, 1, 1], [3, 7, 7], [7, 65, 65], [17, 33, 12], [65, 1000, 64], [130, 65, 1000], [1, 1000, 2048], [8, 7, 1000],
];

describe('matmul y = x·Wᵀ + b', () => {
  for (const [M, N, K] of SHAPES) {
    for (const dtype of ['f32', 'f16'] as const) {
      it(`all variants match the reference: M=${M} N=${N} K=${K} ${dtype} ` +
        `weights${(M + N) % 2 ? ' + bias' : ''}`, async () => {
        const gpu = await testGpu();
        const seed = M * 1_000_003 + N * 1009 + K;
        const x = randomF32(M * K, seed, 1);
        const w = randomF32(N * K, seed + 1, 0.5);
        const b = (M + N) % 2 ? randomF32(N, seed + 2, 2) : undefined;
        const tx = gpu.upload('x', x, [M, K], 'f32');
        const tw = uploadW(gpu, w, N, K, dtype);
        const tb = b ? gpu.upload('b', b, [N], 'f32') : undefined;
        const want = ref.matmul(x, tw.values, M, N, K, b);
        const rec = new Recorder(gpu, 'matmul test');
        const outs = VARIANTS.map((variant) => {
          const y = gpu.tensor(`y.${variant}`, [M, N], 'f32');
          matmul(rec, tx, tw.t, tb, y, { variant, label: `mm.${variant}` });
          return y;
        });
        rec.submit();
        for (const [i, y] of outs.entries()) {
          const err = relL2(await gpu.readF32(y), want);
          expect(err, `${VARIANTS[i]}: relL2 ${err}`).toBeLessThan(TOL);
        }
        gpu.release(tx, tw.t, ...(tb ? [tb] : []), ...outs);
      });
    }
  }

  it('chooses gemv / gemm on a CPU adapter, split-K / tiled on a GPU (M ≤ 8 / above), on any adapter', async () => {
    const gpu = await testGpu();
    const caps = gpu.caps as { cpuAdapter: boolean };
    const saved = caps.cpuAdapter;
    try {
      caps.cpuAdapter = true;
      expect([1, 8, 9].map((M) => chooseMatmulVariant(gpu, M))).toEqual(['gemv', 'gemv', 'gemm']);
      caps.cpuAdapter = false;
      expect([1, 8, 9].map((M) => chooseMatmulVariant(gpu, M))).toEqual(['splitk', 'splitk', 'tiled']);
    } finally {
      caps.cpuAdapter = saved;
    }
  });

  it('writes a column range of a wider output (fused QKV) and leaves the other columns alone', async () => {
    const gpu = await testGpu();
    const [M, N, K, ld, col] = [20, 24, 40, 72, 24];
    const x = randomF32(M * K, 11);
    const w = randomF32(N * K, 12);
    const bias = randomF32(N, 13);
    const sentinel = new Float32Array(M * ld).fill(-7.25);
    const tx = gpu.upload('x', x, [M, K], 'f32');
    const tw = gpu.upload('w', w, [N, K], 'f32');
    const tb = gpu.upload('b', bias, [N], 'f32');
    const want = ref.matmul(x, w, M, N, K, bias);
    for (const variant of VARIANTS) {
      const y = gpu.upload('qkv', sentinel, [M, ld], 'f32');
      const rec = new Recorder(gpu, 'column range');
      matmul(rec, tx, tw, tb, y, { variant, yCol: col, yRowStride: ld });
      rec.submit();
      const got = await gpu.readF32(y);
      const slice = new Float32Array(M * N);
      let untouched = true;
      for (let m = 0; m < M; m++) {
        for (let c = 0; c < ld; c++) {
          if (c >= col && c < col + N) slice[m * N + c - col] = got[m * ld + c];
          else if (got[m * ld + c] !== -7.25) untouched = false;
        }
      }
      expect(relL2(slice, want), variant).toBeLessThan(TOL);
      expect(untouched, `${variant} wrote outside its columns`).toBe(true);
      gpu.release(y);
    }
    gpu.release(tx, tw, tb);
  });

  it('reads x from a row view that does not start on a 256-byte boundary', async () => {
    const gpu = await testGpu();
    const [rows, M, N, K] = [9, 5, 19, 24];
    const all = randomF32(rows * K, 21);
    const w = randomF32(N * K, 22);
    const tall = gpu.upload('x.all', all, [rows, K], 'f32');
    const view = tall.rows(3, M); // byte offset 3 * 96 = 288
    const tw = gpu.upload('w', w, [N, K], 'f32');
    const want = ref.matmul(all.subarray(3 * K, (3 + M) * K), w, M, N, K);
    const rec = new Recorder(gpu, 'view');
    const outs = VARIANTS.map((variant) => {
      const y = gpu.tensor(`y.${variant}`, [M, N], 'f32');
      matmul(rec, view, tw, undefined, y, { variant });
      return y;
    });
    rec.submit();
    for (const [i, y] of outs.entries()) expect(relL2(await gpu.readF32(y), want), VARIANTS[i]).toBeLessThan(TOL);
    gpu.release(tall, tw, ...outs);
  });

  for (const dtype of ['f32', 'f16'] as const) {
    it(`splits a RowBlockedMatrix into per-block dispatches (64 KiB blocks, ${dtype}, odd K for f16)`, async () => {
      const gpu = await testGpu();
      const [N, K] = dtype === 'f32' ? [1000, 64] : [700, 65]; // f32: 4 blocks of 256 rows; f16: 2 blocks of 504
      const w = randomF32(N * K, 31, 0.5);
      const bias = randomF32(N, 32);
      const wm = gpu.matrix(`w.blocked.${dtype}`, N, K, dtype, 64 * 1024);
      expect(wm.blocks.length).toBeGreaterThan(1);
      gpu.writeRows(wm, 0, dtype === 'f32' ? w : f32ToF16Bits(w));
      const wv = dtype === 'f32' ? w : ref.roundToF16(w);
      for (const M of [2, 5, 20]) {
        const x = randomF32(M * K, 33 + M);
        const tx = gpu.upload('x', x, [M, K], 'f32');
        const want = ref.matmul(x, wv, M, N, K, bias);
        const tb = gpu.upload('b', bias, [N], 'f32');
        const rec = new Recorder(gpu, 'blocked');
        const outs = (['gemm', 'gemv', 'tiled', 'splitk'] as const).map((variant) => {
          const y = gpu.tensor(`y.${variant}`, [M, N], 'f32');
          matmul(rec, tx, wm, tb, y, { variant, label: 'lm_head' });
          return y;
        });
        const auto = gpu.tensor('y.auto', [M, N], 'f32');
        matmul(rec, tx, wm, tb, auto, { label: 'lm_head' });
        rec.submit();
        for (const y of [...outs, auto]) expect(relL2(await gpu.readF32(y), want),
          `${y.label} M=${M}`).toBeLessThan(TOL);
        gpu.release(tx, tb, auto, ...outs);
      }
      for (const blk of wm.blocks) gpu.pool.destroy(blk.tensor.buffer);
    });
  }

  it('reads f16 weights as vec4<f16> too (f16Read "native", shader-f16 only)', async (ctx) => {
    const gpu = await testGpu();
    if (!gpu.caps.f16) ctx.skip('no shader-f16 on this adapter (the packed f16 path is tested above)');
    const [M, N, K] = [3, 40, 64];
    const x = randomF32(M * K, 41);
    const w = randomF32(N * K, 42);
    const tx = gpu.upload('x', x, [M, K], 'f32');
    const tw = gpu.upload('w', f32ToF16Bits(w), [N, K], 'f16');
    const want = ref.matmul(x, ref.roundToF16(w), M, N, K);
    const rec = new Recorder(gpu, 'native f16');
    const outs = (['gemm', 'gemv', 'splitk'] as const).map((variant) => {
      const y = gpu.tensor(`y.${variant}`, [M, N], 'f32');
      matmul(rec, tx, tw, undefined, y, { variant, f16Read: 'native' });
      return y;
    });
    rec.submit();
    for (const y of outs) expect(relL2(await gpu.readF32(y), want), y.label).toBeLessThan(TOL);
    gpu.release(tx, tw, ...outs);
  });

  it('rejects bad shapes and in-place outputs with messages naming the tensors', async () => {
    const gpu = await testGpu();
    const x = gpu.tensor('act.x', [3, 10], 'f32');
    const w = gpu.tensor('layer.w', [6, 8], 'f32');
    const y = gpu.tensor('act.y', [3, 6], 'f32');
    const rec = new Recorder(gpu, 'bad');
    expect(() => matmul(rec, x, w, undefined, y)).toThrow(/act\.x.*K=8/);
    const w10 = gpu.tensor('layer.w10', [6, 10], 'f32');
    const small = gpu.tensor('act.small', [3, 5], 'f32');
    expect(() => matmul(rec, x, w10, undefined, small, { label: 'proj' })).toThrow(/proj: y "act\.small"/);
    expect(() => matmul(rec, x, w10, undefined, x, { label: 'inplace' })).toThrow(/shares a buffer/);
    gpu.release(x, w, y, w10, small);
  });
});

describe('batched matmul C[i] = alpha · A[i]·B[i]ᵀ', () => {
  it('matches the reference, with B shared by groups of batches (GQA), for every variant', async () => {
    const gpu = await testGpu();
    const [batch, batchB, M, N, K, alpha] = [4, 2, 5, 9, 64, 0.125];
    const a = randomF32(batch * M * K, 51);
    const b = randomF32(batchB * N * K, 52);
    const ta = gpu.upload('a', a, [batch, M, K], 'f32');
    const tb = gpu.upload('b', b, [batchB, N, K], 'f32');
    const want = ref.batchedMatmul(a, b, batch, batchB, M, N, K, alpha);
    const rec = new Recorder(gpu, 'batched');
    const outs = VARIANTS.map((variant) => {
      const c = gpu.tensor(`c.${variant}`, [batch, M, N], 'f32');
      batchedMatmul(rec, ta, tb, c, { alpha, variant });
      return c;
    });
    rec.submit();
    for (const [i, c] of outs.entries()) expect(relL2(await gpu.readF32(c), want), VARIANTS[i]).toBeLessThan(TOL);
    gpu.release(ta, tb, ...outs);
  });

  it('reads per-head slices of a fused QKV activation through strides (attention scores)', async () => {
    const gpu = await testGpu();
    const [T, H, D] = [11, 3, 16];
    const width = 3 * H * D;
    const qkv = randomF32(T * width, 61);
    const tq = gpu.upload('qkv', qkv, [T, width], 'f32');
    // Reference: split heads on the host.
    const q = new Float32Array(H * T * D);
    const k = new Float32Array(H * T * D);
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < T; t++) {
        for (let d = 0; d < D; d++) {
          q[(h * T + t) * D + d] = qkv[t * width + h * D + d];
          k[(h * T + t) * D + d] = qkv[t * width + H * D + h * D + d];
        }
      }
    }
    const want = ref.batchedMatmul(q, k, H, H, T, T, D, 0.25);
    const rec = new Recorder(gpu, 'strided');
    const outs = VARIANTS.map((variant) => {
      const s = gpu.tensor(`scores.${variant}`, [H, T, T], 'f32');
      matmulStrided(rec, {
        x: tq, w: tq, y: s, M: T, N: T, K: D, batch: H,
        ldx: width, ldw: width, batchStrideX: D, batchStrideW: D, wOffset: H * D, alpha: 0.25,
      }, { variant });
      return s;
    });
    rec.submit();
    for (const [i, s] of outs.entries()) expect(relL2(await gpu.readF32(s), want), VARIANTS[i]).toBeLessThan(TOL);
    gpu.release(tq, ...outs);
  });
});

describe('matmul without shader-f16 and subgroups (fallback kernels)', () => {
  let plain: Gpu | undefined;
  afterAll(() => {
    const errors = plain ? [...plain.errors] : [];
    plain?.destroy();
    if (errors.length) throw new Error(`GPU errors: ${errors.join('; ')}`);
  });

  // Only the column-lane kernels change without subgroups (tiled / splitk / naive / regblock never use them, and
  // the packed-f16 path never needs shader-f16), so these run gemm and gemv only.
  for (const [M, N, K] of [[1, 70, 64], [20, 33, 40], [9, 17, 13]] as const) {
    it(`gemm and gemv match with f32 and f16 weights: M=${M} N=${N} K=${K}`, async () => {
      plain ??= await Gpu.create({ disableFeatures: ['shader-f16', 'subgroups'] });
      expect(plain.caps.f16).toBe(false);
      expect(plain.caps.subgroups).toBe(false);
      expect(columnLaneConfig(plain).subgroups).toBe(false);
      for (const dtype of ['f32', 'f16'] as const) {
        const x = randomF32(M * K, 71 + K);
        const w = randomF32(N * K, 72 + K);
        const bias = randomF32(N, 73);
        const tx = plain.upload('x', x, [M, K], 'f32');
        const tw = uploadW(plain, w, N, K, dtype);
        const tb = plain.upload('b', bias, [N], 'f32');
        const want = ref.matmul(x, tw.values, M, N, K, bias);
        const rec = new Recorder(plain, 'fallback');
        const outs = (['gemm', 'gemv'] as const).map((variant) => {
          const y = plain!.tensor(`y.${variant}`, [M, N], 'f32');
          matmul(rec, tx, tw.t, tb, y, { variant });
          return y;
        });
        rec.submit();
        for (const y of outs) expect(relL2(await plain.readF32(y), want), `${y.label} ${dtype}`).toBeLessThan(TOL);
        plain.release(tx, tw.t, tb, ...outs);
      }
    });
  }
});
