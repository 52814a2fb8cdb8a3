/**
 * Attention rows of the kernel benchmark.
 *   encoder: one 30 s window, 1500 frames × 20 heads × 64, bidirectional (the fused kernel never allocates a
 *            1500² score buffer: its only buffers are q, k, v, out; asserted in test/ops/attention.test.ts)
 *   decoder step: 1 beam, 16 q heads / 4 kv heads × 128, over 1000 and 8000 cached positions (f32 and f16
 *                 cache)
 * GFLOP/s counts 4·(queries)·(keys)·headDim·heads (QKᵀ and P·V, 2 flops per multiply-add); decode GB/s counts
 * the K and V cache bytes read.
 */
import { Recorder, type Gpu } from '../../src/gpu';
import { decodeAttention, decodeRows, windowAttention, type FlashVariant } from '../../src/ops/attention';
import { KvCache, writeKv, type KvDType } from '../../src/ops/kv-cache';
import type { BenchCase, BenchInstance } from '../lib';

const fill = (n: number, seed: number) => new Float32Array(n).map((_, i) => Math.sin(i * 0.7 + seed));

function windowCase(variant: FlashVariant | 'default', L: number, H: number, D: number): BenchCase {
  return {
    op: 'attention.window',
    variant,
    shape: { windows: 1, windowLen: L, heads: H, headDim: D },
    flops: 4 * L * L * H * D,
    skip: (gpu: Gpu) => variant === 'gpu' && gpu.adapter.isFallback
      ? "the workgroup-memory variant's unrolled loops take about a minute to compile on CPU JITs " +
        '(and run slower there)'
      : undefined,
    setup(gpu): BenchInstance {
      const shape = [L, H, D];
      const q = gpu.upload('bench.q', fill(L * H * D, 1), shape, 'f32');
      const k = gpu.upload('bench.k', fill(L * H * D, 2), shape, 'f32');
      const v = gpu.upload('bench.v', fill(L * H * D, 3), shape, 'f32');
      const out = gpu.tensor('bench.out', shape, 'f32');
      const o = {
        windows: 1, windowLen: L, heads: H, headDim: D, scale: D ** -0.5,
        variant: variant === 'default' ? undefined : variant,
      };
      return {
        run: () => {
          const rec = new Recorder(gpu, 'bench window attention');
          windowAttention(rec, q, k, v, out, o);
          rec.submit();
        },
        dispose: () => gpu.release(q, k, v, out),
      };
    },
  };
}

function decodeCase(dtype: KvDType, pos: number, qHeads: number, kvHeads: number, headDim: number): BenchCase {
  const bytesPer = dtype === 'f16' ? 2 : 4;
  return {
    op: 'attention.decode',
    variant: `split-k-${dtype}`,
    shape: { beams: 1, pos, qHeads, kvHeads, headDim },
    flops: 4 * pos * qHeads * headDim,
    bytes: 2 * pos * kvHeads * headDim * bytesPer,
    bytesNote: 'K and V cache bytes read',
    skip: (gpu: Gpu) => (dtype === 'f16' && !gpu.caps.f16 ? 'no shader-f16' : undefined),
    async setup(gpu): Promise<BenchInstance> {
      const cache = KvCache.create(gpu, 'bench.cache', { beams: 1, maxSeq: pos, kvHeads, headDim, dtype });
      const k = gpu.upload('bench.k_rows', fill(pos * kvHeads * headDim, 4), [pos, kvHeads, headDim], 'f32');
      const v = gpu.upload('bench.v_rows', fill(pos * kvHeads * headDim, 5), [pos, kvHeads, headDim], 'f32');
      const rec = new Recorder(gpu, 'bench fill cache');
      writeKv(rec, k, v, cache, { pos: 0, tokens: pos });
      rec.submit();
      await gpu.sync();
      gpu.release(k, v);
      const q = gpu.upload('bench.q', fill(qHeads * headDim, 6), [1, qHeads, headDim], 'f32');
      const out = gpu.tensor('bench.out', [1, qHeads, headDim], 'f32');
      const rows = decodeRows(gpu, [0], [pos - 1]);
      const o = { rows, qHeads, kvHeads, headDim, scale: headDim ** -0.5 };
      return {
        run: () => {
          const r = new Recorder(gpu, 'bench decode attention');
          decodeAttention(r, q, cache, out, o);
          r.submit();
        },
        dispose: () => { gpu.release(q, out, rows.table, rows.positions); cache.destroy(gpu); },
      };
    },
  };
}

export const cases: BenchCase[] = [
  windowCase('default', 1500, 20, 64),
  windowCase('gpu', 1500, 20, 64),
  ...[1000, 8000].flatMap((pos) => (['f32', 'f16'] as KvDType[]).map((dt) => decodeCase(dt, pos, 16, 4, 128))),
];
