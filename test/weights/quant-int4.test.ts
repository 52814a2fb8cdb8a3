/**
 * 4-bit quantisation on the host (src/weights/quant.ts, docs/quantization.md): the rounding and its error bound
 * at awkward sizes (K odd, K not a multiple of G, one element), the packing (two codes per byte, low nibble
 * first, code = q + 8), the GPU row padding, the scheme metadata, the checks that name a bad tensor, and
 * `quantizeCheckpoint --bits 4` end to end on an in-memory checkpoint streamed in small chunks.
 */
import { describe, expect, it } from 'vitest';
import { Checkpoint, FileMapProvider } from '../../src/weights/checkpoint';
import { bf16BitsToF32, f16BitsToNumber, f32ToBf16Bits } from '../../src/weights/half';
import { writeSafetensors, type ByteSink } from '../../src/weights/safetensors-writer';
import {
  checkpointScheme, dequantizeRows4, groupsOf, packedRowBytes4, padRows4, parseScheme, quantizeCheckpoint,
  quantizeRows4, quantMatrixProblem, SCALE_SUFFIX, schemeMetadata, type QuantScheme,
} from '../../src/weights/quant';
import { randomF32 } from '../helpers/gpu';

describe('quantizeRows4 / dequantizeRows4', () => {
  const sizes = [[5, 64, 32], [3, 81, 32], [7, 200, 64], [2, 50, 128], [1, 1, 32], [4, 2047, 64]] as const;
  for (const [rows, K, G] of sizes) {
    it(`rows=${rows} K=${K} G=${G}: w* exact, |w − q·s| ≤ |s| (≤ |s|/2 inside the code range), ` +
      'rel RMS < 0.1', () => {
      const w = randomF32(rows * K, rows * K + G, 2);
      const { packed, scales } = quantizeRows4(w, rows, K, G);
      expect(packed.length).toBe(rows * packedRowBytes4(K));
      expect(scales.length).toBe(rows * groupsOf(K, G));
      const d = dequantizeRows4(packed, scales, rows, K, G);
      let se = 0;
      let sw = 0;
      for (let r = 0; r < rows; r++) {
        for (let g = 0; g < groupsOf(K, G); g++) {
          const s = f16BitsToNumber(scales[r * groupsOf(K, G) + g]);
          let peak = 0;
          for (let k = g * G; k < Math.min(K, (g + 1) * G); k++) {
            if (Math.abs(w[r * K + k]) > Math.abs(peak)) peak = w[r * K + k];
          }
          expect(Math.abs(s + peak / 8)).toBeLessThanOrEqual((Math.abs(peak) / 8) * 2 ** -10); // f16 rounding
          for (let k = g * G; k < Math.min(K, (g + 1) * G); k++) {
            const e = Math.abs(w[r * K + k] - d[r * K + k]);
            const inside = w[r * K + k] / s <= 7.5; // codes reach −8 s .. 7 s
            expect(e).toBeLessThanOrEqual((inside ? Math.abs(s) / 2 : Math.abs(s)) + 1e-6 * Math.abs(peak));
            se += e * e;
            sw += w[r * K + k] ** 2;
          }
        }
      }
      expect(Math.sqrt(se / sw)).toBeLessThan(0.1); // uniform weights: ≈ 0.06; Gaussian-like ones ≈ 0.09 (docs)
      if (K % 2) for (let r = 0; r < rows; r++) expect(packed[(r + 1) * packedRowBytes4(K) - 1] >> 4).toBe(0);
    });
  }

  it('packs q + 8 two per byte, low nibble first; all-zero groups give scale 0 and q 0; non-finite is refused', () => {
    const w = new Float32Array(64);
    w.set([-8, 7, 1, -1, 0.4, -0.6], 32); // peak −8 → s = 1
    const { packed, scales } = quantizeRows4(w, 1, 64, 32);
    expect(f16BitsToNumber(scales[0])).toBe(0);
    expect(f16BitsToNumber(scales[1])).toBe(1);
    expect(Array.from(packed.subarray(0, 16)).every((b) => b === 0x88)).toBe(true);
    // q = −8, 7, 1, −1, 0 (0.4), −1 (−0.6: ties and more round away from zero) → codes 0, 15, 9, 7, 8, 7
    expect(Array.from(packed.subarray(16, 19))).toEqual([0xf0, 0x79, 0x78]);
    w[3] = Infinity;
    expect(() => quantizeRows4(w, 1, 64, 32)).toThrow(/row 0 group 0 has a non-finite weight/);
  });

  it('padRows4 pads rows to whole groups with code 8 (q = 0), also the unused nibble of an odd K', () => {
    const packed = Uint8Array.from([0x12, 0x34, 0x05, 0xab, 0xcd, 0x0e]); // 2 rows of K = 5
    const p = padRows4(packed, 2, 5, 32);
    expect(p.length).toBe(32);
    expect(Array.from(p.subarray(0, 4))).toEqual([0x12, 0x34, 0x85, 0x88]);
    expect(Array.from(p.subarray(16, 19))).toEqual([0xab, 0xcd, 0x8e]);
    const full = new Uint8Array(32);
    expect(padRows4(full, 1, 64, 32).buffer).toBe(full.buffer); // no copy when whole
  });
});

