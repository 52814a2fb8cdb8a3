/**
 * Host-side half-precision conversions (IEEE binary16 and bfloat16), the only implementation: tests, CPU
 * references, INT8 scales and `Gpu.readF32` use it; the engine converts weights on the GPU (ops/convert).
 * Half values travel as their 16-bit patterns in Uint16Arrays.
 */

// ---------------------------------------------------------------------------------------------
// Scalar bit conversions
// ---------------------------------------------------------------------------------------------

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** Bit pattern of a float32 (after rounding the JS number to f32). */
export function f32Bits(x: number): number {
  f32Scratch[0] = x;
  return u32Scratch[0];
}

/** float32 value of a 32-bit pattern. */
export function bitsToF32(bits: number): number {
  u32Scratch[0] = bits >>> 0;
  return f32Scratch[0];
}

/** One IEEE half (binary16) bit pattern → number (exact). */
export function f16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24; // zero / subnormal
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/**
 * float32 → binary16 bits with round-to-nearest-even (overflow → ±Inf, underflow → subnormal/±0,
 * NaN → quiet NaN keeping the top payload bits). The input is first rounded to f32, as a cast from
 * an f32 tensor would be.
 */
export function f32ToF16Bit(x: number): number {
  const bits = f32Bits(x);
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;

  if (exp === 0xff) {
    if (mant === 0) return sign | 0x7c00;
    return sign | 0x7e00 | (mant >>> 13); // quiet NaN
  }
  // Unbiased exponent of the f32 value; f16 normal range is e in [-14, 15].
  const e = exp - 127;
  if (e > 15) return sign | 0x7c00;
  if (e >= -14) {
    // Normal half: keep 10 mantissa bits, round the dropped 13 to nearest even.
    let m = mant >>> 13;
    const rest = mant & 0x1fff;
    let he = e + 15;
    if (rest > 0x1000 || (rest === 0x1000 && (m & 1))) {
      m += 1;
      if (m === 0x400) { m = 0; he += 1; }
    }
    if (he >= 0x1f) return sign | 0x7c00;
    return sign | (he << 10) | m;
  }
  // Subnormal half (or zero). The value is full × 2^(e−23) with `full` the 24-bit significand;
  // in units of the half subnormal step 2^−24 that is full × 2^(e+1), i.e. full >> (−e − 1).
  if (exp === 0) return sign; // f32 zero/subnormal (< 2^-126) is far below half's smallest subnormal
  const full = mant | 0x800000;
  const shift = -e - 1; // ≥ 14 here
  if (shift > 24) return sign; // below half of the smallest subnormal: rounds to zero
  let m = full >>> shift;
  const rest = full & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  if (rest > halfway || (rest === halfway && (m & 1))) m += 1;
  // m may carry into 0x400, which is exactly the smallest normal half: the bit layout handles it.
  return sign | m;
}

/** float32 → bfloat16 bits with round-to-nearest-even; NaN → quiet NaN. */
export function f32ToBf16Bit(x: number): number {
  const bits = f32Bits(x);
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0) {
    return ((bits >>> 16) | 0x40) & 0xffff;
  }
  const rounded = bits + 0x7fff + ((bits >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

// ---------------------------------------------------------------------------------------------
// Array conversions
// ---------------------------------------------------------------------------------------------

/** bfloat16 bit patterns → float32 (exact). */
export function bf16BitsToF32(u16: Uint16Array): Float32Array {
  const out = new Float32Array(u16.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < u16.length; i++) outBits[i] = u16[i] << 16;
  return out;
}

/** IEEE half bit patterns → float32 (exact). */
export function f16BitsToF32(u16: Uint16Array): Float32Array {
  const out = new Float32Array(u16.length);
  for (let i = 0; i < u16.length; i++) out[i] = f16BitsToNumber(u16[i]);
  return out;
}

/** float32 → IEEE half bit patterns, round-to-nearest-even. */
export function f32ToF16Bits(f32: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(f32.length);
  for (let i = 0; i < f32.length; i++) out[i] = f32ToF16Bit(f32[i]);
  return out;
}

/** float32 → bfloat16 bit patterns, round-to-nearest-even. */
export function f32ToBf16Bits(f32: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(f32.length);
  for (let i = 0; i < f32.length; i++) out[i] = f32ToBf16Bit(f32[i]);
  return out;
}
