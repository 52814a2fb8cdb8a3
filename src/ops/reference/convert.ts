/** Plain-TypeScript references for src/ops/convert.ts (bit-exact expectations; half conversions: weights/half). */
import { bf16BitsToF32, f32ToF16Bits } from '../../weights/half';

/** bf16 bits → IEEE half bits (via the exact f32 value, then round to nearest even; overflow → inf). */
export function bf16ToF16Bits(bits: Uint16Array): Uint16Array {
  return f32ToF16Bits(bf16BitsToF32(bits));
}
