/**
 * 4-bit matmul rows of the kernel benchmark (docs/quantization.md), beside INT8 in the same group:
 *   decode GEMV M=1, K=2048, N=6144 (GB/s = weight bytes read per run: codes + scales as stored on the GPU)
 *   beam-4 decode M=4 and GEMM 1024³ (GFLOP/s = 2·M·N·K / median)
 * Variants:
 *   int8-auto            matmulInt8() on an Int8Matrix (g64, f32 scales): what an INT8 model runs
 *   int4-auto            matmulInt8() on an Int4Matrix (g32, f16 scale pairs): what a 4-bit model runs
 *   int4-k32 / int4-k8   the two 4-bit kernels forced (32 k per step with per-group partials / 8 k per step)
 *   int4-auto-g64        the group-size comparison
 * And the whole decode step's matmuls at full size ("decode-step-quant"): 28 decoder layers of [q; k; v] (3072 ×
 * 2048), o (2048 × 2048), [gate; up] with the fused SiLU·mul (12288 × 2048), down (2048 × 6144), plus lm_head
 * (59264 × 2048), every matrix distinct (1.47 G weights, so nothing stays in a CPU cache), M = 1, in one submit,
 * through linear / linearGlu as the model calls them: INT8 (g64) vs 4-bit (g32). The codes and scales are random
 * (speed does not depend on them).
 */
import { Recorder, type Gpu } from '../../src/gpu';
import { linear, linearGlu } from '../../src/ops/linear';
import { Int4Matrix, uploadInt4Matrix } from '../../src/ops/matmul-int4';
import {
  Int8Matrix, matmulInt8, uploadInt8Matrix, type Int8Variant, type QuantMatrix,
} from '../../src/ops/matmul-int8';
import { quantizeRows, quantizeRows4 } from '../../src/weights/quant';
import { type BenchCase, type BenchInstance, seededUniform } from '../lib';
import { BEAM4, DECODE, GEMM } from './matmul-int8';

type Shape = { M: number; N: number; K: number };

function quantCase(shape: Shape, bits: 8 | 4, G: number, variant?: Partial<Int8Variant>) {
  return (gpu: Gpu): BenchInstance => {
    const { M, N, K } = shape;
    const x = gpu.upload('bench.x', seededUniform(M * K, 1), [M, K], 'f32');
    const w0 = seededUniform(N * K, 2, 0.05);
    let w: QuantMatrix;
    if (bits === 8) {
      const { q, scales } = quantizeRows(w0, N, K, G);
      w = uploadInt8Matrix(gpu, 'bench.w8', q, scales, N, K, G);
    } else {
      const { packed, scales } = quantizeRows4(w0, N, K, G);
      w = uploadInt4Matrix(gpu, 'bench.w4', packed, scales, N, K, G);
    }
    const y = gpu.tensor('bench.y', [M, N], 'f32');
    return {
      run: () => {
        const rec = new Recorder(gpu, 'bench matmul-int4');
        matmulInt8(rec, x, w, undefined, y, { label: 'bench', variant });
        rec.submit();
      },
      dispose: () => {
        gpu.release(x, y);
        for (const b of w.qblocks) gpu.pool.destroy(b.q.buffer), gpu.pool.destroy(b.s.buffer);
      },
    };
  };
}

function rows(shape: Shape, decode: boolean): BenchCase[] {
  const op = 'matmul-int4';
  const flops = 2 * shape.M * shape.N * shape.K;
  const nk = shape.N * shape.K;
  // GPU bytes read per run: INT8 1 B + f32 scale per G; 4-bit ½ B + f16 scale per G
  const bytes = (bits: 8 | 4, G: number) => (decode
    ? {
      bytes: bits === 8 ? nk + (nk / G) * 4 : nk / 2 + (nk / G) * 2,
      bytesNote: 'weight bytes read per run (codes + scales)',
    }
    : {});
  const c = (variant: string, bits: 8 | 4, G: number, v?: Partial<Int8Variant>): BenchCase =>
    ({ op, variant, shape, flops, ...bytes(bits, G), setup: quantCase(shape, bits, G, v) });
  return [
    c('int8-auto', 8, 64),
    c('int4-auto', 4, 32),
    c('int4-k32', 4, 32, { k8: false }),
    c('int4-k8', 4, 32, { k8: true }),
    c('int4-auto-g64', 4, 64),
  ];
}

