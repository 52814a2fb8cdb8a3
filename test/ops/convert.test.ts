import { describe, expect, it } from 'vitest';
import { Recorder, type Gpu, type Tensor } from '../../src/gpu';
import { convert, convertToMatrix } from '../../src/ops/convert';
import * as ref from '../../src/ops/reference/convert';
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from '../../src/weights/half';
import { randomF32, rng, testGpu } from '../helpers/gpu';

/** Raw 16-bit values packed two per u32 word (element 2i in the low half), as the loader uploads them. */
function packHalves(bits: Uint16Array): Uint32Array<ArrayBuffer> {
  const words = new Uint32Array(Math.ceil(bits.length / 2));
  new Uint16Array(words.buffer).set(bits);
  return words;
}

/** Random values with a wide exponent range plus the special cases every conversion must get right. */
function nastyF32(n: number, seed: number): Float32Array<ArrayBuffer> {
  const r = rng(seed);
  const out = new Float32Array(n);
  const specials = [0, -0, Infinity, -Infinity, NaN, 65504, 65520, -70000, 6.1e-5, 5.96e-8, 2.98e-8, 1e-9,
    1.00048828125, 1.000244140625, 2049, 3.4e38];
  for (let i = 0; i < n; i++) {
    out[i] = i < specials.length && n > 100 ? specials[i] : (r() * 2 - 1) * 2 ** Math.floor(r() * 40 - 26);
  }
  return out;
}

function sameBits(a: Uint16Array | Uint32Array, b: Uint16Array | Uint32Array): number {
  let bad = 0;
  for (let i = 0; i < b.length; i++) if (a[i] !== b[i]) bad++;
  return bad;
}

async function readHalves(gpu: Gpu, t: Tensor): Promise<Uint16Array> {
  const raw = await gpu.read(t);
  return new Uint16Array(raw.buffer, raw.byteOffset, t.numel);
}

