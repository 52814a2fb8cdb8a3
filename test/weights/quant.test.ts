/**
 * INT8 quantisation on the host (src/weights/quant.ts): the per-row, per-group rounding and its error bound,
 * f16 scales, padding of rows to whole groups, the activation quantiser the W8A8 reference uses, scheme
 * metadata, and `quantizeCheckpoint` end to end on an in-memory checkpoint (streamed in small chunks).
 */
import { describe, expect, it } from 'vitest';
import { FileMapProvider, Checkpoint } from '../../src/weights/checkpoint';
import { toFloat32 } from '../../src/weights/dtype';
import { bf16BitsToF32, f16BitsToNumber, f32ToBf16Bits } from '../../src/weights/half';
import { writeSafetensors, type ByteSink } from '../../src/weights/safetensors-writer';
import {
  checkpointScheme, dequantizeRows, groupsOf, isQuantizable, padRows, parseScheme, quantizeActivations,
  quantizeCheckpoint, quantizeRows,
  roundEven, SCALE_SUFFIX, schemeMetadata,
} from '../../src/weights/quant';
import { randomF32 } from '../helpers/gpu';

describe('quantizeRows / dequantizeRows', () => {
  for (const [rows, K, G] of [[5, 64, 64], [3, 80, 64], [7, 200, 32], [2, 50, 128], [1, 1, 32]] as const) {
    it(`rows=${rows} K=${K} G=${G}: |w − q·s| ≤ s/2 (+ f32 rounding), scales = max|w|/127 in f16`, () => {
      const w = randomF32(rows * K, rows * K + G, 2);
      w[0] = 3.75; // an exact maximum somewhere
      const { q, scales } = quantizeRows(w, rows, K, G);
      expect(scales.length).toBe(rows * groupsOf(K, G));
      const d = dequantizeRows(q, scales, rows, K, G);
      for (let r = 0; r < rows; r++) {
        for (let g = 0; g < groupsOf(K, G); g++) {
          const s = f16BitsToNumber(scales[r * groupsOf(K, G) + g]);
          let amax = 0;
          for (let k = g * G; k < Math.min(K, (g + 1) * G); k++) {
            amax = Math.max(amax, Math.abs(w[r * K + k]));
            expect(Math.abs(q[r * K + k])).toBeLessThanOrEqual(127);
            expect(Math.abs(w[r * K + k] - d[r * K + k])).toBeLessThanOrEqual(s / 2 + 1e-6 * amax);
          }
          expect(Math.abs(s - amax / 127) / (amax / 127)).toBeLessThan(2 ** -10); // f16 rounding of the scale
        }
      }
    });
  }

  it('all-zero groups give scale 0 and q 0; non-finite weights are rejected', () => {
    const w = new Float32Array(128);
    w[100] = 1;
    const { q, scales } = quantizeRows(w, 1, 128, 64);
    expect(f16BitsToNumber(scales[0])).toBe(0);
    expect(q[100]).toBe(127);
    expect(Array.from(q.subarray(0, 64)).every((v) => v === 0)).toBe(true);
    w[3] = NaN;
    expect(() => quantizeRows(w, 1, 128, 64)).toThrow(/non-finite/);
  });

  it('padRows pads each row to whole groups with zeros', () => {
    const q = Int8Array.from([1, 2, 3, -1, -2, -3]);
    expect(padRows(q, 2, 3, 32).length).toBe(64);
    const p = padRows(q, 2, 3, 32);
    expect(Array.from(p.subarray(0, 4))).toEqual([1, 2, 3, 0]);
    expect(new Int8Array(p.buffer, 32, 3)).toEqual(Int8Array.from([-1, -2, -3]));
    const full = new Int8Array(64);
    expect(padRows(full, 1, 64, 64).buffer).toBe(full.buffer); // no copy when K % G == 0
  });
});

describe('activation quantisation (W8A8 reference)', () => {
  it('roundEven rounds halves to even like WGSL round()', () => {
    expect([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.4, -2.6].map(roundEven)).toEqual([-2, -2, -0, 0, 2, 2, 2, -3]);
  });
  it('q = roundEven(x · 127 / max|x|) per row and group, s = max|x| / 127', () => {
    const x = Float32Array.from([0.5, -1, 0.25, 0, 0, 0, 0, 0]);
    const { q, scales } = quantizeActivations(x, 2, 4, 32);
    expect(Array.from(q.subarray(0, 4))).toEqual([64, -127, 32, 0]); // 63.5 → 64 (even), 31.75 → 32
    expect(scales[0]).toBeCloseTo(1 / 127, 9);
    expect(scales[1]).toBe(0);
  });
});

