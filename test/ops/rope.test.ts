import { describe, expect, it } from 'vitest';
import { Recorder } from '../../src/gpu';
import { rope, ropeInvFreq, type RopeOptions } from '../../src/ops/rope';
import * as ref from '../../src/ops/reference/rope';
import { randomF32, relL2, testGpu } from '../helpers/gpu';

// Against an f64 rotation using PyTorch's f32 angles: only the f32 sin/cos and the f32 rotation differ.
const TOL = 1e-6;

interface Case { name: string; tokens: number; opts: RopeOptions; positions: (t: number) => number; size?: number }

const cases: Case[] = [
  { name: 'one token, full rotary', tokens: 1, opts: { heads: 1, headDim: 8, positionOffset: 5 }, positions: () => 5 },
  { name: 'encoder: partial 32/64, 3 heads, windows restart every 1500 frames', tokens: 3001,
    opts: { heads: 3, headDim: 64, rotaryDim: 32, positionModulo: 1500 }, positions: (t) => t % 1500 },
  { name: 'decoder: 128 dims at positions 8000..8191', tokens: 192,
    opts: { heads: 2, headDim: 128, positionOffset: 8000 }, positions: (t) => 8000 + t },
  { name: 'odd sizes: 7 tokens, 5 heads × 6, rotary 4', tokens: 7,
    opts: { heads: 5, headDim: 6, rotaryDim: 4, positionOffset: 3 }, positions: (t) => 3 + t },
  { name: 'fused QKV row: q 4 heads + k 1 head of 16, stride 96, θ 5e5', tokens: 65,
    opts: { heads: 5, headDim: 16, tokenStride: 96, positionOffset: 11,
      theta: 500000 }, positions: (t) => 11 + t, size: 65 * 96 },
  { name: 'k part of a fused row (offset 64)', tokens: 33,
    opts: { heads: 1, headDim: 16, tokenStride: 96, offset: 64,
      positionOffset: 2 }, positions: (t) => 2 + t, size: 33 * 96 },
  { name: 'interleaved pairs', tokens: 9, opts: { heads: 2, headDim: 10, rotaryDim: 8,
    interleaved: true }, positions: (t) => t },
];

