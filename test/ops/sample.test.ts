import { afterAll, describe, expect, it } from 'vitest';
import { Gpu, Recorder } from '../../src/gpu';
import { argmax, beamCandidates, topK, topKLogSoftmax, type TopKOptions } from '../../src/ops/sample';
import * as ref from '../../src/ops/reference/sample';
import { randomF32, rng, testGpu } from '../helpers/gpu';

let fallback: Promise<Gpu> | undefined;
function fallbackGpu(): Promise<Gpu> {
  fallback ??= Gpu.create({ disableFeatures: ['subgroups', 'shader-f16'] });
  return fallback;
}
afterAll(async () => { if (fallback) (await fallback).destroy(); });

/** Logits drawn from only `levels` distinct values, so ties are everywhere. */
function tiedLogits(n: number, seed: number, levels: number): Float32Array<ArrayBuffer> {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => Math.floor(r() * levels) * 0.5 - 3);
}

async function runTopK(gpu: Gpu, logits: Float32Array<ArrayBuffer>, vocab: number, k: number,
  o: Omit<TopKOptions, 'k'> & { bias?: Float32Array<ArrayBuffer> } = {}) {
  const rows = logits.length / vocab;
  const groups = o.flatten && rows > 1 ? 1 : rows;
  const tl = gpu.upload('logits', logits, [rows, vocab], 'f32');
  const tb = o.bias && gpu.upload('bias', o.bias, [rows], 'f32');
  const ti = gpu.tensor('idx', [groups * k], 'u32');
  const tv = gpu.tensor('val', [groups * k], 'f32');
  const rec = new Recorder(gpu, 'topk test');
  topK(rec, tl, ti, tv, { ...o, k, rowBias: tb });
  rec.submit();
  const idx = Array.from(await gpu.readU32(ti));
  const val = Array.from(await gpu.readF32(tv));
  gpu.release(tl, ti, tv, ...(tb ? [tb] : []));
  return { idx, val };
}