describe('4-bit scheme and the checks that name the tensor', () => {
  const scheme: QuantScheme = { name: 'int4-sym-g32', bits: 4, groupSize: 32, scaleDtype: 'F16' };
  const shape = [6, 100];
  const tensors = (w: { shape: number[]; dtype: string }, s: { shape: number[]; dtype: string }) =>
    new Map([['l.weight', w], [`l.weight${SCALE_SUFFIX}`, s]]);

  it('parses int4-sym-g{32,64,128}; rejects other group sizes and a group_size that disagrees', () => {
    expect(parseScheme(schemeMetadata(32, 4))).toEqual(scheme);
    expect(() => parseScheme({ quantization: 'int4-sym-g48' }, 'x.safetensors'))
      .toThrow(/x.safetensors: group size 48/);
    expect(() => parseScheme({ quantization: 'int4-sym-g32', group_size: '64' })).toThrow(/disagrees/);
    expect(() => parseScheme({ quantization: 'int4-asym-g32' })).toThrow(/unsupported quantization scheme/);
  });

  it('accepts U8 [out, ceil(in/2)] + F16 [out, groups]; ' +
    'refuses a truncated packed tensor, I8, a wrong scale count', () => {
    const okS = { shape: [6, 4], dtype: 'F16' };
    expect(quantMatrixProblem(tensors({ shape: [6, 50], dtype: 'U8' }, okS), 'l.weight', shape, scheme))
      .toBeUndefined();
    expect(quantMatrixProblem(tensors({ shape: [6, 49], dtype: 'U8' }, okS), 'l.weight', shape, scheme))
      .toBe('U8 [6,49]; an int4-sym-g32 checkpoint stores it as U8 [6,50] (two 4-bit codes per byte)');
    expect(quantMatrixProblem(tensors({ shape: [6, 100], dtype: 'I8' }, okS), 'l.weight', shape, scheme))
      .toMatch(/^I8 \[6,100\]; an int4-sym-g32 checkpoint stores it as U8/);
    // Scales written for G = 64 (2 per row) under a g32 scheme: the count does not match.
    expect(quantMatrixProblem(tensors({ shape: [6, 50], dtype: 'U8' }, { shape: [6, 2], dtype: 'F16' }), 'l.weight',
      shape, scheme)).toBe('"l.weight.scale" must be F16 [6,4] for int4-sym-g32, found F16 [6,2]');
  });
});

class MemorySink implements ByteSink {
  readonly name = 'memory';
  parts: Uint8Array[] = [];
  async write(b: Uint8Array) { this.parts.push(b.slice()); }
  async close() {}
  bytes(): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(this.parts.reduce((s, p) => s + p.length, 0));
    let o = 0;
    for (const p of this.parts) { out.set(p, o); o += p.length; }
    return out;
  }
}

describe('quantizeCheckpoint bits 4', () => {
  it('streams a BF16 checkpoint into int4-sym-g32 (names, dtypes, shapes, metadata, values)', async () => {
    const fc = randomF32(40 * 81, 1, 0.1); // odd K: the last byte of each row holds one code
    const bias = randomF32(40, 3);
    const bf = (a: Float32Array) => new Uint8Array(f32ToBf16Bits(a).buffer);
    const src = writeSafetensors([
      { name: 'model.fc.weight', dtype: 'BF16', shape: [40, 81], data: bf(fc) },
      { name: 'model.fc.bias', dtype: 'BF16', shape: [40], data: bf(bias) },
    ], { format: 'pt' });
    const ckpt = await Checkpoint.open(new FileMapProvider([['model.safetensors', new Blob([src])]]));
    const sink = new MemorySink();
    const summary = await quantizeCheckpoint(ckpt, sink, { bits: 4, chunkBytes: 1000 });
    expect(summary).toMatchObject({ scheme: 'int4-sym-g32', tensors: 2, quantized: 1 });
    expect(summary.worstRelError).toBeLessThanOrEqual(1 / 8 + 1e-3); // |e| ≤ |s| = max|w| / 8
    const out = await Checkpoint.open(new FileMapProvider([['model.safetensors', new Blob([sink.bytes()])]]));
    expect(checkpointScheme(out)).toEqual({ name: 'int4-sym-g32', bits: 4, groupSize: 32, scaleDtype: 'F16' });
    expect(out.files.get('model.safetensors')!.metadata)
      .toMatchObject({ quantization: 'int4-sym-g32', group_size: '32' });
    expect(out.get('model.fc.weight')).toMatchObject({ dtype: 'U8', shape: [40, 41] });
    expect(out.get(`model.fc.weight${SCALE_SUFFIX}`)).toMatchObject({ dtype: 'F16', shape: [40, 3] });
    const want = quantizeRows4(bf16BitsToF32(f32ToBf16Bits(fc)), 40, 81, 32);
    expect(new Uint8Array(await out.read('model.fc.weight'))).toEqual(want.packed);
    expect(new Uint16Array((await out.read(`model.fc.weight${SCALE_SUFFIX}`)).buffer)).toEqual(want.scales);
    expect(Array.from(await out.read('model.fc.bias'))).toEqual(Array.from(bf(bias)));
  });
});
