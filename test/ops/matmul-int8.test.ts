/**
 * INT8 matmul (weight-only and W8A8, with and without the dot4I8Packed builtins, gemv and gemm row counts),
 * activation quantisation and INT8 embedding gather against the CPU references, on fresh seeded random inputs
 * at awkward sizes.
 *
 * Tolerances (rel-L2 over the whole output):
 *   weight-only vs x · dequant(W)ᵀ in f64:                   1e-5 (only f32 accumulation error, as for f32 matmul)
 *   W8A8 vs the same product with the GPU's own quantised
 *   activations (integer group sums are exact):              1e-5
 *   W8A8 vs float (f32 x · dequant(W)ᵀ):                     reported; asserted < 2e-2 (activation rounding)
 *   activation quantisation vs the CPU:                      scales rel 1e-6, q off by at most 1 in ≤ 0.1 %
 *   embedding gather:                                        bit-exact (one f32 product per element)
 * K not a multiple of G: the last group is shorter; the GPU rows are zero-padded to whole groups (K = 50, 80,
 * 200, 1000 below).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { f16BitsToF32, Gpu, Recorder, type Tensor } from '../../src/gpu';
import {
  chooseInt8Variant, embedInt8, Int8Matrix, matmulInt8, quantizeActivations, quantizedActivationWords, uploadInt8Matrix,
  type Int8Variant,
} from '../../src/ops/matmul-int8';
import * as ref from '../../src/ops/reference/matmul-int8';
import { quantizeActivations as quantizeActsCpu, quantizeRows } from '../../src/weights/quant';
import { randomF32, relL2, testGpu } from '../helpers/gpu';

const TOL = 1e-5;

/**
 * Variants every shape runs: weight-only k32 (shifts and the unpack4xI8 builtin) and k8, W8A8 (dot4I8Packed and
 * shifts), at the gemv row count for M ≤ 8 (else 16) and at 16 / 1 rows.
 */
function variants(gpu: Gpu, M: number): Int8Variant[] {
  const r = M <= 8 ? chooseInt8Variant(gpu, M).rows : 16;
  const alt = M <= 8 ? 16 : 1;
  const dot4 = gpu.caps.packedDot4;
  const v: Int8Variant[] = [
    { mode: 'w8', dot4: false, rows: r }, { mode: 'w8', dot4: false, rows: alt },
    { mode: 'w8', dot4: false, rows: r, k8: true }, { mode: 'w8', dot4: false, rows: alt, k8: true },
    { mode: 'w8a8', dot4: false, rows: r },
  ];
  if (dot4) v.push({ mode: 'w8', dot4: true, rows: r }, { mode: 'w8a8', dot4: true, rows: r },
    { mode: 'w8a8', dot4: true, rows: alt });
  return v;
}

interface Problem { x: Float32Array; q: Int8Array; scales: Uint16Array; bias?: Float32Array }

function problem(M: number, N: number, K: number, G: number, seed: number, withBias: boolean): Problem {
  const w = randomF32(N * K, seed + 1, 0.5);
  // A few rows with a much larger range, and one all-zero row, so scales differ strongly between rows/groups.
  for (let n = 0; n < N; n += 5) for (let k = 0; k < K; k += 3) w[n * K + k] *= 8;
  if (N > 2) w.fill(0, K, 2 * K);
  const { q, scales } = quantizeRows(w, N, K, G);
  return { x: randomF32(M * K, seed, 1), q, scales, bias: withBias ? randomF32(N, seed + 2, 2) : undefined };
}

/** Runs quantizeActivations on the GPU and reads back (q [M,K] unpadded, scales [M, groups]). */
async function gpuActivations(gpu: Gpu, tx: Tensor, M: number, K: number, G: number,
  dot4: boolean): Promise<{ q: Int8Array; s: Float32Array }> {
  const out = gpu.tensor('xq', [quantizedActivationWords(M, K, G)], 'u32');
  const rec = new Recorder(gpu, 'quantize');
  const qa = quantizeActivations(rec, tx, out, { M, K, groupSize: G, dot4 });
  rec.submit();
  const words = await gpu.readU32(out);
  gpu.release(out);
  const bytes = new Int8Array(words.buffer, words.byteOffset, qa.sOff * 4);
  const q = new Int8Array(M * K);
  for (let m = 0; m < M; m++) q.set(bytes.subarray(m * qa.ldq * 4, m * qa.ldq * 4 + K), m * K);
  const s = new Float32Array(words.buffer.slice(words.byteOffset + qa.sOff * 4,
    words.byteOffset + (qa.sOff + M * Math.ceil(K / G)) * 4));
  return { q, s };
}

// [M, N, K, G]
const SHAPES: [number, number, number, number][] = [
  [1, 1, 32, 32], [3, 7, 80, 64], [7, 65, 200, 64], [65, 1000, 128, 128], [1, 1000, 2048, 64], [8, 65, 96, 32],
  [65, 7, 50, 32], [17, 33, 1000, 128], [1, 7, 2048, 128], [3, 65, 64, 64],
];

