/**
 * 4-bit matmul (the INT8 kernels compiled with INT4: k32 for gemv row counts, k8 for gemm ones, with and without
 * subgroups) and the 4-bit embedding gather against the CPU references (src/ops/reference/matmul-int4.ts), on
 * fresh seeded random inputs at awkward sizes: K odd or not a multiple of G (short last group, codes padded with
 * q = 0), an odd number of groups (the scale rows are padded to even), N not a multiple of the lane count.
 *
 * Tolerances (rel-L2 over the whole output):
 *   matmul vs x · dequant4(W)ᵀ in f64:  1e-5 (only f32 accumulation error, as for INT8)
 *   embedding gather:                   bit-exact (one f32 product per element)
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Gpu, Recorder } from '../../src/gpu';
import { linear } from '../../src/ops/linear';
import { Int4Matrix, uploadInt4Matrix } from '../../src/ops/matmul-int4';
import { chooseInt8Variant, embedInt8, matmulInt8, type Int8Variant } from '../../src/ops/matmul-int8';
import * as ref from '../../src/ops/reference/matmul-int4';
import { quantizeRows4 } from '../../src/weights/quant';
import { randomF32, relL2, testGpu } from '../helpers/gpu';

const TOL = 1e-5;

function problem(M: number, N: number, K: number, G: number, seed: number, withBias: boolean) {
  const w = randomF32(N * K, seed + 1, 0.5);
  // Rows with a much larger range and one all-zero row: scales differ strongly between rows and groups.
  for (let n = 0; n < N; n += 5) for (let k = 0; k < K; k += 3) w[n * K + k] *= 8;
  if (N > 2) w.fill(0, K, 2 * K);
  const { packed, scales } = quantizeRows4(w, N, K, G);
  return { x: randomF32(M * K, seed, 1), packed, scales, bias: withBias ? randomF32(N, seed + 2, 2) : undefined };
}

// [M, N, K, G]
const SHAPES: [number, number, number, number][] = [
  [1, 1, 32, 32], [3, 7, 80, 64], [7, 65, 200, 64], [65, 100, 128, 128], [1, 1000, 2048, 32], [8, 65, 96, 32],
  [65, 7, 50, 32], [17, 33, 1000, 128], [1, 7, 2047, 64], [2, 9, 33, 32],
];

function run(gpu: Gpu, M: number, N: number, K: number, G: number, vs: Int8Variant[], blockBytes?: number) {
  return async () => {
    const withBias = (M + N) % 2 === 0;
    const p = problem(M, N, K, G, M * 7919 + N * 31 + K, withBias);
    const w = uploadInt4Matrix(gpu, 'w4', p.packed, p.scales, N, K, G, blockBytes);
    const tx = gpu.upload('x', p.x, [M, K], 'f32');
    const tb = p.bias && gpu.upload('b', p.bias, [N], 'f32');
    const want = ref.matmulInt4(p.x, p.packed, p.scales, M, N, K, G, p.bias);
    const rec = new Recorder(gpu, 'int4 test');
    const outs = vs.map((variant, i) => {
      const y = gpu.tensor(`y${i}`, [M, N], 'f32');
      matmulInt8(rec, tx, w, tb, y, { variant, label: `mm4.${i}` });
      return y;
    });
    rec.submit();
    for (const [i, y] of outs.entries()) {
      const err = relL2(await gpu.readF32(y), want);
      expect(err, `${JSON.stringify(vs[i])}: rel-L2 ${err}`).toBeLessThan(TOL);
    }
    gpu.release(tx, ...(tb ? [tb] : []), ...outs);
    for (const b of w.qblocks) gpu.pool.destroy(b.q.buffer), gpu.pool.destroy(b.s.buffer);
  };
}

describe('4-bit matmul y = x·dequant4(W)ᵀ + b', () => {
  for (const [M, N, K, G] of SHAPES) {
    it(`M=${M} N=${N} K=${K} G=${G}: k32 and k8 at the chosen and another row count`, async () => {
      const gpu = await testGpu();
      const r = chooseInt8Variant(gpu, M).rows;
      const alt = M <= 8 ? 16 : 1;
      const vs: Int8Variant[] = [
        { mode: 'w8', dot4: false, rows: r, k8: false }, { mode: 'w8', dot4: false, rows: alt, k8: false },
        { mode: 'w8', dot4: false, rows: r, k8: true }, { mode: 'w8', dot4: false, rows: alt, k8: true },
      ];
      await run(gpu, M, N, K, G, vs)();
    });
  }

  it('row-blocked weights (5 blocks)', async () => {
    const gpu = await testGpu();
    await run(gpu, 5, 300, 160, 32, [chooseInt8Variant(gpu, 5), { ...chooseInt8Variant(gpu, 20), rows: 4 }], 64 * 96)();
  });

  it('linear() dispatches on Int4Matrix; W8A8 and bad group sizes are refused', async () => {
    const gpu = await testGpu();
    const p = problem(2, 8, 64, 32, 5, false);
    const w = uploadInt4Matrix(gpu, 'w', p.packed, p.scales, 8, 64, 32);
    const x = gpu.upload('x', p.x, [2, 64], 'f32');
    const y = gpu.tensor('y', [2, 8], 'f32');
    const rec = new Recorder(gpu, 'linear4');
    linear(rec, x, w, undefined, y);
    expect(() => matmulInt8(rec, x, w, undefined, y, { variant: { mode: 'w8a8' } })).toThrow(/weight-only/);
    expect(() => Int4Matrix.create(gpu, 'bad', 4, 64, 48)).toThrow(/group size/);
    expect(() => w.writeQ(gpu, 0, new Uint8Array(33))).toThrow(/whole rows of 32 bytes/);
    rec.submit();
    expect(relL2(await gpu.readF32(y), ref.matmulInt4(p.x, p.packed, p.scales, 2, 8, 64, 32))).toBeLessThan(TOL);
    gpu.release(x, y);
  });
});

describe('4-bit embedding gather', () => {
  it('gathers and dequantises rows exactly, across row blocks, ids ≥ vocab → zeros', async () => {
    const gpu = await testGpu();
    const [vocab, d, G] = [301, 90, 32]; // 3 groups: odd, so the scale rows are padded
    const table = randomF32(vocab * d, 11, 0.3);
    const { packed, scales } = quantizeRows4(table, vocab, d, G);
    const ids = Uint32Array.from([0, 300, 5, 150, 301, 4000, 77, 150]);
    for (const block of [undefined, 40 * 48]) {
      const m = uploadInt4Matrix(gpu, 'emb4', packed, scales, vocab, d, G, block);
      if (block) expect(m.qblocks.length).toBe(Math.ceil(vocab / 40));
      const tid = gpu.upload('ids', ids, [ids.length], 'u32');
      const out = gpu.upload('out', randomF32(ids.length * d, 12), [ids.length, d], 'f32');
      const rec = new Recorder(gpu, 'embed4');
      embedInt8(rec, m, tid, out);
      rec.submit();
      expect(Array.from(await gpu.readF32(out))).toEqual(Array.from(ref.embedInt4(packed, scales, vocab, d, G, ids)));
      gpu.release(tid, out);
    }
  });
});

describe('4-bit without subgroups', () => {
  let plain: Gpu | undefined;
  afterAll(() => plain?.destroy());
  for (const [M, N, K, G] of [[1, 70, 64, 64], [20, 33, 80, 32], [9, 17, 200, 128]] as const) {
    it(`M=${M} N=${N} K=${K} G=${G}: the chosen kernel matches`, async () => {
      plain ??= await Gpu.create({ disableFeatures: ['subgroups'] });
      expect(plain.caps.subgroups).toBe(false);
      await run(plain, M, N, K, G, [chooseInt8Variant(plain, M)])();
    });
  }
});
