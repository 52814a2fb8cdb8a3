/**
 * Fused epilogues (src/ops/matmul-epilogue.ts) against the unfused dispatch sequences they replace, at the real
 * model's sizes (GLM-ASR-Nano: decoder hidden 2048, q 2048, k/v 512, ffn 6144; encoder hidden 1280, ffn 5120):
 *   fusion-glu   decode M = 1 and 4 (beams): linearGlu over [gate; up] (one dispatch) vs gate, up, silu·mul
 *                (three dispatches, the engine before fusion) and vs the split-product fallback (two)
 *   fusion-qkv   decode M = 1: one product over [q; k; v] into three outputs vs three products
 *   fusion-gelu  encoder fc1 M = 1500: bias+GELU in the product vs product then GELU
 * Each for f32 and INT8 weights (group 64) where the model uses both; GB/s counts weight bytes read per run.
 */
import { Recorder, RowBlockedMatrix, type Gpu, type Tensor } from '../../src/gpu';
import { gelu, siluMul } from '../../src/ops/elementwise';
import { linear, linearGlu, linearSplit, splitViews } from '../../src/ops/linear';
import { uploadInt8Matrix, Int8Matrix } from '../../src/ops/matmul-int8';
import { quantizeRows } from '../../src/weights/quant';
import { type BenchCase, type BenchInstance, seededUniform } from '../lib';

const D = 2048;
const FFN = 6144;
const Q = 2048;
const KV = 512;
const ENC = { M: 1500, K: 1280, N: 5120 };
const G = 64;


type Precision = 'f32' | 'int8';

function upload(
  gpu: Gpu, label: string, rows: number, cols: number, precision: Precision, seed: number,
): RowBlockedMatrix {
  const w = seededUniform(rows * cols, seed, 0.05);
  if (precision === 'int8') {
    const { q, scales } = quantizeRows(w, rows, cols, G);
    return uploadInt8Matrix(gpu, label, q, scales, rows, cols, G);
  }
  const m = gpu.matrix(label, rows, cols, 'f32');
  gpu.writeRows(m, 0, w);
  return m;
}

function destroy(gpu: Gpu, ...ms: RowBlockedMatrix[]): void {
  for (const m of ms) {
    if (m instanceof Int8Matrix) for (const b of m.qblocks) gpu.pool.destroy(b.q.buffer), gpu.pool.destroy(b.s.buffer);
    else for (const b of m.blocks) gpu.pool.destroy(b.tensor.buffer);
  }
}

/** A case whose run records `body` into one Recorder and submits it. */
function instance(gpu: Gpu, body: (rec: Recorder) => void, dispose: () => void): BenchInstance {
  return {
    run: () => {
      const rec = new Recorder(gpu, 'bench fusion');
      body(rec);
      rec.submit();
    },
    dispose,
  };
}

function gluCases(M: number, precision: Precision): BenchCase[] {
  const shape = { M, K: D, F: FFN };
  const bytes = 2 * FFN * D * (precision === 'int8' ? 1 + 4 / G : 4);
  const common = {
    op: 'fusion-glu', shape, flops: 2 * M * 2 * FFN * D, bytes, bytesNote: 'gate + up weight bytes per run',
  };
  const x = (gpu: Gpu) => gpu.upload('bench.x', seededUniform(M * D, 1), [M, D], 'f32');
  return [
    {
      ...common, variant: `fused-${precision}`,
      setup: (gpu) => {
        const tx = x(gpu);
        const w = upload(gpu, 'bench.gate_up', 2 * FFN, D, precision, 2);
        const out = gpu.tensor('bench.act', [M, FFN], 'f32');
        return instance(gpu, (rec) => linearGlu(rec, tx, w, undefined, out, { label: 'glu' }),
          () => (gpu.release(tx, out), destroy(gpu, w)));
      },
    },
    {
      ...common, variant: `split+silu_mul-${precision}`,
      setup: (gpu) => {
        const tx = x(gpu);
        const w = upload(gpu, 'bench.gate_up', 2 * FFN, D, precision, 2);
        const out = gpu.tensor('bench.act', [M, FFN], 'f32');
        return instance(gpu, (rec) => {
          const [gate, up] = splitViews(gpu, 'bench.gate_up.out', M, [FFN, FFN]);
          linearSplit(rec, tx, w, undefined, [gate, up], { label: 'gate_up' });
          siluMul(rec, gate, up, out, { label: 'silu_mul' });
          gpu.release(gate);
        }, () => (gpu.release(tx, out), destroy(gpu, w)));
      },
    },
    {
      ...common, variant: `separate-${precision}`,
      setup: (gpu) => {
        const tx = x(gpu);
        const wg = upload(gpu, 'bench.gate', FFN, D, precision, 2);
        const wu = upload(gpu, 'bench.up', FFN, D, precision, 3);
        const [gate, up, out] = ['gate', 'up', 'act'].map((n) => gpu.tensor(`bench.${n}`, [M, FFN], 'f32'));
        return instance(gpu, (rec) => {
          linear(rec, tx, wg, undefined, gate, { label: 'gate' });
          linear(rec, tx, wu, undefined, up, { label: 'up' });
          siluMul(rec, gate, up, out, { label: 'silu_mul' });
        }, () => (gpu.release(tx, gate, up, out), destroy(gpu, wg, wu)));
      },
    },
  ];
}

