import { describe, expect, it } from 'vitest';
import { f16BitsToF32, f32ToF16Bits, Recorder, type Gpu } from '../../src/gpu';
import { decodeRows } from '../../src/ops/attention';
import { KvCache, reorderKv, writeKv, type KvCacheShape, type KvDType } from '../../src/ops/kv-cache';
import * as ref from '../../src/ops/reference/attention';
import { randomF32, testGpu } from '../helpers/gpu';

/** f32 values as the f16 cache stores them. */
function roundF16(x: Float32Array): Float32Array {
  return f16BitsToF32(f32ToF16Bits(x));
}

/** A cache whose every position holds seeded values, plus its host mirror. */
async function filledCache(gpu: Gpu, label: string, shape: KvCacheShape & { dtype: KvDType }, seed: number) {
  const cache = KvCache.create(gpu, label, shape);
  const host = { k: ref.emptyCache(shape), v: ref.emptyCache(shape) };
  const rows = shape.beams * shape.maxSeq * shape.kvHeads * shape.headDim;
  let k: Float32Array = randomF32(rows, seed);
  let v: Float32Array = randomF32(rows, seed + 1);
  const tk = gpu.upload('rows.k', k, [shape.beams * shape.maxSeq, shape.kvHeads, shape.headDim], 'f32');
  const tv = gpu.upload('rows.v', v, [shape.beams * shape.maxSeq, shape.kvHeads, shape.headDim], 'f32');
  const rec = new Recorder(gpu, 'fill cache');
  writeKv(rec, tk, tv, cache, { pos: 0, tokens: shape.maxSeq });
  rec.submit();
  gpu.release(tk, tv);
  if (shape.dtype === 'f16') {
    k = roundF16(k);
    v = roundF16(v);
  }
  ref.writeKv(host.k, k, shape, 0, shape.maxSeq);
  ref.writeKv(host.v, v, shape, 0, shape.maxSeq);
  return { cache, host };
}

async function readCache(gpu: Gpu, cache: KvCache) {
  return { k: await gpu.readF32(cache.k), v: await gpu.readF32(cache.v) };
}

