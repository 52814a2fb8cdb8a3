/**
 * safetensors dtype table, byte views and the decode of tensor bytes to f32 (half conversions: ./half.ts).
 *
 * All multi-byte data in safetensors files is little-endian; the helpers below assume a little-endian
 * host (every platform WebGPU runs on) and copy unaligned inputs before viewing them.
 */
import { bf16BitsToF32, f16BitsToF32 } from './half';

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
    case 'F16': return f16BitsToF32(new Uint16Array(b.buffer, b.byteOffset, n));
    case 'BF16': return bf16BitsToF32(new Uint16Array(b.buffer, b.byteOffset, n));
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
