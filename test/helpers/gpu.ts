/**
 * Shared test helpers: one Gpu per test file, seeded random data, relative L2 error.
 * A missing adapter fails loudly (never a silent skip): CI must see it.
 */
import { afterAll } from 'vitest';
import { Gpu, type GpuOptions } from '../../src/gpu';

let current: Promise<Gpu> | undefined;

/** The test file's Gpu (created on first use, destroyed after the file's tests). */
export function testGpu(options: GpuOptions = {}): Promise<Gpu> {
  if (!current) {
    current = Gpu.create(options);
    afterAll(async () => {
      const gpu = await current!;
      const errors = [...gpu.errors];
      gpu.destroy();
      current = undefined;
      if (errors.length) throw new Error(`GPU errors during the tests: ${errors.join('; ')}`);
    });
  }
  return current;
}

/** Deterministic PRNG (mulberry32) so a failing case can be reproduced from its seed. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform random values in [-scale, scale), never all zero. */
export function randomF32(n: number, seed: number, scale = 1): Float32Array<ArrayBuffer> {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() * 2 - 1) * scale;
  return out;
}

/** ‖got − want‖₂ / ‖want‖₂ (want must not be all zeros). */
export function relL2(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`length mismatch: got ${got.length}, want ${want.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.length; i++) {
    const d = got[i] - want[i];
    num += d * d;
    den += want[i] * want[i];
  }
  if (den === 0) throw new Error('relL2: reference is all zeros; the test would not be able to fail');
  return Math.sqrt(num / den);
}
