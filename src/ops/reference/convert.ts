/** Plain-TypeScript references for src/ops/convert.ts (bit-exact expectations). */
import { f16BitsToF32, f32ToF16Bits } from '../../gpu';

/** bf16 bit patterns → f32 (exact: bf16 is the top half of an f32). */
export function bf16ToF32(bits: Uint16Array): Float32Array {
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i] << 16;
  return new Float32Array(out.buffer);
}

/** f32 → bf16 bits, round to nearest even (to make test inputs; NaN stays NaN). */
export function f32ToBf16(x: Float32Array): Uint16Array {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const b = u[i];
    if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff)) { out[i] = (b >>> 16) | 0x40; continue; }
    out[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** bf16 bits → IEEE half bits (via the exact f32 value, then round to nearest even; overflow → inf). */
export function bf16ToF16Bits(bits: Uint16Array): Uint16Array {
  return f32ToF16Bits(bf16ToF32(bits));
}

export const f16ToF32 = f16BitsToF32;
export const f32ToF16 = f32ToF16Bits;