describe('matmulInt8 y = x·dequant(W)ᵀ + b', () => {
  for (const [M, N, K, G] of SHAPES) {
    const withBias = (M + N) % 2 === 0;
    it(`M=${M} N=${N} K=${K} G=${G}${withBias ? ' + bias' : ''}: every variant matches its reference`, async () => {
      const gpu = await testGpu();
      const p = problem(M, N, K, G, M * 7919 + N * 31 + K, withBias);
      const w = uploadInt8Matrix(gpu, 'w', p.q, p.scales, N, K, G);
      const tx = gpu.upload('x', p.x, [M, K], 'f32');
      const tb = p.bias && gpu.upload('b', p.bias, [N], 'f32');
      const wantW8 = ref.matmulInt8(p.x, p.q, p.scales, M, N, K, G, p.bias);
      const vs = variants(gpu, M);
      const rec = new Recorder(gpu, 'int8 test');
      const outs = vs.map((variant, i) => {
        const y = gpu.tensor(`y${i}`, [M, N], 'f32');
        matmulInt8(rec, tx, w, tb, y, { variant, label: `mm.${i}` });
        return y;
      });
      rec.submit();
      const scalesF32 = f16BitsToF32(p.scales);
      const acts = new Map<boolean, Float32Array>();
      for (const [i, y] of outs.entries()) {
        const v = vs[i];
        const got = await gpu.readF32(y);
        if (v.mode === 'w8') {
          const err = relL2(got, wantW8);
          expect(err, `${JSON.stringify(v)}: rel-L2 ${err}`).toBeLessThan(TOL);
        } else {
          let want = acts.get(v.dot4);
          if (!want) {
            const a = await gpuActivations(gpu, tx, M, K, G, v.dot4);
            want = ref.matmulW8A8(a.q, a.s, p.q, scalesF32, M, N, K, G, p.bias);
            acts.set(v.dot4, want);
          }
          const err = relL2(got, want);
          expect(err, `${JSON.stringify(v)}: rel-L2 ${err} vs the same activation quantisation`).toBeLessThan(TOL);
          const vsFloat = relL2(got, wantW8);
          expect(vsFloat, `${JSON.stringify(v)}: rel-L2 ${vsFloat} vs float activations`).toBeLessThan(2e-2);
        }
      }
      gpu.release(tx, ...(tb ? [tb] : []), ...outs);
      for (const b of w.qblocks) gpu.pool.destroy(b.q.buffer), gpu.pool.destroy(b.s.buffer);
    });
  }

  it('row-blocked weights (several blocks), bias, and a column range of a wider output', async () => {
    const gpu = await testGpu();
    const [M, N, K, G] = [5, 300, 160, 64];
    const p = problem(M, N, K, G, 99, true);
    const w = uploadInt8Matrix(gpu, 'wblk', p.q, p.scales, N, K, G, 64 * 192); // 64 rows of 192 bytes per block
    expect(w.qblocks.length).toBe(5);
    const tx = gpu.upload('x', p.x, [M, K], 'f32');
    const tb = gpu.upload('b', p.bias!, [N], 'f32');
    const ld = N + 20;
    const sentinel = new Float32Array(M * ld).fill(7);
    const want = ref.matmulInt8(p.x, p.q, p.scales, M, N, K, G, p.bias);
    for (const mode of ['w8', 'w8a8'] as const) {
      const y = gpu.upload('y', sentinel, [M, ld], 'f32');
      const rec = new Recorder(gpu, 'blocks');
      matmulInt8(rec, tx, w, tb, y, { yCol: 13, yRowStride: ld, variant: { mode } });
      rec.submit();
      const got = await gpu.readF32(y);
      const cols = new Float32Array(M * N);
      for (let m = 0; m < M; m++) {
        cols.set(got.subarray(m * ld + 13, m * ld + 13 + N), m * N);
        for (let c = 0; c < ld; c++) if (c < 13 || c >= 13 + N) expect(got[m * ld + c]).toBe(7);
      }
      expect(relL2(cols, want), mode).toBeLessThan(mode === 'w8' ? TOL : 2e-2);
      gpu.release(y);
    }
    gpu.release(tx, tb);
  });

  it('rejects bad shapes and aliasing', async () => {
    const gpu = await testGpu();
    const p = problem(1, 8, 64, 64, 5, false);
    const w = uploadInt8Matrix(gpu, 'w', p.q, p.scales, 8, 64, 64);
    const x = gpu.tensor('x', [2, 60], 'f32');
    const y = gpu.tensor('y', [2, 8], 'f32');
    const rec = new Recorder(gpu, 'errors');
    expect(() => matmulInt8(rec, x, w, undefined, y)).toThrow(/whole number of rows/);
    expect(() => matmulInt8(rec, gpu.tensor('x2', [4, 64], 'f32'), w, undefined, y)).toThrow(/needs/);
    expect(() => Int8Matrix.create(gpu, 'bad', 4, 64, 48)).toThrow(/group size/);
    rec.submit();
    gpu.release(x, y);
  });
});

