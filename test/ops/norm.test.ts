import { afterAll, describe, expect, it } from 'vitest';
import { Gpu, Recorder, Tensor } from '../../src/gpu';
import { addLayerNorm, addRmsNorm, layerNorm, rmsNorm } from '../../src/ops/norm';
import * as ref from '../../src/ops/reference/norm';
import { randomF32, relL2, testGpu } from '../helpers/gpu';

// f32 two-pass statistics against an f64 reference: errors are a few ulps.
const TOL = 2e-6;

/** Rows with a large common offset per row (LayerNorm must not lose precision to it). */
function offsetRows(rows: number, d: number, seed: number): Float32Array<ArrayBuffer> {
  const x = randomF32(rows * d, seed, 2);
  const off = randomF32(rows, seed + 99, 300);
  for (let r = 0; r < rows; r++) for (let i = 0; i < d; i++) x[r * d + i] += off[r];
  return x;
}

let fallback: Promise<Gpu> | undefined;
/** A second device with subgroups and f16 off: the fallback path a browser without them takes. */
function fallbackGpu(): Promise<Gpu> {
  fallback ??= Gpu.create({ disableFeatures: ['subgroups', 'shader-f16'] });
  return fallback;
}
afterAll(async () => { if (fallback) (await fallback).destroy(); });

