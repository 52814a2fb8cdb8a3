/**
 * A representative subset of the kernel tests, run in headless Chromium (SwiftShader: no f16, at most 256
 * invocations per workgroup), so the browser build of the same shaders is checked against the same CPU references.
 */
import { describe, expect, it } from 'vitest';
import { Recorder } from '../../src/gpu';
import { add, gelu } from '../../src/ops/elementwise';
import * as refEw from '../../src/ops/reference/elementwise';
import { randomF32, relL2, testGpu } from '../helpers/gpu';

describe('kernels in the browser', () => {
  it('runs on the browser adapter (navigator.gpu)', async () => {
    const gpu = await testGpu();
    expect((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu).toBeDefined();
    expect(gpu.caps.maxInvocationsPerWorkgroup).toBeGreaterThanOrEqual(256);
  });

  it('elementwise add and gelu match the CPU reference (n=1000)', async () => {
    const gpu = await testGpu();
    const n = 1000;
    const a = randomF32(n, 1, 3);
    const b = randomF32(n, 2, 3);
    const ta = gpu.upload('a', a, [n], 'f32');
    const tb = gpu.upload('b', b, [n], 'f32');
    const sum = gpu.tensor('sum', [n], 'f32');
    const g = gpu.tensor('gelu', [n], 'f32');
    const rec = new Recorder(gpu, 'browser elementwise');
    add(rec, ta, tb, sum);
    gelu(rec, ta, g);
    rec.submit();
    expect(relL2(await gpu.readF32(sum), refEw.add(a, b))).toBeLessThan(1e-7);
    expect(relL2(await gpu.readF32(g), refEw.gelu(a))).toBeLessThan(1e-6);
  });
});
