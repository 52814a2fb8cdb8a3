import { describe, expect, it } from 'vitest';
import { f16BitsToF32, f32ToF16Bits, Gpu, Recorder } from '../../src/gpu';
import {
  decodeAttention, decodeChunk, decodeRows, decodeScratchElems, flashBlockKeys, prefillAttention, windowAttention,
  type FlashVariant, type WindowAttentionOptions,
} from '../../src/ops/attention';
import { KvCache, writeKv, type KvDType } from '../../src/ops/kv-cache';
import * as ref from '../../src/ops/reference/attention';
import { randomF32, relL2, testGpu } from '../helpers/gpu';

// f32 tolerance: the GPU sums 4-wide dot products and an online (block-rescaled) softmax in f32, the reference
// uses f64 and a two-pass softmax. Observed errors are ~1e-7; 1e-5 leaves two orders of margin and still
// catches any masking/indexing slip (those give errors ≥ 1e-2).
const TOL = 1e-5;
/**
 * The 'gpu' variant unrolls its loops over the head size; lavapipe needs about 1 min (D64) and 4 min (D128) of
 * wall time to compile one such pipeline on 2 busy cores, once: Mesa's shader cache makes later runs instant.
 */
const STAGED_COMPILE_MS = 600_000;

async function runWindow(gpu: Gpu, o: WindowAttentionOptions, seed: number, inputs?: Float32Array<ArrayBuffer>[]) {
  const n = o.windows * o.windowLen * o.heads * o.headDim;
  const nkv = (n / o.heads) * (o.kvHeads ?? o.heads);
  const [q, k, v] = inputs ?? [randomF32(n, seed), randomF32(nkv, seed + 1), randomF32(nkv, seed + 2)];
  const shape = [o.windows * o.windowLen, o.heads, o.headDim];
  const kvShape = [o.windows * o.windowLen, o.kvHeads ?? o.heads, o.headDim];
  const tq = gpu.upload('attn.q', q, shape, 'f32');
  const tk = gpu.upload('attn.k', k, kvShape, 'f32');
  const tv = gpu.upload('attn.v', v, kvShape, 'f32');
  const out = gpu.tensor('attn.out', shape, 'f32');
  const rec = new Recorder(gpu, 'window attention test');
  windowAttention(rec, tq, tk, tv, out, o);
  rec.submit();
  const got = await gpu.readF32(out);
  gpu.release(tq, tk, tv, out);
  return { got, q, k, v };
}

describe("the 'gpu' variant's block of keys", () => {
  it('fills its 8 KiB tile: a multiple of 4, at most 64, and as large as fits, for every head size', () => {
    for (let d = 4; d <= 128; d += 4) {
      const bk = flashBlockKeys(d);
      expect(bk % 4, `D${d}`).toBe(0);
      expect(bk, `D${d}`).toBeLessThanOrEqual(64);
      expect(bk * (d / 4), `D${d}`).toBeLessThanOrEqual(512);
      if (bk < 64) expect((bk + 4) * (d / 4), `D${d}`).toBeGreaterThan(512);
    }
    // The head sizes the tests run the variant at (16/20, 64, 128) give every count the supported models use.
    expect([16, 20, 24, 64, 128].map(flashBlockKeys)).toEqual([64, 64, 64, 32, 16]);
  });
});