describe('norm', () => {
  const shapes: [number, number][] = [[1, 1], [1, 7], [3, 65], [7, 1000], [5, 1280], [2, 2048], [1, 4099], [300, 33]];
  for (const device of ['default', 'no-subgroups'] as const) {
    for (const [rows, d] of shapes) {
      it(`layerNorm, rmsNorm and the fused residual forms match the reference (${device}, ${rows}×${d})`, async () => {
        const gpu = device === 'default' ? await testGpu() : await fallbackGpu();
        const seed = rows * 1000 + d;
        const x = offsetRows(rows, d, seed);
        const r = randomF32(rows * d, seed + 1, 3);
        const w = randomF32(d, seed + 2, 1.5);
        const b = randomF32(d, seed + 3, 0.5);
        const eps = 1e-5;
        const tx = gpu.upload('x', x, [rows, d], 'f32');
        const tr = gpu.upload('r', r, [rows, d], 'f32');
        const tw = gpu.upload('w', w, [d], 'f32');
        const tb = gpu.upload('b', b, [d], 'f32');
        const ln = gpu.tensor('ln', [rows, d], 'f32');
        const rms = gpu.tensor('rms', [rows, d], 'f32');
        const res = gpu.tensor('res', [rows, d], 'f32');
        const aln = gpu.tensor('aln', [rows, d], 'f32');
        const ares = gpu.tensor('ares', [rows, d], 'f32');
        const arms = gpu.tensor('arms', [rows, d], 'f32');
        const rec = new Recorder(gpu, 'norm test');
        layerNorm(rec, tx, tw, tb, ln, { eps });
        rmsNorm(rec, tx, tw, rms, { eps });
        addLayerNorm(rec, tx, tr, tw, tb, res, aln, { eps });
        addRmsNorm(rec, tx, tr, tw, ares, arms, { eps });
        rec.submit();
        const sum = ref.add(x, r);
        expect(relL2(await gpu.readF32(ln), ref.layerNorm(x, w, b, eps))).toBeLessThan(TOL);
        expect(relL2(await gpu.readF32(rms), ref.rmsNorm(x, w, eps))).toBeLessThan(TOL);
        expect(Array.from(await gpu.readF32(res))).toEqual(Array.from(sum));
        expect(Array.from(await gpu.readF32(ares))).toEqual(Array.from(sum));
        expect(relL2(await gpu.readF32(aln), ref.layerNorm(sum, w, b, eps))).toBeLessThan(TOL);
        expect(relL2(await gpu.readF32(arms), ref.rmsNorm(sum, w, eps))).toBeLessThan(TOL);
        gpu.release(tx, tr, tw, tb, ln, rms, res, aln, ares, arms);
      });
    }
  }

  it('works in place: y = x, and res = x / res = r for the fused forms', async () => {
    const gpu = await testGpu();
    const rows = 9, d = 130, eps = 1e-6;
    const x = offsetRows(rows, d, 5);
    const r = randomF32(rows * d, 6, 2);
    const w = randomF32(d, 7);
    const b = randomF32(d, 8);
    const tw = gpu.upload('w', w, [d], 'f32');
    const tb = gpu.upload('b', b, [d], 'f32');
    const t1 = gpu.upload('x1', x, [rows, d], 'f32');
    const t2 = gpu.upload('x2', x, [rows, d], 'f32');
    const t3 = gpu.upload('x3', x, [rows, d], 'f32');
    const r3 = gpu.upload('r3', r, [rows, d], 'f32');
    const t4 = gpu.upload('x4', x, [rows, d], 'f32');
    const r4 = gpu.upload('r4', r, [rows, d], 'f32');
    const y3 = gpu.tensor('y3', [rows, d], 'f32');
    const y4 = gpu.tensor('y4', [rows, d], 'f32');
    const rec = new Recorder(gpu, 'norm in place');
    layerNorm(rec, t1, tw, tb, t1, { eps });
    rmsNorm(rec, t2, tw, t2, { eps });
    addLayerNorm(rec, t3, r3, tw, tb, t3, y3, { eps }); // res overwrites x
    addRmsNorm(rec, t4, r4, tw, r4, y4, { eps });       // res overwrites r
    rec.submit();
    const sum = ref.add(x, r);
    expect(relL2(await gpu.readF32(t1), ref.layerNorm(x, w, b, eps))).toBeLessThan(TOL);
    expect(relL2(await gpu.readF32(t2), ref.rmsNorm(x, w, eps))).toBeLessThan(TOL);
    expect(Array.from(await gpu.readF32(t3))).toEqual(Array.from(sum));
    expect(relL2(await gpu.readF32(y3), ref.layerNorm(sum, w, b, eps))).toBeLessThan(TOL);
    expect(Array.from(await gpu.readF32(r4))).toEqual(Array.from(sum));
    expect(relL2(await gpu.readF32(y4), ref.rmsNorm(sum, w, eps))).toBeLessThan(TOL);
    expect(Array.from(await gpu.readF32(t4))).toEqual(Array.from(x)); // x untouched
    gpu.release(tw, tb, t1, t2, t3, r3, t4, r4, y3, y4);
  });

  it('handles 100k rows (grid folding) and rows split across bindings, with unaligned views', async () => {
    const gpu = await testGpu();
    const rows = 100_003, d = 3, eps = 1e-5;
    const x = offsetRows(rows, d, 11);
    const w = randomF32(d, 12);
    const b = randomF32(d, 13);
    // The data starts 1 row into its buffer (a 12-byte offset), so every binding needs the base parameter.
    const big = gpu.tensor('big', [rows + 1, d], 'f32');
    gpu.write(big, x, d);
    const tx = big.rows(1, rows);
    const tw = gpu.upload('w', w, [d], 'f32');
    const tb = gpu.upload('b', b, [d], 'f32');
    const y1 = gpu.tensor('y1', [rows, d], 'f32');
    const y2 = gpu.tensor('y2', [rows, d], 'f32');
    const rec = new Recorder(gpu, 'norm many rows');
    layerNorm(rec, tx, tw, tb, y1, { eps });
    rmsNorm(rec, tx, tw, y2, { eps, maxBindingBytes: 64 * 1024 }); // forces ~19 dispatches
    expect(rec.count).toBeGreaterThan(15);
    rec.submit();
    expect(relL2(await gpu.readF32(y1), ref.layerNorm(x, w, b, eps))).toBeLessThan(TOL);
    expect(relL2(await gpu.readF32(y2), ref.rmsNorm(x, w, eps))).toBeLessThan(TOL);
    gpu.release(big, tw, tb, y1, y2);
  });

  for (const [wg, vec4] of [[32, false], [64, true], [256, true], [256, false]] as const) {
    it(`GPU-style configurations agree too (workgroup ${wg}, vec4 ${vec4})`, async () => {
      const gpu = await testGpu();
      const rows = 6, d = 1280, eps = 1e-5;
      const x = offsetRows(rows, d, 31);
      const r = randomF32(rows * d, 32, 2);
      const w = randomF32(d, 33);
      const b = randomF32(d, 34);
      const tx = gpu.upload('x', x, [rows, d], 'f32');
      const tr = gpu.upload('r', r, [rows, d], 'f32');
      const tw = gpu.upload('w', w, [d], 'f32');
      const tb = gpu.upload('b', b, [d], 'f32');
      const y1 = gpu.tensor('y1', [rows, d], 'f32');
      const y2 = gpu.tensor('y2', [rows, d], 'f32');
      const res = gpu.tensor('res', [rows, d], 'f32');
      const rec = new Recorder(gpu, 'norm configs');
      addLayerNorm(rec, tx, tr, tw, tb, res, y1, { eps, workgroupSize: wg, vec4 });
      rmsNorm(rec, tx, tw, y2, { eps, workgroupSize: wg, vec4, subgroups: false });
      rec.submit();
      expect(relL2(await gpu.readF32(y1), ref.layerNorm(ref.add(x, r), w, b, eps))).toBeLessThan(TOL);
      expect(relL2(await gpu.readF32(y2), ref.rmsNorm(x, w, eps))).toBeLessThan(TOL);
      gpu.release(tx, tr, tw, tb, y1, y2, res);
    });
  }

  it('falls back to scalar loads when a view is not 16-byte aligned', async () => {
    const gpu = await testGpu();
    const rows = 3, d = 64, eps = 1e-5;
    const x = offsetRows(rows, d, 41);
    const w = randomF32(d, 42);
    const buf = gpu.tensor('buf', [rows * d + 1], 'f32');
    gpu.write(buf, x, 1);
    const tx = new Tensor(buf.buffer, [rows, d], 'f32', 4); // starts 4 bytes in
    const tw = gpu.upload('w', w, [d], 'f32');
    const y = gpu.tensor('y', [rows, d], 'f32');
    const rec = new Recorder(gpu, 'norm unaligned');
    rmsNorm(rec, tx, tw, y, { eps });
    rec.submit();
    expect(relL2(await gpu.readF32(y), ref.rmsNorm(x, w, eps))).toBeLessThan(TOL);
    gpu.release(buf, tw, y);
  });

  it('rejects mismatched shapes and aliasing with a message naming the tensor', async () => {
    const gpu = await testGpu();
    const x = gpu.tensor('n.x', [4, 8], 'f32');
    const w = gpu.tensor('n.w', [8], 'f32');
    const y = gpu.tensor('n.y', [3, 8], 'f32');
    const rec = new Recorder(gpu, 'bad');
    expect(() => rmsNorm(rec, x, w, y)).toThrow(/n\.y/);
    expect(() => addRmsNorm(rec, x, x, w, x, x)).toThrow(/alias/);
    gpu.release(x, w, y);
  });
});