describe('sample', () => {
  const shapes: [number, number][] = [[1, 1], [1, 7], [3, 65], [2, 1000], [5, 4099], [1, 59264],
    [8, 59264], [1, 151_936]];
  for (const device of ['default', 'no-subgroups'] as const) {
    for (const [rows, vocab] of shapes) {
      it(`argmax matches torch.argmax (${device}, ${rows}×${vocab})`, async () => {
        const gpu = device === 'default' ? await testGpu() : await fallbackGpu();
        const logits = randomF32(rows * vocab, rows + vocab, 10);
        const tl = gpu.upload('logits', logits, [rows, vocab], 'f32');
        const out = gpu.tensor('ids', [rows], 'u32');
        const rec = new Recorder(gpu, 'argmax');
        argmax(rec, tl, out);
        rec.submit();
        expect(Array.from(await gpu.readU32(out))).toEqual(ref.argmax(logits, vocab));
        gpu.release(tl, out);
      });
    }
  }

  for (const device of ['default', 'no-subgroups'] as const) {
    it(`ties resolve to the lowest index in argmax and top-k (${device})`, async () => {
      const gpu = device === 'default' ? await testGpu() : await fallbackGpu();
      const vocab = 3001, rows = 3;
      const logits = tiedLogits(rows * vocab, 5, 4);
      for (const k of [1, 5, 64]) {
        const got = await runTopK(gpu, logits, vocab, k);
        const want = ref.topK(logits, vocab, k);
        expect(got.idx).toEqual(want.idx);
        expect(got.val).toEqual(want.val);
      }
    });
  }

  const topkCases: [number, number, number][] = [[1, 7, 7], [3, 65, 2], [2, 1000, 8], [4, 59264, 8],
    [2, 5000, 64], [1, 4099, 33]];
  for (const [rows, vocab, k] of topkCases) {
    it(`top-${k} per row is exact and sorted (${rows}×${vocab})`, async () => {
      const gpu = await testGpu();
      const logits = randomF32(rows * vocab, vocab + k, 8);
      const got = await runTopK(gpu, logits, vocab, k);
      const want = ref.topK(logits, vocab, k);
      expect(got.idx).toEqual(want.idx);
      expect(got.val).toEqual(want.val);
    });
  }

  it('−inf logits: masked entries rank last, by index; k beyond the finite ones returns them', async () => {
    const gpu = await testGpu();
    const vocab = 2500, rows = 2;
    const logits = randomF32(rows * vocab, 77, 5);
    const r = rng(78);
    for (let i = 0; i < logits.length; i++) if (r() < 0.99) logits[i] = -Infinity; // ~25 finite per row
    logits.fill(-Infinity, vocab, 2 * vocab); // row 1 entirely masked: argmax → 0, like torch
    const got = await runTopK(gpu, logits, vocab, 40);
    const want = ref.topK(logits, vocab, 40);
    expect(got.idx).toEqual(want.idx);
    expect(got.val).toEqual(want.val);
    expect(got.idx[40]).toBe(0);
  });

  it('beam step: top-2B of beamScore + log_softmax(logits) over all beams (B = 4, vocab 59264)', async () => {
    const gpu = await testGpu();
    const B = 4, vocab = 59264, k = 2 * B;
    const logits = randomF32(B * vocab, 3, 12);
    const beam = Float32Array.from([-0.5, -1.25, -0.75, -3]);
    const tl = gpu.upload('logits', logits, [B, vocab], 'f32');
    const tb = gpu.upload('beam', beam, [B], 'f32');
    const ti = gpu.tensor('cand.idx', [k], 'u32');
    const tv = gpu.tensor('cand.val', [k], 'f32');
    const t0 = gpu.tensor('first.idx', [k], 'u32');
    const t1 = gpu.tensor('first.val', [k], 'f32');
    const rec = new Recorder(gpu, 'beam');
    beamCandidates(rec, tl, tb, ti, tv, { k });
    beamCandidates(rec, tl.rows(0, 1), undefined, t0, t1, { k }); // first step: one beam, no scores yet
    rec.submit();
    const want = ref.topK(logits, vocab, k, { logSoftmax: true, rowBias: beam, flatten: true });
    expect(Array.from(await gpu.readU32(ti))).toEqual(want.idx);
    const val = await gpu.readF32(tv);
    want.val.forEach((v, i) => expect(Math.abs(val[i] - v)).toBeLessThan(2e-5 * Math.abs(v) + 1e-6));
    const want0 = ref.topK(logits.subarray(0, vocab), vocab, k, { logSoftmax: true });
    expect(Array.from(await gpu.readU32(t0))).toEqual(want0.idx);
    const val0 = await gpu.readF32(t1);
    want0.val.forEach((v, i) => expect(Math.abs(val0[i] - v)).toBeLessThan(2e-5 * Math.abs(v) + 1e-6));
    gpu.release(tl, tb, ti, tv, t0, t1);
  });

  it('per-row log-softmax with row bias, and flattened raw top-k (no-subgroups device)', async () => {
    const gpu = await fallbackGpu();
    const rows = 3, vocab = 777, k = 6;
    const logits = randomF32(rows * vocab, 41, 6);
    const bias = Float32Array.from([0.25, -2, 1]);
    const a = await runTopK(gpu, logits, vocab, k, { logSoftmax: true, bias });
    const wa = ref.topK(logits, vocab, k, { logSoftmax: true, rowBias: bias });
    expect(a.idx).toEqual(wa.idx);
    wa.val.forEach((v, i) => expect(Math.abs(a.val[i] - v)).toBeLessThan(2e-5 * Math.abs(v) + 1e-6));
    const b = await runTopK(gpu, logits, vocab, k, { flatten: true, bias });
    const wb = ref.topK(logits, vocab, k, { flatten: true, rowBias: bias });
    expect(b.idx).toEqual(wb.idx);
    expect(b.val).toEqual(wb.val);
  });

  it('topKLogSoftmax returns (row, token, score) candidates, dead beams (−1e9) last', async () => {
    const gpu = await testGpu();
    const rows = 3, vocab = 1000, k = 12;
    const logits = randomF32(rows * vocab, 99, 7);
    const scores = Float32Array.from([-2.5, -1e9, -0.5]);
    const big = gpu.upload('logits', logits, [rows, vocab], 'f32');
    const got = await topKLogSoftmax(gpu, big, scores, { k });
    const want = ref.topK(logits, vocab, k, { logSoftmax: true, rowBias: scores, flatten: true });
    expect(got.map((c) => c.row * vocab + c.token)).toEqual(want.idx);
    expect(got.every((c) => c.row !== 1)).toBe(true);
    got.forEach((c, i) => expect(Math.abs(c.score - want.val[i])).toBeLessThan(2e-5 * Math.abs(want.val[i]) + 1e-6));
    gpu.release(big);
  });

  for (const [wg, subgroups] of [[64, true], [256, true], [256, false]] as const) {
    it(`GPU-style workgroups agree (workgroup ${wg}, subgroups ${subgroups})`, async () => {
      const gpu = await testGpu();
      const rows = 3, vocab = 5000, k = 9;
      const logits = tiedLogits(rows * vocab, 17, 50);
      const bias = Float32Array.from([0, -1, 0.5]);
      const a = await runTopK(gpu, logits, vocab, k, { workgroupSize: wg, subgroups });
      const wa = ref.topK(logits, vocab, k);
      expect(a.idx).toEqual(wa.idx);
      expect(a.val).toEqual(wa.val);
      const b = await runTopK(gpu, logits, vocab, k, { workgroupSize: wg, subgroups,
        logSoftmax: true, flatten: true, bias });
      const wb = ref.topK(logits, vocab, k, { logSoftmax: true, flatten: true, rowBias: bias });
      expect(b.idx).toEqual(wb.idx);
      wb.val.forEach((v, i) => expect(Math.abs(b.val[i] - v)).toBeLessThan(2e-5 * Math.abs(v) + 1e-6));
    });
  }

  it('rejects bad arguments', async () => {
    const gpu = await testGpu();
    const l = gpu.tensor('s.logits', [2, 10], 'f32');
    const i = gpu.tensor('s.idx', [3], 'u32');
    const v = gpu.tensor('s.val', [4], 'f32');
    const rec = new Recorder(gpu, 'bad');
    expect(() => topK(rec, l, i, v, { k: 2 })).toThrow(/s\.idx/);
    expect(() => topK(rec, l, v, v, { k: 11 })).toThrow(/k = 11/);
    gpu.release(l, i, v);
  });
});