describe('windowAttention', () => {
  const cases: (WindowAttentionOptions & { seed: number })[] = [
    { windows: 1, windowLen: 1, heads: 1, headDim: 16, scale: 0.25, seed: 1 },
    { windows: 3, windowLen: 7, heads: 2, headDim: 64, scale: 0.125, seed: 2 },
    { windows: 2, windowLen: 65, heads: 3, headDim: 16, scale: 0.25, seed: 3 },
    { windows: 1, windowLen: 150, heads: 2, headDim: 128, scale: 128 ** -0.5, seed: 4 },
    { windows: 2, windowLen: 65, heads: 1, headDim: 20, scale: 0.3, seed: 5 },
    { windows: 2, windowLen: 150, heads: 4, headDim: 64, scale: 0.125, seed: 6 },
    { windows: 1, windowLen: 150, heads: 2, headDim: 64, scale: 0.125, causal: true, seed: 7 },
    { windows: 2, windowLen: 65, heads: 2, headDim: 16, scale: 0.25, slidingWindow: 5, seed: 8 },
    { windows: 1, windowLen: 150, heads: 1, headDim: 128, scale: 0.1, slidingWindow: 40, seed: 9 },
    { windows: 3, windowLen: 7, heads: 2, headDim: 20, scale: 0.5, slidingWindow: 2, causal: true, seed: 10 },
    { windows: 1, windowLen: 150, heads: 1, headDim: 64, scale: 0.125, slidingWindow: 0, seed: 11 },
    { windows: 3, windowLen: 65, heads: 6, kvHeads: 2, headDim: 20, scale: 0.25, seed: 12 },
    { windows: 2, windowLen: 7, heads: 4, kvHeads: 1, headDim: 16, scale: 0.5, causal: true, seed: 13 },
  ];
  const name = (o: WindowAttentionOptions) =>
    `W${o.windows} L${o.windowLen} H${o.heads}${o.kvHeads ? `/${o.kvHeads} kv` : ''} D${o.headDim}` +
    `${o.causal ? ' causal' : ''}${o.slidingWindow !== undefined ? ` sliding ${o.slidingWindow}` : ''}`;
  for (const { seed, ...o } of cases) {
    it(`${name(o)} matches the f64 reference (cpu variant)`, async () => {
      const gpu = await testGpu();
      const { got, q, k, v } = await runWindow(gpu, { ...o, variant: 'cpu' }, seed * 100);
      expect(relL2(got, ref.windowAttention(q, k, v, o))).toBeLessThan(TOL);
    });
  }
  // The workgroup-memory ('gpu') variant, forced: the small cases (blocks of 64 keys), then the real head sizes
  // 64 and 128 (blocks of 32 and 16 keys), with lengths that leave a partial last key and query block.
  const gpuCases: (WindowAttentionOptions & { seed: number })[] = [
    ...cases.filter((c) => c.headDim <= 20),
    { windows: 2, windowLen: 67, heads: 3, headDim: 64, scale: 0.125, seed: 21 },
    { windows: 1, windowLen: 150, heads: 4, kvHeads: 2, headDim: 64, scale: 0.125, causal: true, seed: 22 },
    { windows: 1, windowLen: 131, heads: 2, headDim: 128, scale: 128 ** -0.5, seed: 23 },
    { windows: 2, windowLen: 37, heads: 2, kvHeads: 1, headDim: 128, scale: 0.1, slidingWindow: 9, seed: 24 },
  ];
  for (const { seed, ...o } of gpuCases) {
    it(`${name(o)} matches the f64 reference (gpu variant)`, { timeout: STAGED_COMPILE_MS }, async () => {
      const gpu = await testGpu();
      const { got, q, k, v } = await runWindow(gpu, { ...o, variant: 'gpu' }, seed * 100 + 7);
      expect(relL2(got, ref.windowAttention(q, k, v, o))).toBeLessThan(TOL);
    });
  }

  it('windows do not leak: changing window 1\'s K/V leaves window 0\'s output bit-identical', async () => {
    const gpu = await testGpu();
    const o = { windows: 2, windowLen: 150, heads: 2, headDim: 64, scale: 0.125 };
    const n = o.windows * o.windowLen * o.heads * o.headDim;
    const q = randomF32(n, 31);
    const k = randomF32(n, 32);
    const v = randomF32(n, 33);
    const before = (await runWindow(gpu, o, 0, [q, k, v])).got;
    const k2 = k.slice();
    const v2 = v.slice();
    for (let i = n / 2; i < n; i++) { k2[i] = 5 * k2[i] + 1; v2[i] = -v2[i] + 2; }
    const after = (await runWindow(gpu, o, 0, [q, k2, v2])).got;
    expect(Array.from(after.subarray(0, n / 2))).toEqual(Array.from(before.subarray(0, n / 2)));
    expect(relL2(after.subarray(n / 2), before.subarray(n / 2))).toBeGreaterThan(0.1);
    expect(relL2(after, ref.windowAttention(q, k2, v2, o))).toBeLessThan(TOL);
  });

  it('never allocates a windowLen² score buffer (one 1500-frame window)', async () => {
    const gpu = await testGpu();
    const o = { windows: 1, windowLen: 1500, heads: 1, headDim: 64, scale: 0.125 };
    const n = o.windowLen * o.heads * o.headDim;
    const shape = [o.windowLen, o.heads, o.headDim];
    const q = gpu.upload('q', randomF32(n, 41), shape, 'f32');
    const k = gpu.upload('k', randomF32(n, 42), shape, 'f32');
    const v = gpu.upload('v', randomF32(n, 43), shape, 'f32');
    const out = gpu.tensor('out', shape, 'f32');
    const sizes: number[] = [];
    const device = gpu.device;
    const create = device.createBuffer.bind(device);
    device.createBuffer = (d: GPUBufferDescriptor) => { sizes.push(d.size); return create(d); };
    const liveBefore = gpu.pool.stats.liveBytes;
    try {
      const rec = new Recorder(gpu, 'no T×T');
      windowAttention(rec, q, k, v, out, o);
      rec.submit();
      await gpu.sync();
    } finally {
      device.createBuffer = create;
    }
    const scoreBytes = o.windowLen * o.windowLen * 4;
    // At most the recorder's 1 MiB uniform buffer is new; nothing anywhere near 1500² × 4 = 9 MB.
    expect(Math.max(0, ...sizes)).toBeLessThanOrEqual(1 << 20);
    expect(gpu.pool.stats.liveBytes - liveBefore).toBeLessThan(scoreBytes / 4);
    const got = await gpu.readF32(out);
    gpu.release(q, k, v, out);
    expect(got.every(Number.isFinite)).toBe(true);
  });

  it('splits windows across dispatches when the tensors exceed one storage binding', async () => {
    const gpu = await testGpu();
    const caps = gpu.caps as { maxStorageBindingBytes: number };
    const saved = caps.maxStorageBindingBytes;
    // One window is 16 × 2 × 16 × 4 = 2048 bytes; pretend a binding holds two of them: 5 windows → 3 dispatches.
    caps.maxStorageBindingBytes = 4096 + 100;
    try {
      const o = { windows: 5, windowLen: 16, heads: 2, headDim: 16, scale: 0.25, slidingWindow: 3 };
      const { got, q, k, v } = await runWindow(gpu, o, 555);
      expect(relL2(got, ref.windowAttention(q, k, v, o))).toBeLessThan(TOL);
    } finally {
      caps.maxStorageBindingBytes = saved;
    }
  });

  it('rejects bad sizes with messages naming the tensor', async () => {
    const gpu = await testGpu();
    const t = gpu.tensor('x', [10, 2, 16], 'f32');
    const u = gpu.tensor('y', [10, 2, 16], 'f32');
    const rec = new Recorder(gpu, 'bad');
    expect(() => windowAttention(rec, t, t, t, u, { windows: 1, windowLen: 10, heads: 2, headDim: 18,
      scale: 1 })).toThrow(/headDim 18/);
    expect(() => windowAttention(rec, t, t, t, u, { windows: 2, windowLen: 10, heads: 2, headDim: 16,
      scale: 1 })).toThrow(/"x" has 320 elements/);
    expect(() => windowAttention(rec, t, t, t, t, { windows: 1, windowLen: 10, heads: 2, headDim: 16,
      scale: 1 })).toThrow(/share a buffer/);
    gpu.release(t, u);
  });
});

