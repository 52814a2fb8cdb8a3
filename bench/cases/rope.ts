/**
 * RoPE rows of the kernel benchmark (in place; GB/s counts the rotated elements read + written).
 *   encoder q: one window, 1500 tokens × 20 heads × 64, rotary 32 (window positions t % 1500)
 *   decoder prefill q+k in a fused QKV row: 200 tokens × (16 + 4) heads × 128, stride 3072
 *   decoder step: 1 token, q+k (20 heads × 128)
 */
import { Recorder, type Gpu } from '../../src/gpu';
import { rope, type RopeOptions } from '../../src/ops/rope';
import type { BenchCase, BenchInstance } from '../lib';

function setup(elems: number, opts: RopeOptions): (gpu: Gpu) => BenchInstance {
  return (gpu) => {
    const x = gpu.upload('bench.qk', new Float32Array(elems).map((_, i) => Math.sin(i)), [elems], 'f32');
    return {
      run: () => { const rec = new Recorder(gpu, 'bench rope'); rope(rec, x, opts); rec.submit(); },
      dispose: () => gpu.release(x),
    };
  };
}

const note = 'rotated elements read + written';
export const cases: BenchCase[] = [
  { op: 'rope', variant: 'ours', shape: { tokens: 1500, heads: 20, headDim: 64, rotaryDim: 32 },
    bytes: 2 * 1500 * 20 * 32 * 4, bytesNote: note,
    setup: setup(1500 * 20 * 64, { heads: 20, headDim: 64, rotaryDim: 32, positionModulo: 1500 }) },
  { op: 'rope', variant: 'ours', shape: { tokens: 200, heads: 20, headDim: 128, stride: 3072 },
    bytes: 2 * 200 * 20 * 128 * 4, bytesNote: note,
    setup: setup(200 * 3072, { heads: 20, headDim: 128, tokenStride: 3072, positionOffset: 0 }) },
  { op: 'rope', variant: 'ours', shape: { tokens: 1, heads: 20, headDim: 128 },
    bytes: 2 * 20 * 128 * 4, bytesNote: note,
    setup: setup(3072, { heads: 20, headDim: 128, tokenStride: 3072, positionOffset: 7000 }) },
];
