/**
 * safetensors dtype table and host-side numeric conversions.
 *
 * The conversions here are for tests and CPU reference paths; the engine itself converts on the GPU.
 * All multi-byte data in safetensors files is little-endian; the helpers below assume a little-endian
 * host (every platform WebGPU runs on) and copy unaligned inputs before viewing them.
 */

/** Every dtype name the safetensors format defines that this reader knows the element size of. */
export type SafetensorsDtype =
  | 'F64' | 'F32' | 'F16' | 'BF16'
  | 'I64' | 'I32' | 'I16' | 'I8'
  | 'U64' | 'U32' | 'U16' | 'U8'
  | 'BOOL'
  | 'F8_E4M3' | 'F8_E5M2' | 'F8_E8M0'
  | 'C64';

/** Bytes per element. */
export const DTYPE_SIZE: Readonly<Record<SafetensorsDtype, number>> = Object.freeze({
  F64: 8, F32: 4, F16: 2, BF16: 2,
  I64: 8, I32: 4, I16: 2, I8: 1,
  U64: 8, U32: 4, U16: 2, U8: 1,
  BOOL: 1,
  F8_E4M3: 1, F8_E5M2: 1, F8_E8M0: 1,
  C64: 8,
});

export function isSafetensorsDtype(s: unknown): s is SafetensorsDtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZE, s);
}

export function dtypeSize(dtype: SafetensorsDtype): number {
  return DTYPE_SIZE[dtype];
}

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
export function bf16ToF32(u16: Uint16Array): Float32Array {
  const out = new Float32Array(u16.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < u16.length; i++) outBits[i] = u16[i] << 16;
  return out;
}

/** IEEE half bit patterns → float32 (exact). */
export function f16ToF32(u16: Uint16Array): Float32Array {
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

// ---------------------------------------------------------------------------------------------
// Byte views
// ---------------------------------------------------------------------------------------------

/** Aligned copy when `bytes` does not start on a multiple of `align` (typed-array views need it). */
function aligned(bytes: Uint8Array, align: number): Uint8Array {
  return bytes.byteOffset % align === 0 ? bytes : bytes.slice();
}

function checkMultiple(bytes: Uint8Array, size: number, what: string): void {
  if (bytes.byteLength % size !== 0) {
    throw new RangeError(`${what}: ${bytes.byteLength} bytes is not a multiple of ${size}`);
  }
}

/** View little-endian bytes as u16 (copies only if unaligned). */
export function asU16(bytes: Uint8Array): Uint16Array {
  checkMultiple(bytes, 2, 'asU16');
  const b = aligned(bytes, 2);
  return new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
}

/** View little-endian bytes as f32 (copies only if unaligned). */
export function asF32(bytes: Uint8Array): Float32Array {
  checkMultiple(bytes, 4, 'asF32');
  const b = aligned(bytes, 4);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

/** Uint8Array view over any typed array's bytes (no copy). */
export function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/**
 * Decode tensor bytes of a numeric dtype to float32 (for tests and CPU references).
 * 64-bit integers are converted through Number and lose precision past 2^53 (then 2^24 in f32).
 * FP8 and complex dtypes throw.
 */
export function toFloat32(bytes: Uint8Array, dtype: SafetensorsDtype): Float32Array {
  const size = DTYPE_SIZE[dtype];
  checkMultiple(bytes, size, `toFloat32(${dtype})`);
  const n = bytes.byteLength / size;
  const b = aligned(bytes, size);
  switch (dtype) {
    case 'F32': return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    case 'F16': return f16ToF32(new Uint16Array(b.buffer, b.byteOffset, n));
    case 'BF16': return bf16ToF32(new Uint16Array(b.buffer, b.byteOffset, n));
    case 'F64': return Float32Array.from(new Float64Array(b.buffer, b.byteOffset, n));
    case 'I8': return Float32Array.from(new Int8Array(b.buffer, b.byteOffset, n));
    case 'U8': case 'BOOL': return Float32Array.from(b);
    case 'I16': return Float32Array.from(new Int16Array(b.buffer, b.byteOffset, n));
    case 'U16': return Float32Array.from(new Uint16Array(b.buffer, b.byteOffset, n));
    case 'I32': return Float32Array.from(new Int32Array(b.buffer, b.byteOffset, n));
    case 'U32': return Float32Array.from(new Uint32Array(b.buffer, b.byteOffset, n));
    case 'I64': return Float32Array.from(new BigInt64Array(b.buffer, b.byteOffset, n), (v) => Number(v));
    case 'U64': return Float32Array.from(new BigUint64Array(b.buffer, b.byteOffset, n), (v) => Number(v));
    default:
      throw new Error(`toFloat32: dtype ${dtype} is unsupported`);
  }
}