describe('quantizeActivations', () => {
  for (const [M, K, G] of [[1, 2048, 64], [7, 80, 64], [65, 200, 32], [3, 50, 128]] as const) {
    it(`M=${M} K=${K} G=${G}: matches the CPU quantisation`, async () => {
      const gpu = await testGpu();
      const x = randomF32(M * K, M + K, 3);
      x.fill(0, 0, Math.min(K, G)); // an all-zero group: scale 0, q 0
      const tx = gpu.upload('x', x, [M, K], 'f32');
      const want = quantizeActsCpu(x, M, K, G);
      for (const dot4 of gpu.caps.packedDot4 ? [true, false] : [false]) {
        const got = await gpuActivations(gpu, tx, M, K, G, dot4);
        expect(relL2(got.s, want.scales)).toBeLessThan(1e-6);
        let off = 0;
        for (let i = 0; i < got.q.length; i++) {
          const d = Math.abs(got.q[i] - want.q[i]);
          expect(d).toBeLessThanOrEqual(1);
          off += d;
        }
        expect(off).toBeLessThanOrEqual(Math.ceil(got.q.length / 1000));
        expect(Array.from(got.q.subarray(0, Math.min(K, G))).every((v) => v === 0)).toBe(true);
      }
      gpu.release(tx);
    });
  }
});

describe('embedInt8', () => {
  it('gathers and dequantises rows exactly, across row blocks, ids ≥ vocab → zeros', async () => {
    const gpu = await testGpu();
    const [vocab, d, G] = [301, 80, 32];
    const table = randomF32(vocab * d, 11, 0.3);
    const { q, scales } = quantizeRows(table, vocab, d, G);
    const ids = Uint32Array.from([0, 300, 5, 150, 301, 4000, 77, 150]);
    for (const block of [undefined, 40 * 96]) {
      const m = uploadInt8Matrix(gpu, 'emb', q, scales, vocab, d, G, block);
      if (block) expect(m.qblocks.length).toBe(Math.ceil(vocab / 40));
      const tid = gpu.upload('ids', ids, [ids.length], 'u32');
      const init = randomF32((ids.length + 3) * d, 12);
      const out = gpu.upload('out', init, [ids.length + 3, d], 'f32');
      const rec = new Recorder(gpu, 'embed');
      embedInt8(rec, m, tid, out, { dstRow0: 2 });
      rec.submit();
      const got = await gpu.readF32(out);
      const want = ref.embedInt8(q, scales, vocab, d, G, ids, init, 2);
      expect(Array.from(got)).toEqual(Array.from(want));
      gpu.release(tid, out);
    }
  });
});

describe('without subgroups', () => {
  let plain: Gpu | undefined;
  afterAll(() => plain?.destroy());
  for (const [M, N, K, G] of [[1, 70, 64, 64], [20, 33, 80, 32], [9, 17, 200, 128]] as const) {
    it(`weight-only and W8A8 match: M=${M} N=${N} K=${K} G=${G}`, async () => {
      plain ??= await Gpu.create({ disableFeatures: ['subgroups'] });
      expect(plain.caps.subgroups).toBe(false);
      const p = problem(M, N, K, G, 3 * M + K, true);
      const w = uploadInt8Matrix(plain, 'w', p.q, p.scales, N, K, G);
      const tx = plain.upload('x', p.x, [M, K], 'f32');
      const tb = plain.upload('b', p.bias!, [N], 'f32');
      const want = ref.matmulInt8(p.x, p.q, p.scales, M, N, K, G, p.bias);
      // The automatic choice plus the other kernels at its row count (TM = 16 without subgroups compiles slowly).
      const r = chooseInt8Variant(plain, M).rows;
      const vs: Int8Variant[] = [chooseInt8Variant(plain, M), { mode: 'w8', dot4: false, rows: r, k8: M <= 8 },
        { mode: 'w8a8', dot4: false, rows: r }, ...(plain.caps.packedDot4 ?
          [{ mode: 'w8a8', dot4: true, rows: r } as const] : [])];
      for (const v of vs) {
        const y = plain.tensor('y', [M, N], 'f32');
        const rec = new Recorder(plain, 'plain');
        matmulInt8(rec, tx, w, tb, y, { variant: v });
        rec.submit();
        const err = relL2(await plain.readF32(y), want);
        expect(err, JSON.stringify(v)).toBeLessThan(v.mode === 'w8' ? TOL : 2e-2);
        plain.release(y);
      }
      plain.release(tx, tb);
    });
  }
});
