/**
 * Fused matmul epilogues (src/ops/matmul-epilogue.ts) against CPU references composed from the plain matmul,
 * GELU and silu·mul references: bias+GELU, output segments (fused QKV) and GLU (gate/up + SiLU), for f32, f16
 * and INT8 weights, every kernel variant, awkward sizes (odd widths, K not a multiple of 8 or of the group),
 * and row-blocked weights whose blocks end inside a segment.
 *
 * Tolerance: relative L2 1e-5 (f32 accumulation only, as in matmul.test.ts; the f16 / INT8 references use the
 * rounded / dequantised weights). W8A8 is compared with the float-activation reference at 2e-2 (its activation
 * quantisation error), as in matmul-int8.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { f16BitsToF32, f32ToF16Bits, Recorder, type Gpu, type RowBlockedMatrix, type Tensor } from '../../src/gpu';
import { matmul, type MatmulVariant } from '../../src/ops/matmul';
import { gluFused, linear, linearGlu, linearSplit, splitViews } from '../../src/ops/linear';
import { Int8Matrix, matmulInt8, uploadInt8Matrix, type Int8Variant } from '../../src/ops/matmul-int8';
import * as refEw from '../../src/ops/reference/elementwise';
import * as ref from '../../src/ops/reference/matmul';
import { quantizeRows } from '../../src/weights/quant';
import { randomF32, relL2, testGpu } from '../helpers/gpu';

const TOL = 1e-5;
const FLOAT_VARIANTS: MatmulVariant[] = ['gemm', 'gemv', 'tiled', 'splitk', 'naive', 'regblock'];
const INT8_VARIANTS: Partial<Int8Variant>[] = [
  { mode: 'w8', k8: false, rows: 1 }, { mode: 'w8', k8: false, rows: 4 }, { mode: 'w8', k8: true, rows: 16 },
  { mode: 'w8a8', rows: 2 },
];
const G = 32;

type Kind = 'f32' | 'f16' | 'int8';

/** A weight matrix of the given kind plus the float values the GPU really multiplies by. */
function weights(gpu: Gpu, kind: Kind, N: number, K: number, seed: number,
  maxBlockBytes?: number): { w: RowBlockedMatrix; values: Float32Array } {
  const w = randomF32(N * K, seed, 0.5);
  if (kind === 'int8') {
    const { q, scales } = quantizeRows(w, N, K, G);
    const s = f16BitsToF32(scales);
    const values = new Float32Array(N * K);
    for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) values[n * K + k] = q[n * K + k] *
      s[n * Math.ceil(K / G) + Math.floor(k / G)];
    return { w: uploadInt8Matrix(gpu, `w.${kind}`, q, scales, N, K, G, maxBlockBytes), values };
  }
  const m = gpu.matrix(`w.${kind}`, N, K, kind, maxBlockBytes);
  gpu.writeRows(m, 0, kind === 'f32' ? w : f32ToF16Bits(w));
  return { w: m, values: kind === 'f32' ? w : ref.roundToF16(w) };
}

function destroy(gpu: Gpu, w: RowBlockedMatrix): void {
  if (w instanceof Int8Matrix) for (const b of w.qblocks) gpu.pool.destroy(b.q.buffer), gpu.pool.destroy(b.s.buffer);
  else for (const b of w.blocks) gpu.pool.destroy(b.tensor.buffer);
}

/** Every kernel the kind has: float variants by name, INT8 variants by options (W8A8 flagged). */
type RunKernel = (rec: Recorder, x: Tensor, w: RowBlockedMatrix, b: Tensor | undefined, y: Tensor, ep: object) => void;
function kernels(kind: Kind): { name: string; run: RunKernel; approx: boolean }[] {
  if (kind === 'int8') {
    return INT8_VARIANTS.map((variant) => ({
      name: JSON.stringify(variant),
      approx: variant.mode === 'w8a8',
      run: (rec, x, w, b, y, ep) => matmulInt8(rec, x, w as Int8Matrix, b, y, { variant, epilogue: ep, label: 'int8' }),
    }));
  }
  return FLOAT_VARIANTS.map((variant) => ({
    name: variant,
    approx: false,
    run: (rec, x, w, b, y, ep) => matmul(rec, x, w, b, y, { variant, epilogue: ep, label: variant }),
  }));
}

function columns(y: Float32Array, M: number, N: number, c0: number, c1: number): Float32Array {
  const out = new Float32Array(M * (c1 - c0));
  for (let m = 0; m < M; m++) out.set(y.subarray(m * N + c0, m * N + c1), m * (c1 - c0));
  return out;
}