/** f32 values as an f16 cache stores them. */
function roundF16(x: Float32Array): Float32Array {
  return f16BitsToF32(f32ToF16Bits(x));
}

interface CacheCase { beams: number; maxSeq: number; kvHeads: number; headDim: number; dtype: KvDType }

/**
 * A cache whose every position (also those past `pos`, which attention must ignore) holds seeded values,
 * written through writeKv, plus the host mirror the reference reads.
 */
async function filledCache(gpu: Gpu, c: CacheCase, seed: number) {
  const cache = KvCache.create(gpu, `cache.s${seed}`, c);
  const rows = c.beams * c.maxSeq;
  const count = rows * c.kvHeads * c.headDim;
  const k = randomF32(count, seed);
  const v = randomF32(count, seed + 1);
  const tk = gpu.upload('rows.k', k, [rows, c.kvHeads, c.headDim], 'f32');
  const tv = gpu.upload('rows.v', v, [rows, c.kvHeads, c.headDim], 'f32');
  const rec = new Recorder(gpu, 'fill');
  writeKv(rec, tk, tv, cache, { pos: 0, tokens: c.maxSeq });
  rec.submit();
  gpu.release(tk, tv);
  const hk = ref.emptyCache(c);
  const hv = ref.emptyCache(c);
  ref.writeKv(hk, c.dtype === 'f16' ? roundF16(k) : k, c, 0, c.maxSeq);
  ref.writeKv(hv, c.dtype === 'f16' ? roundF16(v) : v, c, 0, c.maxSeq);
  return { cache, hk, hv };
}