describe('rope', () => {
  for (const c of cases) {
    it(`matches the reference: ${c.name}`, async () => {
      const gpu = await testGpu();
      const { heads, headDim } = c.opts;
      const stride = c.opts.tokenStride ?? heads * headDim;
      const n = c.size ?? c.tokens * stride;
      const x = randomF32(n, c.tokens * 31 + headDim, 2);
      const tx = gpu.upload('q', x, [n], 'f32');
      const rec = new Recorder(gpu, 'rope test');
      rope(rec, tx, { ...c.opts, tokens: c.tokens });
      rec.submit();
      const positions = Array.from({ length: c.tokens }, (_, t) => c.positions(t));
      const want = ref.rope(x, {
        tokens: c.tokens, heads, headDim, rotaryDim: c.opts.rotaryDim ?? headDim, theta: c.opts.theta ?? 10000,
        tokenStride: stride, offset: c.opts.offset ?? 0, positions, interleaved: c.opts.interleaved,
      });
      const got = await gpu.readF32(tx);
      expect(relL2(got, want)).toBeLessThan(TOL);
      // Elements outside the rotated dims are bit-identical.
      let changed = 0;
      for (let i = 0; i < n; i++) if (want[i] === x[i] && got[i] !== x[i]) changed++;
      expect(changed).toBe(0);
      gpu.release(tx);
    });
  }

  it('positions from a u32 buffer (beams at different positions), split across bindings', async () => {
    const gpu = await testGpu();
    const tokens = 50, heads = 4, headDim = 32;
    const positions = Uint32Array.from({ length: tokens }, (_, t) => (t * 977) % 8192);
    const x = randomF32(tokens * heads * headDim, 8, 3);
    const tx = gpu.upload('k', x, [tokens, heads, headDim], 'f32');
    const tp = gpu.upload('pos', positions, [tokens], 'u32');
    const rec = new Recorder(gpu, 'rope positions');
    rope(rec, tx, { heads, headDim, positions: tp, maxBindingBytes: 4096 });
    expect(rec.count).toBeGreaterThan(5);
    rec.submit();
    const want = ref.rope(x, { tokens, heads, headDim, rotaryDim: headDim, theta: 10000,
      tokenStride: heads * headDim, offset: 0, positions });
    expect(relL2(await gpu.readF32(tx), want)).toBeLessThan(TOL);
    gpu.release(tx, tp);
  });

  it('windowed positions stay correct when the tokens are split across bindings', async () => {
    const gpu = await testGpu();
    const tokens = 700, heads = 2, headDim = 8;
    const x = randomF32(tokens * heads * headDim, 21, 1);
    const tx = gpu.upload('q', x, [tokens * heads * headDim], 'f32');
    const rec = new Recorder(gpu, 'rope windows split');
    rope(rec, tx, { heads, headDim, rotaryDim: 4, positionModulo: 150, positionOffset: 1, maxBindingBytes: 4096 });
    rec.submit();
    const positions = Array.from({ length: tokens }, (_, t) => 1 + (t % 150));
    const want = ref.rope(x, { tokens, heads, headDim, rotaryDim: 4, theta: 10000,
      tokenStride: heads * headDim, offset: 0, positions });
    expect(relL2(await gpu.readF32(tx), want)).toBeLessThan(TOL);
    gpu.release(tx);
  });

  it('cos/sin of the f32 angle are accurate to < 3e-7 absolute for every position 0..8191 (128-dim)', async () => {
    const gpu = await testGpu();
    const tokens = 8192, headDim = 128, half = 64;
    // x = (1 … 1, 0 … 0) per token: the output is (cos a_i, sin a_i) directly.
    const x = new Float32Array(tokens * headDim);
    for (let t = 0; t < tokens; t++) x.fill(1, t * headDim, t * headDim + half);
    const tx = gpu.upload('unit', x, [tokens, headDim], 'f32');
    const rec = new Recorder(gpu, 'rope sincos');
    rope(rec, tx, { heads: 1, headDim });
    rec.submit();
    const got = await gpu.readF32(tx);
    const inv = ropeInvFreq(headDim);
    let worst = 0;
    let worstExact = 0;
    for (let t = 0; t < tokens; t++) {
      for (let i = 0; i < half; i++) {
        const a = Math.fround(t * inv[i]);
        worst = Math.max(worst, Math.abs(got[t * headDim + i] - Math.cos(a)),
          Math.abs(got[t * headDim + half + i] - Math.sin(a)));
        const exact = t / 10000 ** ((2 * i) / headDim);
        worstExact = Math.max(worstExact, Math.abs(Math.cos(a) - Math.cos(exact)));
      }
    }
    expect(worst).toBeLessThan(3e-7);
    // For the record: PyTorch's own f32 angle is off the exact one by up to ~pos·2^-24 (≈ 2.4e-4 at 8191).
    expect(worstExact).toBeGreaterThan(1e-5);
    expect(worstExact).toBeLessThan(5e-4);
    gpu.release(tx);
  });

  it('inv_freq follows torch f32 rounding', () => {
    const inv = ropeInvFreq(32);
    expect(inv[0]).toBe(1);
    expect(inv.length).toBe(16);
    expect(inv[1]).toBe(Math.fround(1 / Math.fround(10000 ** Math.fround(2 / 32))));
  });

  it('rejects bad shapes naming the tensor', async () => {
    const gpu = await testGpu();
    const t = gpu.tensor('r.q', [10, 8], 'f32');
    const rec = new Recorder(gpu, 'bad');
    expect(() => rope(rec, t, { heads: 2, headDim: 8, tokens: 6 })).toThrow(/r\.q/);
    expect(() => rope(rec, t, { heads: 1, headDim: 8, rotaryDim: 3 })).toThrow(/rotaryDim/);
    gpu.release(t);
  });
});
