import { afterAll, describe, expect, it } from 'vitest';
import { Gpu, Recorder } from '../../src/gpu';
import { logSoftmax, softmax } from '../../src/ops/softmax';
import * as ref from '../../src/ops/reference/softmax';
import { randomF32, relL2, rng, testGpu } from '../helpers/gpu';

const TOL = 2e-6;

let fallback: Promise<Gpu> | undefined;
function fallbackGpu(): Promise<Gpu> {
  fallback ??= Gpu.create({ disableFeatures: ['subgroups', 'shader-f16'] });
  return fallback;
}
afterAll(async () => { if (fallback) (await fallback).destroy(); });

describe('softmax', () => {
  const shapes: [number, number][] = [[1, 1], [1, 7], [3, 65], [7, 1000], [2, 1500], [1, 59264], [300, 33]];
  for (const device of ['default', 'no-subgroups'] as const) {
    for (const [rows, n] of shapes) {
      it(`softmax and log-softmax match the reference (${device}, ${rows}×${n})`, async () => {
        const gpu = device === 'default' ? await testGpu() : await fallbackGpu();
        const x = randomF32(rows * n, rows * 7 + n, 12);
        const tx = gpu.upload('x', x, [rows, n], 'f32');
        const ty = gpu.tensor('y', [rows, n], 'f32');
        const tl = gpu.tensor('l', [rows, n], 'f32');
        const rec = new Recorder(gpu, 'softmax test');
        softmax(rec, tx, ty);
        logSoftmax(rec, tx, tl);
        rec.submit();
        expect(relL2(await gpu.readF32(ty), ref.softmax(x, n))).toBeLessThan(TOL);
        if (n > 1) expect(relL2(await gpu.readF32(tl), ref.logSoftmax(x, n))).toBeLessThan(TOL);
        gpu.release(tx, ty, tl);
      });
    }
  }

  it('works in place, with −inf masks, huge values and an all −inf row (NaN, like torch)', async () => {
    const gpu = await testGpu();
    const rows = 5, n = 777;
    const x = randomF32(rows * n, 9, 5);
    const r = rng(10);
    for (let i = 0; i < x.length; i++) if (r() < 0.3) x[i] = -Infinity;
    for (let i = 0; i < n; i++) x[n + i] += 1e30;   // row 1: huge, must not overflow
    for (let i = 0; i < n; i++) x[4 * n + i] = -Infinity; // row 4: all masked
    const t1 = gpu.upload('x1', x, [rows, n], 'f32');
    const t2 = gpu.upload('x2', x, [rows, n], 'f32');
    const rec = new Recorder(gpu, 'softmax in place');
    softmax(rec, t1, t1);
    logSoftmax(rec, t2, t2);
    rec.submit();
    const got = await gpu.readF32(t1);
    const gotLog = await gpu.readF32(t2);
    const want = ref.softmax(x.subarray(0, 4 * n), n);
    const wantLog = ref.logSoftmax(x.subarray(0, 4 * n), n);
    expect(relL2(got.subarray(0, 4 * n), want)).toBeLessThan(TOL);
    for (let i = 0; i < 4 * n; i++) {
      if (x[i] === -Infinity) {
        expect(got[i]).toBe(0);
        expect(gotLog[i]).toBe(-Infinity);
      } else {
        expect(Math.abs(gotLog[i] - wantLog[i])).toBeLessThan(1e-5 * Math.max(1, Math.abs(wantLog[i])));
      }
    }
    expect(got.subarray(4 * n).every(Number.isNaN)).toBe(true);
    gpu.release(t1, t2);
  });

  for (const [wg, subgroups] of [[64, true], [256, true], [256, false]] as const) {
    it(`GPU-style workgroups agree (workgroup ${wg}, subgroups ${subgroups})`, async () => {
      const gpu = await testGpu();
      const rows = 4, n = 3001;
      const x = randomF32(rows * n, 61, 10);
      const tx = gpu.upload('x', x, [rows, n], 'f32');
      const ty = gpu.tensor('y', [rows, n], 'f32');
      const tl = gpu.tensor('l', [rows, n], 'f32');
      const rec = new Recorder(gpu, 'softmax configs');
      softmax(rec, tx, ty, { n, workgroupSize: wg, subgroups });
      logSoftmax(rec, tx, tl, { n, workgroupSize: wg, subgroups });
      rec.submit();
      expect(relL2(await gpu.readF32(ty), ref.softmax(x, n))).toBeLessThan(TOL);
      expect(relL2(await gpu.readF32(tl), ref.logSoftmax(x, n))).toBeLessThan(TOL);
      gpu.release(tx, ty, tl);
    });
  }

  it('splits rows across bindings (forced 8 KiB limit)', async () => {
    const gpu = await testGpu();
    const rows = 123, n = 100;
    const x = randomF32(rows * n, 3, 4);
    const tx = gpu.upload('x', x, [rows, n], 'f32');
    const ty = gpu.tensor('y', [rows, n], 'f32');
    const rec = new Recorder(gpu, 'softmax split');
    softmax(rec, tx, ty, { n, maxBindingBytes: 8192 });
    expect(rec.count).toBeGreaterThan(5);
    rec.submit();
    expect(relL2(await gpu.readF32(ty), ref.softmax(x, n))).toBeLessThan(TOL);
    gpu.release(tx, ty);
  });
});