function qkvCases(precision: Precision): BenchCase[] {
  const M = 1;
  const N = Q + 2 * KV;
  const shape = { M, K: D, N };
  const common = {
    op: 'fusion-qkv', shape, flops: 2 * M * N * D,
    bytes: N * D * (precision === 'int8' ? 1 + 4 / G : 4), bytesNote: 'q + k + v weight bytes per run',
  };
  const x = (gpu: Gpu) => gpu.upload('bench.x', seededUniform(M * D, 1), [M, D], 'f32');
  return [
    {
      ...common, variant: `fused-${precision}`,
      setup: (gpu) => {
        const tx = x(gpu);
        const w = upload(gpu, 'bench.qkv', N, D, precision, 4);
        const outs = splitViews(gpu, 'bench.qkv.out', M, [Q, KV, KV]);
        return instance(gpu, (rec) => linearSplit(rec, tx, w, undefined, outs, { label: 'qkv' }),
          () => (gpu.release(tx, outs[0]), destroy(gpu, w)));
      },
    },
    {
      ...common, variant: `separate-${precision}`,
      setup: (gpu) => {
        const tx = x(gpu);
        const ws = [Q, KV, KV].map((n, i) => upload(gpu, `bench.w${i}`, n, D, precision, 4 + i));
        const outs: Tensor[] = [Q, KV, KV].map((n, i) => gpu.tensor(`bench.out${i}`, [M, n], 'f32'));
        return instance(gpu, (rec) => ws.forEach((w, i) => linear(rec, tx, w, undefined, outs[i], { label: `p${i}` })),
          () => (gpu.release(tx, ...outs), destroy(gpu, ...ws)));
      },
    },
  ];
}

function geluCases(): BenchCase[] {
  const { M, K, N } = ENC;
  const common = { op: 'fusion-gelu', shape: ENC, flops: 2 * M * N * K };
  const setupBoth = (gpu: Gpu) => ({
    tx: gpu.upload('bench.x', seededUniform(M * K, 1), [M, K], 'f32'),
    w: upload(gpu, 'bench.fc1', N, K, 'f32', 7),
    b: gpu.upload('bench.b', seededUniform(N, 8), [N], 'f32'),
    out: gpu.tensor('bench.act', [M, N], 'f32'),
  });
  return [
    {
      ...common, variant: 'fused-f32',
      setup: (gpu) => {
        const { tx, w, b, out } = setupBoth(gpu);
        return instance(gpu,
          (rec) => linear(rec, tx, w, b, out, { label: 'fc1+gelu', epilogue: { activation: 'gelu' } }),
          () => (gpu.release(tx, b, out), destroy(gpu, w)));
      },
    },
    {
      ...common, variant: 'separate-f32',
      setup: (gpu) => {
        const { tx, w, b, out } = setupBoth(gpu);
        const pre = gpu.tensor('bench.pre', [M, N], 'f32');
        return instance(gpu, (rec) => {
          linear(rec, tx, w, b, pre, { label: 'fc1' });
          gelu(rec, pre, out, { label: 'gelu' });
        }, () => (gpu.release(tx, b, out, pre), destroy(gpu, w)));
      },
    },
  ];
}

export const cases: BenchCase[] = [
  ...gluCases(1, 'f32'), ...gluCases(1, 'int8'), ...gluCases(4, 'f32'), ...gluCases(4, 'int8'),
  ...qkvCases('f32'), ...qkvCases('int8'),
  ...geluCases(),
];