const STEP = { layers: 28, hidden: 2048, qkv: 3072, ffn: 6144, vocab: 59264 };

/** A matrix of random codes and scales (f16 bits in [2^-8, 2^-7)), uploaded row block by row block. */
function randomMatrix(gpu: Gpu, bits: 8 | 4, G: number, label: string, rows: number, cols: number,
  seed: number): QuantMatrix {
  const m = bits === 8 ? Int8Matrix.create(gpu, label, rows, cols, G) : Int4Matrix.create(gpu, label, rows, cols, G);
  const rowBytes = bits === 8 ? cols : cols / 2;
  const step = Math.max(1, Math.floor((16 << 20) / rowBytes));
  let s = seed >>> 0;
  for (let r0 = 0; r0 < rows; r0 += step) {
    const n = Math.min(step, rows - r0);
    const words = new Uint32Array((n * rowBytes) / 4);
    for (let i = 0; i < words.length; i++) words[i] = s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const scales = new Uint16Array(n * Math.ceil(cols / G));
    for (let i = 0; i < scales.length; i++) scales[i] = 0x1c00 | (words[i % words.length] & 0x3ff);
    m.writeQ(gpu, r0, new Uint8Array(words.buffer));
    m.writeScales(gpu, r0, scales);
  }
  return m;
}

function decodeStepCase(bits: 8 | 4, G: number) {
  return (gpu: Gpu): BenchInstance => {
    const { layers, hidden, qkv, ffn, vocab } = STEP;
    const mats: QuantMatrix[] = [];
    const mk = (label: string, rows: number, cols: number) => {
      const m = randomMatrix(gpu, bits, G, label, rows, cols, mats.length + 1);
      mats.push(m);
      return m;
    };
    const ls = Array.from({ length: layers }, (_, i) => ({
      qkv: mk(`l${i}.qkv`, qkv, hidden), o: mk(`l${i}.o`, hidden, hidden),
      gateUp: mk(`l${i}.gate_up`, 2 * ffn, hidden), down: mk(`l${i}.down`, hidden, ffn),
    }));
    const lmHead = mk('lm_head', vocab, hidden);
    const h = gpu.upload('bench.h', seededUniform(hidden, 1), [1, hidden], 'f32');
    const q = gpu.tensor('bench.qkv', [1, qkv], 'f32');
    const o = gpu.tensor('bench.o', [1, hidden], 'f32');
    const act = gpu.tensor('bench.act', [1, ffn], 'f32');
    const logits = gpu.tensor('bench.logits', [1, vocab], 'f32');
    return {
      run: () => {
        const rec = new Recorder(gpu, 'bench decode step');
        for (const l of ls) {
          linear(rec, h, l.qkv, undefined, q, { label: 'qkv' });
          linear(rec, h, l.o, undefined, o, { label: 'o' });
          linearGlu(rec, h, l.gateUp, undefined, act, { label: 'gate_up' });
          linear(rec, act, l.down, undefined, o, { label: 'down' });
        }
        linear(rec, h, lmHead, undefined, logits, { label: 'lm_head' });
        rec.submit();
      },
      dispose: () => {
        gpu.release(h, q, o, act, logits);
        for (const m of mats) for (const b of m.qblocks) gpu.pool.destroy(b.q.buffer), gpu.pool.destroy(b.s.buffer);
      },
    };
  };
}

function stepRows(): BenchCase[] {
  const { layers, hidden, qkv, ffn, vocab } = STEP;
  const weights = layers * (qkv * hidden + hidden * hidden + 2 * ffn * hidden + hidden * ffn) + vocab * hidden;
  const shape = { layers, hidden, ffn, vocab };
  const bytesNote = 'GPU weight bytes read per step (codes + scales)';
  const row = (bits: 8 | 4, G: number): BenchCase => ({
    op: 'decode-step-quant', variant: `int${bits}-g${G}`, shape, flops: 2 * weights,
    bytes: (weights * bits) / 8 + (weights / G) * (bits === 8 ? 4 : 2), bytesNote, setup: decodeStepCase(bits, G),
  });
  return [row(8, 64), row(4, 32), row(4, 64)];
}

export const cases: BenchCase[] = [...rows(DECODE, true), ...rows(BEAM4, true), ...rows(GEMM, false), ...stepRows()];