describe('convert', () => {
  for (const n of [1, 7, 65, 1000, 70_001]) {
    it(`bf16 → f32 and bf16 → f16 (packed and native) are bit-exact at n=${n}`, async () => {
      const gpu = await testGpu();
      const bf = f32ToBf16Bits(nastyF32(n, n));
      const src = gpu.upload('bf16', packHalves(bf), [Math.ceil(n / 2)], 'u32');
      const o32 = gpu.tensor('f32', [n], 'f32');
      const o16p = gpu.tensor('f16p', [n], 'f16');
      const o16n = gpu.tensor('f16n', [n], 'f16');
      const rec = new Recorder(gpu, 'convert');
      convert(rec, src, o32, { from: 'bf16' });
      convert(rec, src, o16p, { from: 'bf16', packed: true });
      if (gpu.caps.f16) convert(rec, src, o16n, { from: 'bf16', packed: false });
      rec.submit();
      const want32 = new Uint32Array(bf16BitsToF32(bf).buffer);
      expect(sameBits(new Uint32Array((await gpu.readF32(o32)).buffer), want32)).toBe(0);
      const want16 = ref.bf16ToF16Bits(bf);
      expect(sameBits(await readHalves(gpu, o16p), want16)).toBe(0);
      if (gpu.caps.f16) expect(sameBits(await readHalves(gpu, o16n), want16)).toBe(0);
      gpu.release(src, o32, o16p, o16n);
    });
  }

  it('f16 → f32 and f32 → f16 are bit-exact, including subnormals, inf, NaN and halfway cases', async () => {
    const gpu = await testGpu();
    const n = 4099;
    const x = nastyF32(n, 3);
    const h = f32ToF16Bits(x);
    const th = gpu.upload('h', packHalves(h), [Math.ceil(n / 2)], 'u32');
    const tx = gpu.upload('x', x, [n], 'f32');
    const o32 = gpu.tensor('o32', [n], 'f32');
    const o16 = gpu.tensor('o16', [n], 'f16');
    const o16n = gpu.tensor('o16n', [n], 'f16');
    const rec = new Recorder(gpu, 'convert f16');
    convert(rec, th, o32, { from: 'f16' });
    convert(rec, tx, o16, { from: 'f32', packed: true });
    if (gpu.caps.f16) convert(rec, tx, o16n, { from: 'f32', packed: false });
    rec.submit();
    const want32 = f16BitsToF32(h);
    const got32 = await gpu.readF32(o32);
    expect(sameBits(new Uint32Array(got32.buffer, got32.byteOffset, n), new Uint32Array(want32.buffer))).toBe(0);
    expect(sameBits(await readHalves(gpu, o16), h)).toBe(0);
    if (gpu.caps.f16) expect(sameBits(await readHalves(gpu, o16n), h)).toBe(0);
    gpu.release(th, tx, o32, o16, o16n);
  });

  for (const [srcOffset, dstOffset, count] of [[1, 0, 7], [0, 1, 8], [3, 5, 1], [2, 3, 1001], [5, 6, 64], [1, 1, 2],
    [3, 3, 1001], [2, 2, 1001], [0, 0, 4097]]) {
    it(`odd offsets keep neighbours intact (src +${srcOffset}, dst +${dstOffset}, n=${count})`, async () => {
      const gpu = await testGpu();
      const total = srcOffset + count + 3;
      const bf = f32ToBf16Bits(randomF32(total, 40 + count, 8));
      const src = gpu.upload('bf16', packHalves(bf), [Math.ceil(total / 2)], 'u32');
      const dn = dstOffset + count + 3;
      const fill16 = new Uint16Array(dn).fill(0xabcd);
      const fill32 = new Float32Array(dn).fill(-7.25);
      const d16 = gpu.upload('d16', fill16, [dn], 'f16');
      const d16n = gpu.upload('d16n', fill16, [dn], 'f16');
      const d32 = gpu.upload('d32', fill32, [dn], 'f32');
      const rec = new Recorder(gpu, 'convert offsets');
      convert(rec, src, d16, { from: 'bf16', srcOffset, dstOffset, count, packed: true });
      if (gpu.caps.f16) convert(rec, src, d16n, { from: 'bf16', srcOffset, dstOffset, count, packed: false });
      convert(rec, src, d32, { from: 'bf16', srcOffset, dstOffset, count });
      rec.submit();
      const want16 = fill16.slice();
      want16.set(ref.bf16ToF16Bits(bf.subarray(srcOffset, srcOffset + count)), dstOffset);
      const want32 = fill32.slice();
      want32.set(bf16BitsToF32(bf.subarray(srcOffset, srcOffset + count)), dstOffset);
      expect(sameBits(await readHalves(gpu, d16), want16)).toBe(0);
      if (gpu.caps.f16) expect(sameBits(await readHalves(gpu, d16n), want16)).toBe(0);
      expect(Array.from(await gpu.readF32(d32))).toEqual(Array.from(want32));
      gpu.release(src, d16, d16n, d32);
    });
  }

  it('splits ranges larger than one storage binding (forced 4 KiB limit), bit-exact', async () => {
    const gpu = await testGpu();
    const n = 10_007;
    const bf = f32ToBf16Bits(randomF32(n, 77, 3));
    const src = gpu.upload('bf16', packHalves(bf), [Math.ceil(n / 2)], 'u32');
    const d32 = gpu.tensor('d32', [n + 1], 'f32');
    const d16 = gpu.tensor('d16', [n + 1], 'f16');
    const rec = new Recorder(gpu, 'convert split');
    convert(rec, src, d32, { from: 'bf16', dstOffset: 1, count: n, maxBindingBytes: 4096 });
    convert(rec, src, d16, { from: 'bf16', dstOffset: 1, count: n, maxBindingBytes: 4096, packed: true });
    expect(rec.count).toBeGreaterThan(10);
    rec.submit();
    const got32 = (await gpu.readF32(d32)).subarray(1);
    expect(sameBits(new Uint32Array(got32.slice().buffer), new Uint32Array(bf16BitsToF32(bf).buffer))).toBe(0);
    expect(sameBits((await readHalves(gpu, d16)).subarray(1), ref.bf16ToF16Bits(bf))).toBe(0);
    gpu.release(src, d32, d16);
  });

  it('vectorised body + element-wise head/tail give the same bits as the element-wise kernel alone, ' +
    'split too', async () => {
    const gpu = await testGpu();
    const n = 20_011;
    const bf = f32ToBf16Bits(nastyF32(n + 3, 8));
    const src = gpu.upload('bf16', packHalves(bf), [Math.ceil((n + 3) / 2)], 'u32');
    const outs = [gpu.tensor('a32', [n + 2], 'f32'), gpu.tensor('b32', [n + 2], 'f32'),
      gpu.tensor('a16', [n + 3], 'f16'), gpu.tensor('b16', [n + 3], 'f16')];
    const rec = new Recorder(gpu, 'convert vec');
    convert(rec, src, outs[0], { from: 'bf16', srcOffset: 2, dstOffset: 2, count: n, maxBindingBytes: 8192 });
    convert(rec, src, outs[1], { from: 'bf16', srcOffset: 2, dstOffset: 2, count: n, vec: false });
    convert(rec, src, outs[2], { from: 'bf16', srcOffset: 3, dstOffset: 3, count: n, maxBindingBytes: 8192 });
    convert(rec, src, outs[3], { from: 'bf16', srcOffset: 3, dstOffset: 3, count: n, vec: false, packed: true });
    rec.submit();
    const raw = await Promise.all(outs.map((t) => gpu.read(t)));
    const words = raw.map((r) => new Uint16Array(r.buffer, r.byteOffset, r.byteLength / 2));
    expect(sameBits(words[0].subarray(4), words[1].subarray(4))).toBe(0);
    expect(sameBits(words[2].subarray(3), words[3].subarray(3))).toBe(0);
    expect(sameBits(words[3].subarray(3, 3 + n), ref.bf16ToF16Bits(bf.subarray(3, 3 + n)))).toBe(0);
    gpu.release(src, ...outs);
  });

  it('convertToMatrix fills rows across row blocks', async () => {
    const gpu = await testGpu();
    const rows = 37, cols = 13;
    const m = gpu.matrix('m', rows, cols, 'f32', 5 * cols * 4); // 5 rows per block → 8 blocks
    expect(m.blocks.length).toBe(8);
    const bf = f32ToBf16Bits(randomF32(rows * cols + 1, 5, 2));
    const src = gpu.upload('bf16', packHalves(bf), [Math.ceil(bf.length / 2)], 'u32');
    const rec = new Recorder(gpu, 'convert matrix');
    convertToMatrix(rec, src, m, { row0: 0, rows, from: 'bf16', srcOffset: 1 });
    rec.submit();
    const want = bf16BitsToF32(bf.subarray(1));
    for (const b of m.blocks) {
      const got = await gpu.readF32(b.tensor);
      expect(Array.from(got)).toEqual(Array.from(want.subarray(b.row0 * cols, (b.row0 + b.rows) * cols)));
    }
    gpu.release(src);
  });

  it('rejects out-of-range requests with the tensor name', async () => {
    const gpu = await testGpu();
    const src = gpu.tensor('conv.src', [4], 'u32');
    const dst = gpu.tensor('conv.dst', [8], 'f32');
    const rec = new Recorder(gpu, 'bad');
    expect(() => convert(rec, src, dst, { from: 'bf16', count: 9 })).toThrow(/conv\.src/);
    expect(() => convert(rec, src, dst, { from: 'f32', count: 4, dstOffset: 6 })).toThrow(/conv\.dst/);
    gpu.release(src, dst);
  });
});