describe('decodeAttention (split-K over the KV cache)', () => {
  const cases = [
    { beams: 1, pos: 1, qHeads: 4, kvHeads: 1, headDim: 128 },
    { beams: 3, pos: 7, qHeads: 4, kvHeads: 2, headDim: 64, chunk: 4 },
    { beams: 1, pos: 65, qHeads: 2, kvHeads: 2, headDim: 128, chunk: 16 },
    { beams: 3, pos: 65, qHeads: 4, kvHeads: 1, headDim: 16 },
    { beams: 1, pos: 700, qHeads: 4, kvHeads: 2, headDim: 128 },
    { beams: 3, pos: 700, qHeads: 4, kvHeads: 1, headDim: 20 },
    { beams: 2, pos: 300, qHeads: 16, kvHeads: 4, headDim: 128, chunk: 256 },
    { beams: 1, pos: 513, qHeads: 32, kvHeads: 4, headDim: 64 },
  ];
  // Both variants forced (they differ in invocations per split workgroup: 8 walk several positions each, 64 one).
  const runs: [KvDType, FlashVariant][] = [['f32', 'cpu'], ['f16', 'cpu'], ['f32', 'gpu'], ['f16', 'gpu']];
  for (const [dtype, variant] of runs) {
    for (const c of cases) {
      const nChunks = Math.ceil(c.pos / (c.chunk ?? decodeChunk(c.pos)));
      const heads = `${c.qHeads}q/${c.kvHeads}kv D${c.headDim}`;
      const name = `${dtype} beams ${c.beams} pos ${c.pos} ${heads} (${nChunks} chunks)`;
      it(`${name} (${variant} variant)`, async (ctx) => {
        const gpu = await testGpu();
        if (dtype === 'f16' && !gpu.caps.f16) ctx.skip('no shader-f16 on this adapter');
        const maxSeq = c.pos + 5;
        const { cache, hk, hv } = await filledCache(gpu, { ...c, maxSeq, dtype }, c.pos * 10 + c.beams);
        const nq = c.beams * c.qHeads * c.headDim;
        const q = randomF32(nq, 7 + c.pos, 2);
        const tq = gpu.upload('q', q, [c.beams, c.qHeads, c.headDim], 'f32');
        const out = gpu.tensor('out', [c.beams, c.qHeads, c.headDim], 'f32');
        const scale = 1 / Math.sqrt(c.headDim);
        const rows = sameRows(gpu, c.beams, c.pos - 1, c.chunk);
        const rec = new Recorder(gpu, 'decode');
        decodeAttention(rec, tq, cache, out, { ...c, rows, scale, variant });
        rec.submit();
        const got = await gpu.readF32(out);
        const want = ref.cachedAttention(q, hk, hv, { ...c, maxSeq, tokens: 1, pos0: c.pos - 1, scale });
        expect(relL2(got, want)).toBeLessThan(TOL);
        gpu.release(tq, out, rows.table, rows.positions);
        cache.destroy(gpu);
      });
    }
  }

  it('uses a caller-provided scratch and attends for fewer beams than the cache holds', async () => {
    const gpu = await testGpu();
    const c = { beams: 3, maxSeq: 50, kvHeads: 2, headDim: 32, dtype: 'f32' as const };
    const { cache, hk, hv } = await filledCache(gpu, c, 5);
    const rows = sameRows(gpu, 2, 39);
    const o = { rows, qHeads: 4, kvHeads: 2, headDim: 32, scale: 0.2 };
    const q = randomF32(2 * 4 * 32, 6);
    const tq = gpu.upload('q', q, [2, 4, 32], 'f32');
    const out = gpu.tensor('out', [2, 4, 32], 'f32');
    const scratch = gpu.tensor('scratch', [decodeScratchElems(rows, 4, 32)], 'f32');
    const rec = new Recorder(gpu, 'decode');
    decodeAttention(rec, tq, cache, out, { ...o, scratch });
    rec.submit();
    const want = ref.cachedAttention(q, hk, hv, { ...c, ...o, beams: 2, tokens: 1, pos0: 39 });
    expect(relL2(await gpu.readF32(out), want)).toBeLessThan(TOL);
    const tiny = gpu.tensor('tiny', [8], 'f32');
    expect(() => decodeAttention(new Recorder(gpu, 'x'), tq, cache, out,
      { ...o, scratch: tiny })).toThrow(/scratch "tiny" needs/);
    const far = sameRows(gpu, 2, 50);
    expect(() => decodeAttention(new Recorder(gpu, 'x'), tq, cache, out, { ...o, rows: far }))
      .toThrow(/row 0 position 50 outside cache/);
    const slot = decodeRows(gpu, [0, 3], [5, 5]);
    expect(() => decodeAttention(new Recorder(gpu, 'x'), tq, cache, out, { ...o, rows: slot }))
      .toThrow(/row 1 slot 3 outside cache/);
    expect(() => decodeAttention(new Recorder(gpu, 'x'), tq, cache, out,
      { ...o, qHeads: 3 })).toThrow(/multiple of kvHeads/);
    expect(() => decodeRows(gpu, [0, 1], [5])).toThrow(/2 slots and 1 positions/);
    gpu.release(tq, out, scratch, tiny, ...[rows, far, slot].flatMap((r) => [r.table, r.positions]));
    cache.destroy(gpu);
  });

  // A batched decode step: rows of several sequences at different lengths, slots out of order, long and short
  // rows mixed (different split-K chunks and chunk counts in one dispatch).
  const batches = [
    { slots: [4, 0, 1, 2, 3], at: [12, 300, 300, 300, 300], qHeads: 4, kvHeads: 2, headDim: 20 },
    { slots: [2, 5, 0], at: [0, 699, 64], qHeads: 16, kvHeads: 4, headDim: 128 },
    { slots: [1, 0], at: [37, 36], qHeads: 6, kvHeads: 1, headDim: 12 },
  ];
  for (const [dtype, variant] of runs) {
    for (const b of batches) {
      it(`${dtype} rows at positions ${b.at.join(',')} of slots ${b.slots.join(',')} (${variant} variant)`,
        async (ctx) => {
          const gpu = await testGpu();
          if (dtype === 'f16' && !gpu.caps.f16) ctx.skip('no shader-f16 on this adapter');
          const c = { beams: 6, maxSeq: 701, kvHeads: b.kvHeads, headDim: b.headDim, dtype };
          const { cache, hk, hv } = await filledCache(gpu, c, 300 + b.slots.length);
          const R = b.slots.length;
          const q = randomF32(R * b.qHeads * b.headDim, 31 + R, 2);
          const tq = gpu.upload('q', q, [R, b.qHeads, b.headDim], 'f32');
          const out = gpu.tensor('out', [R, b.qHeads, b.headDim], 'f32');
          const rows = decodeRows(gpu, b.slots, b.at);
          const scale = 1 / Math.sqrt(b.headDim);
          const rec = new Recorder(gpu, 'decode rows');
          decodeAttention(rec, tq, cache, out, { ...b, rows, scale, variant });
          rec.submit();
          const got = await gpu.readF32(out);
          const want = ref.rowsAttention(q, hk, hv, { ...c, ...b, scale });
          expect(relL2(got, want)).toBeLessThan(TOL);
          // Each row alone gives bit-identical output: a row's result does not depend on the others in its step.
          const w = b.qHeads * b.headDim;
          for (let r = 0; r < R; r++) {
            const one = decodeRows(gpu, [b.slots[r]], [b.at[r]]);
            const tq1 = gpu.upload('q1', q.slice(r * w, (r + 1) * w), [1, b.qHeads, b.headDim], 'f32');
            const out1 = gpu.tensor('out1', [1, b.qHeads, b.headDim], 'f32');
            const rec1 = new Recorder(gpu, 'decode one row');
            decodeAttention(rec1, tq1, cache, out1, { ...b, rows: one, scale, variant });
            rec1.submit();
            expect(Array.from(await gpu.readF32(out1))).toEqual(Array.from(got.subarray(r * w, (r + 1) * w)));
            gpu.release(tq1, out1, one.table, one.positions);
          }
          gpu.release(tq, out, rows.table, rows.positions);
          cache.destroy(gpu);
        });
    }
  }
});