describe('scheme metadata and tensor selection', () => {
  it('round-trips the metadata and rejects unknown schemes', () => {
    expect(parseScheme(schemeMetadata(64)))
      .toEqual({ name: 'int8-sym-g64', bits: 8, groupSize: 64, scaleDtype: 'F16' });
    expect(parseScheme({ format: 'pt' })).toBeNull();
    expect(parseScheme(null)).toBeNull();
    expect(() => parseScheme({ quantization: 'int4-g32' })).toThrow(/unsupported/);
    expect(() => parseScheme({ quantization: 'int8-sym-g48' })).toThrow(/group size/);
    expect(() => parseScheme({ quantization: 'int8-sym-g64', group_size: '32' })).toThrow(/disagrees/);
  });
  it('quantises 2-D .weight matrices only (not positional tables, norms, biases, convs)', () => {
    expect(isQuantizable('a.self_attn.q_proj.weight', [64, 64])).toBe(true);
    expect(isQuantizable('language_model.model.embed_tokens.weight', [674, 64])).toBe(true);
    expect(isQuantizable('audio_tower.embed_positions.weight', [1500, 64])).toBe(false);
    expect(isQuantizable('a.input_layernorm.weight', [64])).toBe(false);
    expect(isQuantizable('a.q_proj.bias', [64])).toBe(false);
    expect(isQuantizable('audio_tower.conv1.weight', [64, 128, 3])).toBe(false);
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

describe('quantizeCheckpoint', () => {
  it('streams a BF16 checkpoint into the INT8 format (names, dtypes, shapes, metadata, values)', async () => {
    const fc = randomF32(40 * 80, 1, 0.1);
    const emb = randomF32(33 * 64, 2, 0.5);
    const norm = randomF32(80, 3);
    const conv = randomF32(8 * 4 * 3, 4);
    const bf = (a: Float32Array) => new Uint8Array(f32ToBf16Bits(a).buffer);
    const src = writeSafetensors([
      { name: 'model.layers.0.mlp.fc.weight', dtype: 'BF16', shape: [40, 80], data: bf(fc) },
      { name: 'model.layers.0.mlp.fc.bias', dtype: 'BF16', shape: [80], data: bf(norm) },
      { name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [33, 64], data: bf(emb) },
      { name: 'model.conv.weight', dtype: 'BF16', shape: [8, 4, 3], data: bf(conv) },
    ], { format: 'pt' });
    const ckpt = await Checkpoint.open(new FileMapProvider([['model.safetensors', new Blob([src])]]));
    const sink = new MemorySink();
    const seen: string[] = [];
    // 1000-byte chunks: several row chunks per matrix.
    const summary = await quantizeCheckpoint(ckpt, sink, {
      groupSize: 32, chunkBytes: 1000, onTensor: (p) => seen.push(p.name),
    });
    expect(summary).toMatchObject({ scheme: 'int8-sym-g32', tensors: 4, quantized: 2 });
    expect(seen).toHaveLength(4);

    const out = await Checkpoint.open(new FileMapProvider([['model.safetensors', new Blob([sink.bytes()])]]));
    expect(checkpointScheme(out)).toEqual({ name: 'int8-sym-g32', bits: 8, groupSize: 32, scaleDtype: 'F16' });
    expect(out.files.get('model.safetensors')!.metadata).toMatchObject({
      format: 'pt', quantization: 'int8-sym-g32', group_size: '32', quantized_from: 'BF16',
    });
    expect([...out.tensors.keys()]).toEqual([
      'model.layers.0.mlp.fc.weight', `model.layers.0.mlp.fc.weight${SCALE_SUFFIX}`, 'model.layers.0.mlp.fc.bias',
      'model.embed_tokens.weight', `model.embed_tokens.weight${SCALE_SUFFIX}`, 'model.conv.weight',
    ]);
    expect(out.get('model.layers.0.mlp.fc.weight')).toMatchObject({ dtype: 'I8', shape: [40, 80] });
    expect(out.get(`model.layers.0.mlp.fc.weight${SCALE_SUFFIX}`)).toMatchObject({ dtype: 'F16', shape: [40, 3] });
    expect(out.get('model.conv.weight')).toMatchObject({ dtype: 'BF16', shape: [8, 4, 3] });
    // Float tensors are copied bit for bit; matrices equal the host quantisation of the bf16 values.
    expect(Array.from(await out.read('model.conv.weight'))).toEqual(Array.from(bf(conv)));
    const want = quantizeRows(bf16BitsToF32(f32ToBf16Bits(fc)), 40, 80, 32);
    expect(new Int8Array((await out.read('model.layers.0.mlp.fc.weight')).buffer)).toEqual(want.q);
    expect(new Uint16Array((await out.read(`model.layers.0.mlp.fc.weight${SCALE_SUFFIX}`)).buffer))
      .toEqual(want.scales);
    const deq = dequantizeRows(want.q, want.scales, 40, 80, 32);
    expect(Math.max(...deq.map((v, i) => Math.abs(v - toFloat32(bf(fc), 'BF16')[i])))).toBeLessThan(0.1 / 127);

    // Quantising again is refused; an I8 tensor without the metadata is reported.
    await expect(quantizeCheckpoint(out, new MemorySink())).rejects.toThrow(/already quantised/);
    const bare = writeSafetensors([{ name: 'w.weight', dtype: 'I8', shape: [2, 2], data: new Uint8Array(4) }]);
    const bareCkpt = await Checkpoint.open(new FileMapProvider([['model.safetensors', new Blob([bare])]]));
    expect(() => checkpointScheme(bareCkpt)).toThrow(/no file declares a quantization scheme/);
  });
});
