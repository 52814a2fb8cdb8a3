import { afterAll, describe, expect, it } from 'vitest';
import { Gpu, Recorder, f16BitsToF32, f32ToF16Bits } from '../../src/gpu';
import { embed } from '../../src/ops/embedding';
import * as ref from '../../src/ops/reference/embedding';
import { randomF32, rng, testGpu } from '../helpers/gpu';

function randomIds(n: number, vocab: number, seed: number): Uint32Array<ArrayBuffer> {
  const r = rng(seed);
  return Uint32Array.from({ length: n }, () => Math.floor(r() * vocab));
}

let fallback: Promise<Gpu> | undefined;
function fallbackGpu(): Promise<Gpu> {
  fallback ??= Gpu.create({ disableFeatures: ['subgroups', 'shader-f16'] });
  return fallback;
}
afterAll(async () => { if (fallback) (await fallback).destroy(); });

describe('embedding', () => {
  const shapes: [number, number, number][] = [[1, 1, 1], [7, 65, 1000], [65, 33, 17], [1000, 128, 300]];
  for (const [n, d, vocab] of shapes) {
    for (const kind of ['f32', 'f16 native', 'f16 packed'] as const) {
      it(`gathers ${n} ids from a [${vocab}, ${d}] ${kind} table exactly`, async (ctx) => {
        const gpu = await testGpu();
        if (kind === 'f16 native' && !gpu.caps.f16) ctx.skip('no shader-f16 on this adapter');
        let table = randomF32(vocab * d, n + d, 3);
        const bits = f32ToF16Bits(table);
        if (kind !== 'f32') table = f16BitsToF32(bits) as Float32Array<ArrayBuffer>;
        const ids = randomIds(n, vocab, d);
        if (n > 2) ids[n - 1] = vocab + 5; // out of range → zeros
        const tt = kind === 'f32' ? gpu.upload('E', table, [vocab, d], 'f32') :
          gpu.upload('E16', bits, [vocab, d], 'f16');
        const ti = gpu.upload('ids', ids, [n], 'u32');
        const fill = randomF32(n * d, 9, 100);
        const to = gpu.upload('out', fill, [n, d], 'f32');
        const rec = new Recorder(gpu, 'embed test');
        embed(rec, tt, ti, to, { f16Table: kind === 'f16 packed' ? 'packed' : undefined });
        rec.submit();
        expect(Array.from(await gpu.readF32(to))).toEqual(Array.from(ref.embed(table, d, ids, fill)));
        gpu.release(tt, ti, to);
      });
    }
  }

  it('gathers across the blocks of a RowBlockedMatrix (f16 packed, no shader-f16 device)', async () => {
    const gpu = await fallbackGpu();
    const vocab = 50, d = 6;
    const m = gpu.matrix('E.blocked', vocab, d, 'f16', 7 * d * 2); // 7 rows per block → 8 blocks
    expect(m.blocks.length).toBe(8);
    const bits = f32ToF16Bits(randomF32(vocab * d, 4, 2));
    gpu.writeRows(m, 0, bits);
    const ids = Uint32Array.from([0, 6, 7, 49, 13, 13, 48, 21, 60]);
    const ti = gpu.upload('ids', ids, [ids.length], 'u32');
    const to = gpu.tensor('out', [ids.length, d], 'f32');
    const rec = new Recorder(gpu, 'embed blocked');
    embed(rec, m, ti, to);
    expect(rec.count).toBe(8);
    rec.submit();
    const want = ref.embed(f16BitsToF32(bits), d, ids, new Float32Array(ids.length * d));
    expect(Array.from(await gpu.readF32(to))).toEqual(Array.from(want));
    gpu.release(ti, to);
  });

  it('splits a single large table tensor into row ranges (forced 1 KiB binding limit)', async () => {
    const gpu = await testGpu();
    const vocab = 300, d = 10;
    const table = randomF32(vocab * d, 12, 1);
    const ids = randomIds(40, vocab, 13);
    const tt = gpu.upload('E', table, [vocab, d], 'f32');
    const ti = gpu.upload('ids', ids, [ids.length], 'u32');
    const to = gpu.tensor('out', [ids.length, d], 'f32');
    const rec = new Recorder(gpu, 'embed split');
    embed(rec, tt, ti, to, { maxBindingBytes: 2048 });
    expect(rec.count).toBeGreaterThan(5);
    rec.submit();
    expect(Array.from(await gpu.readF32(to))).toEqual(Array.from(ref.embed(table, d, ids,
      new Float32Array(ids.length * d))));
    gpu.release(tt, ti, to);
  });

  it('splices rows into arbitrary destination rows (dstRows) and at an offset (dstRow0), leaving ' +
    'others intact', async () => {
    const gpu = await testGpu();
    const vocab = 40, d = 9, outRows = 12;
    const table = randomF32(vocab * d, 21, 1);
    const ids = Uint32Array.from([5, 39, 0, 17]);
    const rows = Uint32Array.from([11, 2, 7, 40]); // 40 is beyond the output: skipped
    const fill = randomF32(outRows * d, 22, 50);
    const tt = gpu.upload('E', table, [vocab, d], 'f32');
    const ti = gpu.upload('ids', ids, [4], 'u32');
    const tr = gpu.upload('rows', rows, [4], 'u32');
    const o1 = gpu.upload('o1', fill, [outRows, d], 'f32');
    const o2 = gpu.upload('o2', fill, [outRows, d], 'f32');
    const rec = new Recorder(gpu, 'embed splice');
    embed(rec, tt, ti, o1, { dstRows: tr });
    embed(rec, tt, ti, o2, { dstRow0: 8 });
    rec.submit();
    expect(Array.from(await gpu.readF32(o1))).toEqual(Array.from(ref.embed(table, d, ids, fill, rows)));
    expect(Array.from(await gpu.readF32(o2))).toEqual(Array.from(ref.embed(table, d, ids, fill, undefined, 8)));
    gpu.release(tt, ti, tr, o1, o2);
  });

  it('rejects bad arguments naming the tensor', async () => {
    const gpu = await testGpu();
    const t = gpu.tensor('e.table', [10, 4], 'f32');
    const ids = gpu.tensor('e.ids', [3], 'u32');
    const out = gpu.tensor('e.out', [2, 4], 'f32');
    const rec = new Recorder(gpu, 'bad');
    expect(() => embed(rec, t, ids, out)).toThrow(/e\.out/);
    expect(() => embed(rec, t, out, out)).toThrow(/u32/);
    gpu.release(t, ids, out);
  });
});