/** Rows 0..beams−1 of a cache, all with their newest key at position `at` (one sequence's beams). */
function sameRows(gpu: Gpu, beams: number, at: number, chunk?: number) {
  return decodeRows(gpu, Array.from({ length: beams }, (_, b) => b), new Array<number>(beams).fill(at), { chunk });
}

describe('prefillAttention (causal, queries against the KV cache)', () => {
  const cases: {
    beams: number; pos0: number; tokens: number; qHeads: number; kvHeads: number; headDim: number;
    variant: FlashVariant;
  }[] = [
    { beams: 1, pos0: 0, tokens: 7, qHeads: 4, kvHeads: 1, headDim: 64, variant: 'cpu' },
    { beams: 2, pos0: 65, tokens: 9, qHeads: 4, kvHeads: 2, headDim: 128, variant: 'cpu' },
    { beams: 1, pos0: 3, tokens: 150, qHeads: 2, kvHeads: 2, headDim: 16, variant: 'cpu' },
    { beams: 1, pos0: 0, tokens: 150, qHeads: 16, kvHeads: 4, headDim: 128, variant: 'cpu' },
    { beams: 3, pos0: 10, tokens: 1, qHeads: 4, kvHeads: 2, headDim: 64, variant: 'cpu' },
    { beams: 1, pos0: 0, tokens: 65, qHeads: 4, kvHeads: 1, headDim: 16, variant: 'gpu' },
    { beams: 2, pos0: 70, tokens: 7, qHeads: 4, kvHeads: 2, headDim: 16, variant: 'gpu' },
    // The real head sizes: staged blocks of 32 (D64) and 16 (D128) keys, the last one partial.
    { beams: 2, pos0: 37, tokens: 45, qHeads: 4, kvHeads: 1, headDim: 64, variant: 'gpu' },
    { beams: 1, pos0: 0, tokens: 71, qHeads: 4, kvHeads: 2, headDim: 128, variant: 'gpu' },
    { beams: 3, pos0: 19, tokens: 5, qHeads: 2, kvHeads: 2, headDim: 128, variant: 'gpu' },
  ];
  for (const dtype of ['f32', 'f16'] as KvDType[]) {
    // An f16 cache changes only how the staged keys are loaded; the block arithmetic is the f32 cases'. Each
    // staged head size above 20 costs lavapipe minutes to compile, so f16 stays at D16 for the 'gpu' variant.
    for (const c of cases.filter((x) => dtype === 'f32' || x.variant === 'cpu' || x.headDim <= 20)) {
      const heads = `${c.qHeads}q/${c.kvHeads}kv D${c.headDim}`;
      const name = `${dtype} beams ${c.beams} pos0 ${c.pos0} tokens ${c.tokens} ${heads}`;
      it(`${name} (${c.variant} variant)`, { timeout: STAGED_COMPILE_MS }, async (ctx) => {
        const gpu = await testGpu();
        if (dtype === 'f16' && !gpu.caps.f16) ctx.skip('no shader-f16 on this adapter');
        const maxSeq = c.pos0 + c.tokens + 3;
        const { cache, hk, hv } = await filledCache(gpu, { ...c, maxSeq, dtype }, c.pos0 + c.tokens);
        const nq = c.beams * c.tokens * c.qHeads * c.headDim;
        const q = randomF32(nq, 3 + c.tokens, 2);
        const shape = [c.beams * c.tokens, c.qHeads, c.headDim];
        const tq = gpu.upload('q', q, shape, 'f32');
        const out = gpu.tensor('out', shape, 'f32');
        const scale = 1 / Math.sqrt(c.headDim);
        const rec = new Recorder(gpu, 'prefill');
        prefillAttention(rec, tq, cache, out, { ...c, scale });
        rec.submit();
        const got = await gpu.readF32(out);
        const want = ref.cachedAttention(q, hk, hv, { ...c, maxSeq, scale });
        expect(relL2(got, want)).toBeLessThan(TOL);
        gpu.release(tq, out);
        cache.destroy(gpu);
      });
    }
  }

  it('prefill then decode agree with one causal pass over the whole sequence', async () => {
    // The decoder's real sequence of calls: writeKv(prompt) → prefill; writeKv(1 row) → decode.
    const gpu = await testGpu();
    const c = { beams: 1, maxSeq: 40, kvHeads: 2, headDim: 32, qHeads: 4 };
    const T = 21;
    const scale = 0.17;
    const qAll = randomF32((T + 1) * 4 * 32, 1);
    const kAll = randomF32((T + 1) * 2 * 32, 2);
    const vAll = randomF32((T + 1) * 2 * 32, 3);
    const cache = KvCache.create(gpu, 'seq', c);
    const up = (a: Float32Array<ArrayBuffer>, r0: number, r1: number, w: number, label: string) =>
      gpu.upload(label, a.slice(r0 * w, r1 * w), [r1 - r0, w / 32, 32], 'f32');
    const tk = up(kAll, 0, T, 64, 'k'), tv = up(vAll, 0, T, 64, 'v'), tq = up(qAll, 0, T, 128, 'q');
    const k1 = up(kAll, T, T + 1, 64, 'k1'), v1 = up(vAll, T, T + 1, 64, 'v1'), q1 = up(qAll, T, T + 1, 128, 'q1');
    const outP = gpu.tensor('outP', [T, 4, 32], 'f32');
    const outD = gpu.tensor('outD', [1, 4, 32], 'f32');
    const rec = new Recorder(gpu, 'sequence');
    writeKv(rec, tk, tv, cache, { pos: 0, tokens: T });
    prefillAttention(rec, tq, cache, outP, { ...c, pos0: 0, tokens: T, scale });
    const rows = sameRows(gpu, 1, T);
    writeKv(rec, k1, v1, cache, { rows });
    decodeAttention(rec, q1.view([1, 4, 32]), cache, outD, { ...c, rows, scale });
    rec.submit();
    gpu.release(rows.table, rows.positions);
    const hk = ref.emptyCache(c);
    const hv = ref.emptyCache(c);
    ref.writeKv(hk, kAll, c, 0, T + 1);
    ref.writeKv(hv, vAll, c, 0, T + 1);
    const want = ref.cachedAttention(qAll, hk, hv, { ...c, tokens: T + 1, pos0: 0, scale });
    const got = new Float32Array([...(await gpu.readF32(outP)), ...(await gpu.readF32(outD))]);
    expect(relL2(got, want)).toBeLessThan(TOL);
    gpu.release(tk, tv, tq, k1, v1, q1, outP, outD);
    cache.destroy(gpu);
  });
});