describe('KV cache', () => {
  const dtypes: KvDType[] = ['f32', 'f16'];
  for (const dtype of dtypes) {
    it(`${dtype}: prefill rows then decode rows land at their positions (beams 1 and 3), bit-exact`, async (ctx) => {
      const gpu = await testGpu();
      if (dtype === 'f16' && !gpu.caps.f16) ctx.skip('no shader-f16 on this adapter');
      for (const beams of [1, 3]) {
        const shape = { beams, maxSeq: 20, kvHeads: 2, headDim: 12, dtype };
        const { cache, host } = await filledCache(gpu, `kv.${dtype}.b${beams}`, shape, 10 + beams);
        // Prefill 7 rows at 3..9 for every beam, then one decode row per beam at 10.
        const steps = [{ pos: 3, tokens: 7 }, { pos: 10, tokens: 1 }];
        for (const [n, s] of steps.entries()) {
          const count = beams * s.tokens * shape.kvHeads * shape.headDim;
          let k: Float32Array = randomF32(count, 100 + n);
          let v: Float32Array = randomF32(count, 200 + n);
          const tk = gpu.upload('new.k', k, [beams * s.tokens, shape.kvHeads, shape.headDim], 'f32');
          const tv = gpu.upload('new.v', v, [beams * s.tokens, shape.kvHeads, shape.headDim], 'f32');
          const rec = new Recorder(gpu, 'write');
          writeKv(rec, tk, tv, cache, s);
          rec.submit();
          gpu.release(tk, tv);
          if (dtype === 'f16') {
            k = roundF16(k);
            v = roundF16(v);
          }
          ref.writeKv(host.k, k, shape, s.pos, s.tokens);
          ref.writeKv(host.v, v, shape, s.pos, s.tokens);
        }
        const got = await readCache(gpu, cache);
        expect(Array.from(got.k)).toEqual(Array.from(host.k));
        expect(Array.from(got.v)).toEqual(Array.from(host.v));
        expect(cache.length).toBe(20); // the fill wrote every position
        cache.destroy(gpu);
      }
    });

    it(`${dtype}: reorderKv gathers beams [2, 0, 0] over [from, pos) and leaves the rest alone`, async (ctx) => {
      const gpu = await testGpu();
      if (dtype === 'f16' && !gpu.caps.f16) ctx.skip('no shader-f16 on this adapter');
      const shape = { beams: 3, maxSeq: 33, kvHeads: 2, headDim: 8, dtype };
      const { cache, host } = await filledCache(gpu, `reorder.${dtype}`, shape, 7);
      const scratch = KvCache.like(gpu, `reorder.${dtype}.scratch`, cache);
      const idx = gpu.upload('beam_idx', new Uint32Array([2, 0, 0]), [3], 'u32');
      // Two reorders in one submit, the second on top of the first (as beam search does step after step).
      const rec = new Recorder(gpu, 'reorder');
      reorderKv(rec, cache, idx, scratch, { pos: 30, from: 0 });
      const idx2 = gpu.upload('beam_idx2', new Uint32Array([1, 2, 1]), [3], 'u32');
      reorderKv(rec, cache, idx2, scratch, { pos: 31, from: 5 });
      rec.submit();
      let want = { k: ref.reorderKv(host.k, [2, 0, 0], shape, 30), v: ref.reorderKv(host.v, [2, 0, 0], shape, 30) };
      want = { k: ref.reorderKv(want.k, [1, 2, 1], shape, 31, 5), v: ref.reorderKv(want.v, [1, 2, 1], shape, 31, 5) };
      const got = await readCache(gpu, cache);
      expect(Array.from(got.k)).toEqual(Array.from(want.k));
      expect(Array.from(got.v)).toEqual(Array.from(want.v));
      // Position 31, 32 were never reordered: still the original beam rows.
      const row = (a: Float32Array, b: number, h: number, p: number) =>
        Array.from(a.subarray(((b * 2 + h) * 33 + p) * 8, ((b * 2 + h) * 33 + p + 1) * 8));
      expect(row(got.k, 0, 1, 32)).toEqual(row(host.k, 0, 1, 32));
      gpu.release(idx, idx2);
      cache.destroy(gpu);
      scratch.destroy(gpu);
    });
  }

  for (const dtype of dtypes) {
    it(`${dtype}: a row table writes each row at its own slot and position (slots out of order), bit-exact`,
      async (ctx) => {
        const gpu = await testGpu();
        if (dtype === 'f16' && !gpu.caps.f16) ctx.skip('no shader-f16 on this adapter');
        const shape = { beams: 5, maxSeq: 19, kvHeads: 3, headDim: 20, dtype };
        const { cache, host } = await filledCache(gpu, `rows.${dtype}`, shape, 40);
        const slots = [3, 0, 4, 1];
        const at = [18, 0, 7, 7];
        const n = slots.length * shape.kvHeads * shape.headDim;
        let k: Float32Array = randomF32(n, 41);
        let v: Float32Array = randomF32(n, 42);
        const tk = gpu.upload('rows.k', k, [slots.length, shape.kvHeads, shape.headDim], 'f32');
        const tv = gpu.upload('rows.v', v, [slots.length, shape.kvHeads, shape.headDim], 'f32');
        const rows = decodeRows(gpu, slots, at);
        const rec = new Recorder(gpu, 'write rows');
        writeKv(rec, tk, tv, cache, { rows });
        rec.submit();
        if (dtype === 'f16') {
          k = roundF16(k);
          v = roundF16(v);
        }
        ref.writeKvRows(host.k, k, shape, slots, at);
        ref.writeKvRows(host.v, v, shape, slots, at);
        const got = await readCache(gpu, cache);
        expect(Array.from(got.k)).toEqual(Array.from(host.k));
        expect(Array.from(got.v)).toEqual(Array.from(host.v));
        gpu.release(tk, tv, rows.table, rows.positions);
        cache.destroy(gpu);
      });
  }

  it('a slots view is a cache of its own on the same buffers: writes and reorders stay inside its slots', async () => {
    const gpu = await testGpu();
    // 64 positions × 4 × 4 bytes = 1 KiB per slot: every slot starts storage-offset aligned.
    const shape = { beams: 6, maxSeq: 64, kvHeads: 1, headDim: 4, dtype: 'f32' as const };
    const { cache, host } = await filledCache(gpu, 'shared', shape, 50);
    const view = cache.slots(gpu, 2, 3);
    expect([view.beams, view.maxSeq]).toEqual([3, 64]);
    // A scratch with more beams than the view serves it (the decoder shares one sized for the widest sequence).
    const scratch = KvCache.create(gpu, 'shared.scratch', { ...shape, beams: 4 });
    const kRows = randomF32(5 * 4, 51);
    const tk = gpu.upload('prompt.k', kRows, [5, 1, 4], 'f32');
    const idx = gpu.upload('beam_idx', new Uint32Array([0, 0, 0]), [3], 'u32');
    const rec = new Recorder(gpu, 'view');
    writeKv(rec, tk, tk, view, { pos: 10, tokens: 5, beams: 1 });
    reorderKv(rec, view, idx, scratch, { pos: 15, from: 10 });
    rec.submit();
    // Slots 2, 3, 4 hold the prompt rows at 10..14; slots 0, 1, 5 are untouched.
    const want = host.k.slice();
    for (const slot of [2, 3, 4]) {
      for (let t = 0; t < 5; t++) ref.writeKvRows(want, kRows.subarray(t * 4, t * 4 + 4), shape, [slot], [10 + t]);
    }
    expect(Array.from((await readCache(gpu, cache)).k)).toEqual(Array.from(want));
    expect(() => cache.slots(gpu, 4, 3)).toThrow(/slots 4\.\.7 outside 0\.\.6/);
    expect(() => view.destroy(gpu)).toThrow(/a slots view cannot be destroyed/);
    const odd = KvCache.create(gpu, 'odd', { ...shape, maxSeq: 5 });
    expect(() => odd.slots(gpu, 1, 1)).toThrow(/slot 1 starts at byte 80, not a multiple/);
    gpu.release(tk, idx);
    for (const c of [cache, scratch, odd]) c.destroy(gpu);
  });

  it('reorderKv clamps out-of-range beam indices instead of reading out of bounds', async () => {
    const gpu = await testGpu();
    const shape = { beams: 2, maxSeq: 4, kvHeads: 1, headDim: 4, dtype: 'f32' as const };
    const { cache, host } = await filledCache(gpu, 'clamp', shape, 3);
    const scratch = KvCache.like(gpu, 'clamp.scratch', cache);
    const idx = gpu.upload('beam_idx', new Uint32Array([7, 0]), [2], 'u32');
    const rec = new Recorder(gpu, 'reorder');
    reorderKv(rec, cache, idx, scratch, { pos: 4 });
    rec.submit();
    const got = await readCache(gpu, cache);
    expect(Array.from(got.k)).toEqual(Array.from(ref.reorderKv(host.k, [1, 0], shape, 4)));
    gpu.release(idx);
    cache.destroy(gpu);
    scratch.destroy(gpu);
  });

  it('rejects bad shapes and positions with messages that name the cache', async () => {
    const gpu = await testGpu();
    const cache = KvCache.create(gpu, 'bad', { beams: 2, maxSeq: 8, kvHeads: 2, headDim: 8 });
    const rows = gpu.tensor('rows', [2, 2, 8], 'f32');
    const rec = new Recorder(gpu, 'bad');
    expect(() => writeKv(rec, rows, rows, cache, { pos: 8, tokens: 1 })).toThrow(/exceed cache "bad" maxSeq 8/);
    expect(() => writeKv(rec, rows, rows, cache, { pos: 0, tokens: 2 })).toThrow(/"rows" has 32 elements/);
    const other = KvCache.create(gpu, 'other', { beams: 2, maxSeq: 9, kvHeads: 2, headDim: 8 });
    const idx = gpu.tensor('idx', [2], 'u32');
    expect(() => reorderKv(rec, cache, idx, other, { pos: 3 })).toThrow(/scratch "other" must have the shape/);
    const far = decodeRows(gpu, [1, 0], [3, 8]);
    expect(() => writeKv(rec, rows, rows, cache, { rows: far })).toThrow(/row 1 position 8 outside cache "bad"/);
    gpu.release(far.table, far.positions);
    expect(() => KvCache.create(gpu, 'odd', { beams: 1, maxSeq: 8, kvHeads: 1, headDim: 6 })).toThrow(/multiple of 4/);
    gpu.release(rows, idx);
    cache.destroy(gpu);
    other.destroy(gpu);
  });
});
