import { describe, expect, it } from 'vitest';

import { asF32, asU16, toFloat32 } from '../../src/weights/dtype';
import {
  bf16BitsToF32,
  bitsToF32,
  f16BitsToF32,
  f16BitsToNumber,
  f32Bits,
  f32ToBf16Bit,
  f32ToBf16Bits,
  f32ToF16Bit,
  f32ToF16Bits,
} from '../../src/weights/half';

describe('f16 conversions', () => {
  it('decodes known half patterns', () => {
    expect(f16BitsToNumber(0x3c00)).toBe(1);
    expect(f16BitsToNumber(0xc000)).toBe(-2);
    expect(f16BitsToNumber(0x7bff)).toBe(65504);
    expect(f16BitsToNumber(0x0001)).toBe(2 ** -24);
    expect(f16BitsToNumber(0x03ff)).toBe(1023 * 2 ** -24);
    expect(f16BitsToNumber(0x0400)).toBe(2 ** -14);
    expect(f16BitsToNumber(0x7c00)).toBe(Infinity);
    expect(f16BitsToNumber(0xfc00)).toBe(-Infinity);
    expect(Number.isNaN(f16BitsToNumber(0x7e00))).toBe(true);
    expect(Object.is(f16BitsToNumber(0x8000), -0)).toBe(true);
  });

  it('every non-NaN half survives f16 → f32 → f16 exactly', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const f32 = f16BitsToF32(all);
    const back = f32ToF16Bits(f32);
    for (let h = 0; h < 65536; h++) {
      const isNaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (isNaN) {
        expect(Number.isNaN(f32[h])).toBe(true);
        expect((back[h] & 0x7c00) === 0x7c00 && (back[h] & 0x3ff) !== 0).toBe(true);
      } else if (back[h] !== h) {
        throw new Error(`half 0x${h.toString(16)} came back as 0x${back[h].toString(16)}`);
      }
    }
  });

  it('rounds to nearest even, including ties, overflow and subnormals', () => {
    // 1 + 2^-11 is exactly halfway between 1 and 1 + 2^-10 → even (1).
    expect(f32ToF16Bit(1 + 2 ** -11)).toBe(0x3c00);
    // 1 + 3·2^-11 is halfway between 1+2^-10 (odd mantissa) and 1+2^-9 → even (0x3c02).
    expect(f32ToF16Bit(1 + 3 * 2 ** -11)).toBe(0x3c02);
    // just above halfway rounds up
    expect(f32ToF16Bit(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01);
    expect(f32ToF16Bit(65504)).toBe(0x7bff);
    expect(f32ToF16Bit(65519)).toBe(0x7bff); // below the 65520 tie
    expect(f32ToF16Bit(65520)).toBe(0x7c00); // tie rounds to even = overflow → inf
    expect(f32ToF16Bit(1e9)).toBe(0x7c00);
    expect(f32ToF16Bit(-1e9)).toBe(0xfc00);
    expect(f32ToF16Bit(2 ** -24)).toBe(0x0001);
    expect(f32ToF16Bit(2 ** -25)).toBe(0x0000); // tie between 0 and 1 ulp → even (0)
    expect(f32ToF16Bit(3 * 2 ** -25)).toBe(0x0002); // tie between 1 and 2 ulps → even (2)
    expect(f32ToF16Bit(2 ** -25 * 1.0001)).toBe(0x0001);
    expect(f32ToF16Bit(2 ** -14 - 2 ** -25)).toBe(0x0400); // rounds up into the smallest normal
    expect(f32ToF16Bit(1e-30)).toBe(0x0000);
    expect(f32ToF16Bit(-1e-30)).toBe(0x8000);
    expect(f32ToF16Bit(Infinity)).toBe(0x7c00);
    const nan = f32ToF16Bit(NaN);
    expect((nan & 0x7c00) === 0x7c00 && (nan & 0x3ff) !== 0).toBe(true);
  });
});

describe('bf16 conversions', () => {
  it('every non-NaN bf16 survives bf16 → f32 → bf16 exactly', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const back = f32ToBf16Bits(bf16BitsToF32(all));
    for (let h = 0; h < 65536; h++) {
      const isNaN = (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;
      if (!isNaN && back[h] !== h) throw new Error(`bf16 0x${h.toString(16)} came back as 0x${back[h].toString(16)}`);
    }
  });

  it('rounds to nearest even', () => {
    expect(f32ToBf16Bit(1)).toBe(0x3f80);
    expect(f32ToBf16Bit(bitsToF32(0x3f808000))).toBe(0x3f80); // tie, even stays
    expect(f32ToBf16Bit(bitsToF32(0x3f818000))).toBe(0x3f82); // tie, odd rounds up
    expect(f32ToBf16Bit(bitsToF32(0x3f808001))).toBe(0x3f81);
    expect(f32ToBf16Bit(bitsToF32(0x7f7fffff))).toBe(0x7f80); // max f32 rounds to inf
    const nan = f32ToBf16Bit(bitsToF32(0x7f800001)); // signalling NaN with low payload only
    expect((nan & 0x7f80) === 0x7f80 && (nan & 0x7f) !== 0).toBe(true);
    expect(f32Bits(bf16BitsToF32(new Uint16Array([0xbf80]))[0])).toBe(0xbf800000);
  });
});

describe('byte views', () => {
  it('handles unaligned input by copying', () => {
    const buf = new Uint8Array(9);
    buf.set(new Uint8Array(new Float32Array([1.5, -2]).buffer), 1);
    expect(Array.from(asF32(buf.subarray(1)))).toEqual([1.5, -2]);
    expect(asU16(buf.subarray(1, 5)).length).toBe(2);
    expect(() => asF32(buf.subarray(0, 3))).toThrow(/multiple of 4/);
  });

  it('toFloat32 decodes several dtypes', () => {
    const f16 = f32ToF16Bits([1, -0.5]);
    expect(Array.from(toFloat32(new Uint8Array(f16.buffer), 'F16'))).toEqual([1, -0.5]);
    expect(Array.from(toFloat32(new Uint8Array(new Int8Array([-3, 7]).buffer), 'I8'))).toEqual([-3, 7]);
    expect(Array.from(toFloat32(new Uint8Array(new BigInt64Array([-5n]).buffer), 'I64'))).toEqual([-5]);
    expect(() => toFloat32(new Uint8Array(2), 'F8_E4M3')).toThrow(/unsupported/);
  });
});