describe('matmul epilogue: bias + GELU', () => {
  for (const kind of ['f32', 'f16', 'int8'] as const) {
    for (const [M, N, K] of [[1, 65, 64], [7, 33, 100], [130, 65, 96]] as const) {
      it(`${kind} M=${M} N=${N} K=${K}: every kernel equals gelu(x·Wᵀ + b)`, async () => {
        const gpu = await testGpu();
        const seed = 7 * M + 13 * N + K;
        const x = randomF32(M * K, seed, 1);
        const b = randomF32(N, seed + 2, 1);
        const w = weights(gpu, kind, N, K, seed + 1);
        const want = refEw.gelu(ref.matmul(x, w.values, M, N, K, b));
        const tx = gpu.upload('x', x, [M, K], 'f32');
        const tb = gpu.upload('b', b, [N], 'f32');
        const rec = new Recorder(gpu, 'gelu epilogue');
        const ks = kernels(kind);
        const ys = ks.map((k) => {
          const y = gpu.tensor(`y.${k.name}`, [M, N], 'f32');
          k.run(rec, tx, w.w, tb, y, { activation: 'gelu' });
          return y;
        });
        rec.submit();
        for (const [i, y] of ys.entries()) {
          const err = relL2(await gpu.readF32(y), want);
          expect(err, `${ks[i].name}: rel-L2 ${err}`).toBeLessThan(ks[i].approx ? 2e-2 : TOL);
        }
        gpu.release(tx, tb, ...ys);
        destroy(gpu, w.w);
      });
    }
  }
});

describe('matmul epilogue: output segments (fused QKV)', () => {
  for (const kind of ['f32', 'f16', 'int8'] as const) {
    for (const blocked of [false, true]) {
      it(`${kind}${blocked ? ', row blocks ending inside segments' : ''}: q, k, v equal the three ` +
        `separate products`, async () => {
        const gpu = await testGpu();
        const [K, widths] = [72, [37, 20, 23]];
        const N = widths.reduce((a, c) => a + c, 0);
        // 17 rows per block: blocks end at rows 17, 34 (segment 0), 51 (segment 1), 68 (segment 2)
        const rowBytes = kind === 'int8' ? Math.ceil(K / G) * G : K * (kind === 'f16' ? 2 : 4);
        const w = weights(gpu, kind, N, K, 99, blocked ? 17 * rowBytes : undefined);
        if (blocked) expect(w.w.blocks.length).toBeGreaterThan(2);
        const b = randomF32(N, 98, 1);
        const tb = gpu.upload('b', b, [N], 'f32');
        for (const M of [1, 5, 17]) {
          const x = randomF32(M * K, 100 + M, 1);
          const want = ref.matmul(x, w.values, M, N, K, b);
          const tx = gpu.upload('x', x, [M, K], 'f32');
          const ks = kernels(kind);
          const rec = new Recorder(gpu, 'segments');
          const outs = ks.map(() => splitViews(gpu, 'qkv', M, widths));
          ks.forEach((k, i) => k.run(rec, tx, w.w, tb, outs[i][0],
            { segments: [{ col: 37, y: outs[i][1] }, { col: 57, y: outs[i][2] }] }));
          const viaSplit = splitViews(gpu, 'qkv.auto', M, widths);
          linearSplit(rec, tx, w.w, tb, viaSplit, { label: 'auto' });
          rec.submit();
          for (const [i, views] of [...outs, viaSplit].entries()) {
            const name = ks[i]?.name ?? 'linearSplit';
            let c0 = 0;
            for (const [s, t] of views.entries()) {
              const err = relL2(await gpu.readF32(t), columns(want, M, N, c0, c0 + widths[s]));
              expect(err, `${name} M=${M} segment ${s}: rel-L2 ${err}`).toBeLessThan(ks[i]?.approx ? 2e-2 : TOL);
              c0 += widths[s];
            }
          }
          gpu.release(tx, ...outs.map((v) => v[0]), viaSplit[0]);
        }
        gpu.release(tb);
        destroy(gpu, w.w);
      });
    }
  }

  it('rejects segments outside the buffer, out of order, or of the wrong width', async () => {
    const gpu = await testGpu();
    const w = weights(gpu, 'f32', 30, 16, 5);
    const x = gpu.upload('x', randomF32(32, 6), [2, 16], 'f32');
    const [a, b2, c] = splitViews(gpu, 'seg', 2, [10, 10, 10]);
    const other = gpu.tensor('other', [2, 10], 'f32');
    const rec = new Recorder(gpu, 'bad segments');
    expect(() => matmul(rec, x, w.w, undefined, a, { epilogue: { segments: [{ col: 10, y: other },
      { col: 20, y: c }] } })).toThrow(/not in the output buffer/);
    expect(() => matmul(rec, x, w.w, undefined, a, { epilogue: { segments: [{ col: 20, y: b2 },
      { col: 10, y: c }] } })).toThrow(/in order/);
    expect(() => matmul(rec, x, w.w, undefined, a, { epilogue: { segments: [{ col: 12, y: b2 },
      { col: 20, y: c }] } })).toThrow(/expected \[2, 8\]/);
    expect(() => linearSplit(rec, x, w.w, undefined, [a, b2], { label: 'short' })).toThrow(/do not cover/);
    rec.submit();
    gpu.release(x, a, other);
    destroy(gpu, w.w);
  });
});

