import { describe, expect, it } from 'vitest';
import { Recorder } from '../../src/gpu';
import { add, gelu, siluMul } from '../../src/ops/elementwise';
import * as ref from '../../src/ops/reference/elementwise';
import { randomF32, relL2, testGpu } from '../helpers/gpu';

describe('elementwise', () => {
  for (const n of [1, 7, 65, 1000, 70_001]) {
    it(`add, gelu, silu·mul match the CPU reference at n=${n}`, async () => {
      const gpu = await testGpu();
      const a = randomF32(n, n, 4);
      const b = randomF32(n, n + 1, 4);
      const ta = gpu.upload('a', a, [n], 'f32');
      const tb = gpu.upload('b', b, [n], 'f32');
      const outs = [gpu.tensor('sum', [n], 'f32'), gpu.tensor('gelu', [n], 'f32'), gpu.tensor('silu', [n], 'f32')];
      const rec = new Recorder(gpu, 'elementwise test');
      add(rec, ta, tb, outs[0]);
      gelu(rec, ta, outs[1]);
      siluMul(rec, ta, tb, outs[2]);
      rec.submit();
      expect(relL2(await gpu.readF32(outs[0]), ref.add(a, b))).toBeLessThan(1e-7);
      expect(relL2(await gpu.readF32(outs[1]), ref.gelu(a))).toBeLessThan(1e-6);
      expect(relL2(await gpu.readF32(outs[2]), ref.siluMul(a, b))).toBeLessThan(1e-6);
      gpu.release(ta, tb, ...outs);
    });
  }

  it('the erf reference is accurate (known values)', () => {
    expect(ref.erf(0.5)).toBeCloseTo(0.5204998778130465, 13);
    expect(ref.erf(-2.9)).toBeCloseTo(-0.9999589021219005, 13);
    expect(ref.erf(3.5)).toBeCloseTo(0.9999992569016276, 13);
  });

  it('rejects mismatched sizes with a message naming the tensor', async () => {
    const gpu = await testGpu();
    const a = gpu.tensor('x.a', [4], 'f32');
    const b = gpu.tensor('x.b', [5], 'f32');
    const rec = new Recorder(gpu, 'bad');
    expect(() => add(rec, a, b, a)).toThrow(/x\.b.*5 elements/);
    gpu.release(a, b);
  });
});
