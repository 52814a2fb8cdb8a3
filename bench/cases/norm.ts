/**
 * Norm rows of the kernel benchmark (plus the other memory-bound misc kernels: softmax and dtype conversion).
 *   layernorm 1500×1280 (one encoder window), fused residual+layernorm, rmsnorm 1×2048 (a decode step) and
 *   1500×2048; variants: ours (subgroup reduction where available) and ours-tree (workgroup-tree reduction).
 *   softmax 20·1500 rows × 1500 (one window's attention scores, if not fused) — ours.
 *   convert 16 Mi bf16 → f32 and → f16 (packed u32 words, the no-shader-f16 path).
 * GB/s counts bytes read + written once per element (the kernels re-read rows from cache; not counted).
 */
import { Recorder, type Gpu } from '../../src/gpu';
import { convert } from '../../src/ops/convert';
import { addLayerNorm, layerNorm, rmsNorm } from '../../src/ops/norm';
import { softmax } from '../../src/ops/softmax';
import { type BenchCase, type BenchInstance, seededUniform } from '../lib';


type NormKind = 'layernorm' | 'add+layernorm' | 'rmsnorm';

function norm(kind: NormKind, rows: number, d: number, subgroups: boolean | undefined) {
  return (gpu: Gpu): BenchInstance => {
    const x = gpu.upload('bench.x', seededUniform(rows * d, 1, 3), [rows, d], 'f32');
    const r = gpu.upload('bench.r', seededUniform(rows * d, 2), [rows, d], 'f32');
    const w = gpu.upload('bench.w', seededUniform(d, 3), [d], 'f32');
    const b = gpu.upload('bench.b', seededUniform(d, 4), [d], 'f32');
    const y = gpu.tensor('bench.y', [rows, d], 'f32');
    const res = gpu.tensor('bench.res', [rows, d], 'f32');
    return {
      run: () => {
        const rec = new Recorder(gpu, `bench ${kind}`);
        if (kind === 'layernorm') layerNorm(rec, x, w, b, y, { subgroups });
        else if (kind === 'add+layernorm') addLayerNorm(rec, x, r, w, b, res, y, { subgroups });
        else rmsNorm(rec, x, w, y, { subgroups });
        rec.submit();
      },
      dispose: () => gpu.release(x, r, w, b, y, res),
    };
  };
}

function normCases(kind: NormKind, rows: number, d: number): BenchCase[] {
  const bytes = (kind === 'add+layernorm' ? 4 : 2) * rows * d * 4;
  const shape = { rows, d };
  const bytesNote = 'x (+r) read, y (+res) written';
  return [
    { op: kind, variant: 'ours', shape, bytes, bytesNote, setup: norm(kind, rows, d, undefined) },
    { op: kind, variant: 'ours-tree', shape, bytes, bytesNote, setup: norm(kind, rows, d, false) },
  ];
}

const CONVERT_N = 16 << 20;

function convertCase(to: 'f32' | 'f16'): (gpu: Gpu) => BenchInstance {
  return (gpu) => {
    const words = new Uint32Array(CONVERT_N / 2);
    // finite bf16 pairs
    for (let i = 0; i < words.length; i++) words[i] = ((0x3f80 + (i % 127)) << 16) | (0xbf00 + (i % 255));
    const src = gpu.upload('bench.bf16', words, [words.length], 'u32');
    const dst = gpu.tensor('bench.dst', [CONVERT_N], to);
    return {
      run: () => {
        const rec = new Recorder(gpu, 'bench convert');
        convert(rec, src, dst, { from: 'bf16', packed: to === 'f16' ? true : undefined });
        rec.submit();
      },
      dispose: () => gpu.release(src, dst),
    };
  };
}

export const cases: BenchCase[] = [
  ...normCases('layernorm', 1500, 1280),
  ...normCases('add+layernorm', 1500, 1280),
  ...normCases('rmsnorm', 1, 2048),
  ...normCases('rmsnorm', 1500, 2048),
  {
    op: 'softmax', variant: 'ours', shape: { rows: 30000, n: 1500 }, bytes: 2 * 30000 * 1500 * 4,
    bytesNote: 'x read, y written',
    setup(gpu) {
      const x = gpu.upload('bench.scores', seededUniform(30000 * 1500, 5, 8), [30000, 1500], 'f32');
      return {
        run: () => { const rec = new Recorder(gpu, 'bench softmax'); softmax(rec, x, x); rec.submit(); },
        dispose: () => gpu.release(x),
      };
    },
  },
  {
    op: 'convert', variant: 'bf16-to-f32', shape: { n: CONVERT_N }, bytes: CONVERT_N * 6,
    bytesNote: '2 B read + 4 B written per element', setup: convertCase('f32'),
  },
  {
    op: 'convert', variant: 'bf16-to-f16-packed', shape: { n: CONVERT_N }, bytes: CONVERT_N * 4,
    bytesNote: '2 B read + 2 B written per element', setup: convertCase('f16'),
  },
];