describe('matmul epilogue: GLU silu(x·gateᵀ) ⊙ (x·upᵀ)', () => {
  for (const kind of ['f32', 'f16', 'int8'] as const) {
    for (const [M, F, K] of [[1, 33, 64], [4, 65, 100], [20, 7, 2048]] as const) {
      const withBias = M === 4;
      it(`${kind} M=${M} F=${F} K=${K}${withBias ? ' + bias' : ''}: fused kernels and linearGlu equal the ` +
        `reference`, async () => {
        const gpu = await testGpu();
        const seed = M * 31 + F * 7 + K;
        const x = randomF32(M * K, seed, 1);
        const w = weights(gpu, kind, 2 * F, K, seed + 1);
        const b = withBias ? randomF32(2 * F, seed + 2, 1) : undefined;
        const tb = b && gpu.upload('b', b, [2 * F], 'f32');
        const both = ref.matmul(x, w.values, M, 2 * F, K, b);
        const want = refEw.siluMul(columns(both, M, 2 * F, 0, F), columns(both, M, 2 * F, F, 2 * F));
        const tx = gpu.upload('x', x, [M, K], 'f32');
        const fused = kernels(kind).filter((k) => kind === 'int8' || k.name === 'gemm' || k.name === 'gemv');
        const rec = new Recorder(gpu, 'glu');
        const ys = fused.map((k) => {
          const y = gpu.tensor(`y.${k.name}`, [M, F], 'f32');
          k.run(rec, tx, w.w, tb, y, { gluRows: F });
          return y;
        });
        const auto = gpu.tensor('y.linearGlu', [M, F], 'f32');
        linearGlu(rec, tx, w.w, tb, auto, { label: 'glu' });
        rec.submit();
        for (const [i, y] of [...ys, auto].entries()) {
          const err = relL2(await gpu.readF32(y), want);
          expect(err, `${fused[i]?.name ?? 'linearGlu'}: rel-L2 ${err}`).toBeLessThan(fused[i]?.approx ? 2e-2 : TOL);
        }
        gpu.release(tx, auto, ...ys, ...(tb ? [tb] : []));
        destroy(gpu, w.w);
      });
    }
  }

  it('falls back to a split product + silu·mul when [gate; up] spans several bindings, and refuses to fuse on ' +
    'tiled kernels', async () => {
    const gpu = await testGpu();
    const [M, F, K] = [3, 40, 24];
    const x = randomF32(M * K, 1, 1);
    const w = weights(gpu, 'f32', 2 * F, K, 2, 16 * K * 4); // 16 rows per block: gate row n and up row n + 40 apart
    expect(gluFused(gpu, w.w, M)).toBe(false);
    const both = ref.matmul(x, w.values, M, 2 * F, K);
    const want = refEw.siluMul(columns(both, M, 2 * F, 0, F), columns(both, M, 2 * F, F, 2 * F));
    const tx = gpu.upload('x', x, [M, K], 'f32');
    const y = gpu.tensor('y', [M, F], 'f32');
    const rec = new Recorder(gpu, 'glu fallback');
    linearGlu(rec, tx, w.w, undefined, y, { label: 'glu' });
    expect(() => linear(rec, tx, w.w, undefined, y, { epilogue: { gluRows: F } })).toThrow(/one binding/);
    const single = weights(gpu, 'f32', 2 * F, K, 2);
    expect(() => matmul(rec, tx, single.w, undefined, y, { variant: 'tiled',
      epilogue: { gluRows: F } })).toThrow(/cannot fuse/);
    rec.submit();
    expect(relL2(await gpu.readF32(y), want)).toBeLessThan(TOL);
    gpu.release(tx, y);
    destroy(gpu, w.w);
    destroy(gpu, single.w);
  });
});

