/** Plain-TypeScript reference for src/ops/rope.ts (f64 rotation of f32 data). */
import { ropeInvFreq } from '../rope';

export interface RopeRefOptions {
  tokens: number;
  heads: number;
  headDim: number;
  rotaryDim: number;
  theta: number;
  tokenStride: number;
  offset: number;
  positions: ArrayLike<number>;
  interleaved?: boolean;
  /**
   * 'torch-f32' (default): angle = f32(pos · f32 inv_freq), what PyTorch computes and what the kernel matches;
   * 'exact': angle = pos / theta^(2i/d) in f64 (the ideal the f32 angle deviates from by up to ~pos·2^-24 rad).
   */
  angles?: 'torch-f32' | 'exact';
}

export function rope(x: Float32Array, o: RopeRefOptions): Float32Array {
  const out = x.slice();
  const half = o.rotaryDim / 2;
  const inv32 = ropeInvFreq(o.rotaryDim, o.theta);
  for (let t = 0; t < o.tokens; t++) {
    const pos = o.positions[t];
    for (let i = 0; i < half; i++) {
      const a = o.angles === 'exact' ? pos / o.theta ** ((2 * i) / o.rotaryDim) : Math.fround(pos * inv32[i]);
      const c = Math.cos(a), s = Math.sin(a);
      for (let h = 0; h < o.heads; h++) {
        const base = o.offset + t * o.tokenStride + h * o.headDim;
        const j1 = base + (o.interleaved ? 2 * i : i);
        const j2 = base + (o.interleaved ? 2 * i + 1 : i + half);
        out[j1] = x[j1] * c - x[j2] * s;
        out[j2] = x[j2] * c + x[j1] * s;
      }
    }
  }
  return out;
}