describe('fallbacks: a device without subgroups and shader-f16', () => {
  it('window, prefill and decode attention match the reference; f16 caches are refused', async () => {
    const gpu = await Gpu.create({ disableFeatures: ['subgroups', 'shader-f16'] });
    try {
      expect(gpu.caps.f16).toBe(false);
      expect(gpu.caps.subgroups).toBe(false);
      for (const variant of ['cpu', 'gpu'] as FlashVariant[]) {
        const o = { windows: 2, windowLen: 33, heads: 2, headDim: 16, scale: 0.25, causal: true, variant };
        const { got, q, k, v } = await runWindow(gpu, o, 900);
        expect(relL2(got, ref.windowAttention(q, k, v, o))).toBeLessThan(TOL);
      }
      const c = { beams: 2, maxSeq: 30, kvHeads: 2, headDim: 64, dtype: 'f32' as const };
      const { cache, hk, hv } = await filledCache(gpu, c, 77);
      const q = randomF32(2 * 4 * 64, 78);
      const tq = gpu.upload('q', q, [2, 4, 64], 'f32');
      const out = gpu.tensor('out', [2, 4, 64], 'f32');
      const rec = new Recorder(gpu, 'decode');
      const rows = sameRows(gpu, 2, 28, 8);
      decodeAttention(rec, tq, cache, out, { qHeads: 4, kvHeads: 2, headDim: 64, scale: 0.125, rows });
      rec.submit();
      gpu.release(rows.table, rows.positions);
      const want = ref.cachedAttention(q, hk, hv, { ...c, qHeads: 4, tokens: 1, pos0: 28, scale: 0.125 });
      expect(relL2(await gpu.readF32(out), want)).toBeLessThan(TOL);
      const pq = randomF32(2 * 5 * 4 * 64, 79);
      const tpq = gpu.upload('pq', pq, [10, 4, 64], 'f32');
      const pout = gpu.tensor('pout', [10, 4, 64], 'f32');
      const rec2 = new Recorder(gpu, 'prefill');
      prefillAttention(rec2, tpq, cache, pout, { qHeads: 4, kvHeads: 2, headDim: 64,
        scale: 0.125, pos0: 20, tokens: 5 });
      rec2.submit();
      const pwant = ref.cachedAttention(pq, hk, hv, { ...c, qHeads: 4, tokens: 5, pos0: 20, scale: 0.125 });
      expect(relL2(await gpu.readF32(pout), pwant)).toBeLessThan(TOL);
      expect(() => KvCache.create(gpu, 'half', { beams: 1, maxSeq: 4, kvHeads: 1, headDim: 8,
        dtype: 'f16' })).toThrow(/shader-f16/);
      expect(gpu.errors).toEqual([]);
    } finally {
      gpu.destroy();
    }
  });
});
