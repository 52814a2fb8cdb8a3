import { afterAll, describe, expect, it } from 'vitest';
import { Gpu, Recorder, f16BitsToF32, f32ToF16Bits } from '../../src/gpu';
import { conv1d, conv1dOutputLength } from '../../src/ops/conv1d';
import * as ref from '../../src/ops/reference/conv1d';
import { randomF32, relL2, testGpu } from '../helpers/gpu';

// f32 accumulation over K = 3·Cin ≤ 800 terms against f64.
const TOL = 1e-5;

interface Case {
  cin: number; cout: number; t: number; windows: number; stride: 1 | 2; layout: 'channel-major' | 'time-major';
  gelu: boolean; weights: 'f32' | 'native' | 'packed';
}

const cases: Case[] = [
  { cin: 1, cout: 1, t: 1, windows: 1, stride: 1, layout: 'time-major', gelu: false, weights: 'f32' },
  { cin: 1, cout: 3, t: 2, windows: 2, stride: 2, layout: 'channel-major', gelu: true, weights: 'f32' },
  { cin: 7, cout: 65, t: 33, windows: 3, stride: 2, layout: 'time-major', gelu: true, weights: 'f32' },
  { cin: 7, cout: 65, t: 33, windows: 3, stride: 1, layout: 'channel-major', gelu: false, weights: 'f32' },
  // conv1-like, then conv2-like
  { cin: 128, cout: 96, t: 100, windows: 2, stride: 1, layout: 'channel-major', gelu: true, weights: 'f32' },
  { cin: 160, cout: 80, t: 129, windows: 2, stride: 2, layout: 'time-major', gelu: true, weights: 'f32' },
  { cin: 64, cout: 70, t: 65, windows: 1, stride: 2, layout: 'time-major', gelu: true, weights: 'packed' },
  { cin: 64, cout: 70, t: 65, windows: 1, stride: 1, layout: 'channel-major', gelu: false, weights: 'native' },
  { cin: 5, cout: 130, t: 1000, windows: 1, stride: 2, layout: 'channel-major', gelu: true, weights: 'packed' },
];

let fallback: Promise<Gpu> | undefined;
function fallbackGpu(): Promise<Gpu> {
  fallback ??= Gpu.create({ disableFeatures: ['subgroups', 'shader-f16'] });
  return fallback;
}
afterAll(async () => { if (fallback) (await fallback).destroy(); });

async function run(gpu: Gpu, c: Case, seed: number,
  maxBindingBytes?: number): Promise<{ got: Float32Array; want: Float32Array; dispatches: number }> {
  const x = randomF32(c.windows * c.cin * c.t, seed, 2);
  let w = randomF32(c.cout * c.cin * 3, seed + 1, 1 / Math.sqrt(3 * c.cin));
  const b = randomF32(c.cout, seed + 2, 0.5);
  const f16 = c.weights !== 'f32';
  const wBits = f32ToF16Bits(w);
  if (f16) w = f16BitsToF32(wBits) as Float32Array<ArrayBuffer>; // the reference sees the f16-rounded weights
  const tout = conv1dOutputLength(c.t, c.stride);
  const tx = gpu.upload('x', x, [c.windows * c.cin * c.t], 'f32');
  const tw = f16 ? gpu.upload('w16', wBits, [c.cout, c.cin, 3], 'f16') : gpu.upload('w', w, [c.cout, c.cin, 3], 'f32');
  const tb = gpu.upload('b', b, [c.cout], 'f32');
  const ty = gpu.tensor('y', [c.windows * tout, c.cout], 'f32');
  const rec = new Recorder(gpu, 'conv1d test');
  conv1d(rec, tx, tw, tb, ty, {
    input: c.layout, windows: c.windows, stride: c.stride, gelu: c.gelu,
    f16Weights: c.weights === 'f32' ? undefined : c.weights, maxBindingBytes,
  });
  const dispatches = rec.count;
  rec.submit();
  const got = await gpu.readF32(ty);
  gpu.release(tx, tw, tb, ty);
  const want = ref.conv1d(x, w, b, { cin: c.cin, cout: c.cout, windows: c.windows, stride: c.stride,
    channelMajor: c.layout === 'channel-major', gelu: c.gelu });
  return { got, want, dispatches };
}

describe('conv1d', () => {
  for (const c of cases) {
    const name = `${c.windows}×[${c.layout === 'channel-major' ? `${c.cin}×${c.t}` : `${c.t}×${c.cin}`}] → ` +
      `${c.cout}, stride ${c.stride}${c.gelu ? ', GELU' : ''}, ${c.weights} weights`;
    it(`matches the reference: ${name}`, async (ctx) => {
      const gpu = await testGpu();
      if (c.weights === 'native' && !gpu.caps.f16) ctx.skip('no shader-f16 on this adapter');
      const { got, want } = await run(gpu, c, c.cin * 13 + c.t);
      expect(relL2(got, want)).toBeLessThan(TOL);
    });
  }

  it('runs on a device without shader-f16 (packed f16 weights)', async () => {
    const gpu = await fallbackGpu();
    const c: Case = { cin: 9, cout: 33, t: 40, windows: 2, stride: 2, layout: 'time-major',
      gelu: true, weights: 'packed' };
    const { got, want } = await run(gpu, c, 5);
    expect(relL2(got, want)).toBeLessThan(TOL);
  });

  it('splits windows across bindings without mixing them (forced 4 KiB limit)', async () => {
    const gpu = await testGpu();
    const c: Case = { cin: 8, cout: 16, t: 50, windows: 7, stride: 2, layout: 'channel-major',
      gelu: false, weights: 'f32' };
    const { got, want, dispatches } = await run(gpu, c, 9, 4096);
    expect(dispatches).toBeGreaterThan(1);
    expect(relL2(got, want)).toBeLessThan(TOL);
  });

  it('output length follows floor((T + 2 − 3)/stride) + 1', () => {
    expect(conv1dOutputLength(3000, 1)).toBe(3000);
    expect(conv1dOutputLength(3000, 2)).toBe(1500);
    expect(conv1dOutputLength(7, 2)).toBe(4);
    expect(conv1dOutputLength(1, 2)).toBe(1);
  });

  it('rejects mismatched shapes naming the tensor', async () => {
    const gpu = await testGpu();
    const x = gpu.tensor('c.x', [2, 10], 'f32');
    const w = gpu.tensor('c.w', [4, 2, 3], 'f32');
    const b = gpu.tensor('c.b', [4], 'f32');
    const y = gpu.tensor('c.y', [9, 4], 'f32');
    const rec = new Recorder(gpu, 'bad');
    expect(() => conv1d(rec, x, w, b, y, { input: 'channel-major' })).toThrow(/c\.y/);
    gpu.release(x, w, b, y);
  });
});
