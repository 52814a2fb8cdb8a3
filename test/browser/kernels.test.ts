/**
 * A representative subset of the kernel tests — elementwise, matmul (f32 and packed-f16 weights, row-blocked),
 * layer/RMS norm, conv1d, window and decode attention — run in headless Chromium on its WebGPU adapter
 * (SwiftShader: no shader-f16, at most 256 invocations per workgroup), against the same CPU references as in
 * Node. Sizes are small and awkward (not multiples of any tile); SwiftShader is slow.
 */
import { describe, expect, it } from 'vitest';
import { f32ToF16Bits, Recorder } from '../../src/gpu';
import { windowAttention } from '../../src/ops/attention';
import { conv1d } from '../../src/ops/conv1d';
import { add, gelu } from '../../src/ops/elementwise';
import { matmul } from '../../src/ops/matmul';
import { layerNorm, rmsNorm } from '../../src/ops/norm';
import * as refAttn from '../../src/ops/reference/attention';
import * as refConv from '../../src/ops/reference/conv1d';
import * as refEw from '../../src/ops/reference/elementwise';
import * as refMm from '../../src/ops/reference/matmul';
import * as refNorm from '../../src/ops/reference/norm';
import { randomF32, relL2, testGpu } from '../helpers/gpu';

describe('kernels in the browser', () => {
  it('runs on the browser adapter (navigator.gpu) within its limits', async () => {
    const gpu = await testGpu();
    expect((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu).toBeDefined();
    expect(gpu.caps.maxInvocationsPerWorkgroup).toBeGreaterThanOrEqual(256);
  });

  it('elementwise add and gelu (n=1000)', async () => {
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

  for (const [M, N, K] of [[1, 65, 130], [7, 33, 65], [37, 65, 100]]) {
    it(`matmul f32 and f16 weights, with bias, M=${M} N=${N} K=${K}`, async () => {
      const gpu = await testGpu();
      const x = randomF32(M * K, M, 1);
      const w = randomF32(N * K, N, 0.5);
      const b = randomF32(N, K, 1);
      const tx = gpu.upload('x', x, [M, K], 'f32');
      const tb = gpu.upload('b', b, [N], 'f32');
      const w32 = gpu.upload('w32', w, [N, K], 'f32');
      // f16 weights in a row-blocked matrix with small blocks, so the split path runs too.
      const w16 = gpu.matrix('w16', N, K, 'f16', 16 * K * 2);
      gpu.writeRows(w16, 0, f32ToF16Bits(w));
      const y32 = gpu.tensor('y32', [M, N], 'f32');
      const y16 = gpu.tensor('y16', [M, N], 'f32');
      const rec = new Recorder(gpu, 'browser matmul');
      matmul(rec, tx, w32, tb, y32);
      matmul(rec, tx, w16, tb, y16);
      rec.submit();
      expect(relL2(await gpu.readF32(y32), refMm.matmul(x, w, M, N, K, b))).toBeLessThan(1e-5);
      expect(relL2(await gpu.readF32(y16), refMm.matmul(x, refMm.roundToF16(w), M, N, K, b))).toBeLessThan(1e-5);
    });
  }

  it('layer norm and RMS norm, 7 rows × 1000', async () => {
    const gpu = await testGpu();
    const [rows, d] = [7, 1000];
    const x = randomF32(rows * d, 3, 2);
    const w = randomF32(d, 4, 1);
    const b = randomF32(d, 5, 1);
    const tx = gpu.upload('x', x, [rows, d], 'f32');
    const tw = gpu.upload('w', w, [d], 'f32');
    const tb = gpu.upload('b', b, [d], 'f32');
    const ln = gpu.tensor('ln', [rows, d], 'f32');
    const rms = gpu.tensor('rms', [rows, d], 'f32');
    const rec = new Recorder(gpu, 'browser norm');
    layerNorm(rec, tx, tw, tb, ln, { eps: 1e-5 });
    rmsNorm(rec, tx, tw, rms, { eps: 1e-5 });
    rec.submit();
    expect(relL2(await gpu.readF32(ln), refNorm.layerNorm(x, w, b, 1e-5))).toBeLessThan(1e-5);
    expect(relL2(await gpu.readF32(rms), refNorm.rmsNorm(x, w, 1e-5))).toBeLessThan(1e-5);
  });

  it('conv1d k=3 stride 2 with GELU, channel-major input, 2 windows', async () => {
    const gpu = await testGpu();
    const [windows, cin, cout, t] = [2, 5, 9, 33];
    const x = randomF32(windows * cin * t, 6, 1);
    const w = randomF32(cout * cin * 3, 7, 0.5);
    const b = randomF32(cout, 8, 0.5);
    const tout = Math.floor((t - 1) / 2) + 1;
    const tx = gpu.upload('x', x, [windows, cin, t], 'f32');
    const tw = gpu.upload('w', w, [cout, cin, 3], 'f32');
    const tb = gpu.upload('b', b, [cout], 'f32');
    const y = gpu.tensor('y', [windows * tout, cout], 'f32');
    const rec = new Recorder(gpu, 'browser conv1d');
    conv1d(rec, tx, tw, tb, y, { input: 'channel-major', windows, stride: 2, gelu: true });
    rec.submit();
    const want = refConv.conv1d(x, w, b, { cin, cout, windows, stride: 2, channelMajor: true, gelu: true });
    expect(relL2(await gpu.readF32(y), want)).toBeLessThan(1e-5);
  });

  it('window attention: 2 windows × 37 tokens, 3 heads × 16', async () => {
    const gpu = await testGpu();
    const o = { windows: 2, windowLen: 37, heads: 3, headDim: 16, scale: 0.25 };
    const n = o.windows * o.windowLen * o.heads * o.headDim;
    const [q, k, v] = [randomF32(n, 9, 1), randomF32(n, 10, 1), randomF32(n, 11, 1)];
    const tq = gpu.upload('q', q, [n], 'f32');
    const tk = gpu.upload('k', k, [n], 'f32');
    const tv = gpu.upload('v', v, [n], 'f32');
    const out = gpu.tensor('out', [n], 'f32');
    const rec = new Recorder(gpu, 'browser attention');
    windowAttention(rec, tq, tk, tv, out, o);
    rec.submit();
    expect(relL2(await gpu.readF32(out), refAttn.windowAttention(q, k, v, o))).toBeLessThan(1e-5);
  });
});
