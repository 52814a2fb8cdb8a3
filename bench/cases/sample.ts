/**
 * Sampling rows of the kernel benchmark (GB/s = logits bytes read / median; the runs are latency-bound).
 *   argmax 1×59264 (a greedy step), top-8 of 4×59264 per row, and the beam step: top-8 over
 *   beamScore + log_softmax(logits) across 4 beams × 59264 (two dispatches, 8 pairs out).
 */
import { Recorder, type Gpu } from '../../src/gpu';
import { argmax, beamCandidates, topK } from '../../src/ops/sample';
import type { BenchCase, BenchInstance } from '../lib';

const VOCAB = 59264;

function setup(rows: number, kind: 'argmax' | 'topk' | 'beam', k: number): (gpu: Gpu) => BenchInstance {
  return (gpu) => {
    const values = new Float32Array(rows * VOCAB).map((_, i) => Math.sin(i * 0.37) * 10);
    const logits = gpu.upload('bench.logits', values, [rows, VOCAB], 'f32');
    const scores = gpu.upload('bench.scores', new Float32Array(rows).map((_, i) => -i), [rows], 'f32');
    const idx = gpu.tensor('bench.idx', [rows * k], 'u32');
    const val = gpu.tensor('bench.val', [rows * k], 'f32');
    return {
      run: () => {
        const rec = new Recorder(gpu, `bench ${kind}`);
        if (kind === 'argmax') argmax(rec, logits, idx);
        else if (kind === 'topk') topK(rec, logits, idx, val, { k });
        else beamCandidates(rec, logits, scores, idx, val, { k });
        rec.submit();
      },
      dispose: () => gpu.release(logits, scores, idx, val),
    };
  };
}

const note = 'logits read';
export const cases: BenchCase[] = [
  {
    op: 'argmax', variant: 'ours', shape: { rows: 1, vocab: VOCAB }, bytes: VOCAB * 4, bytesNote: note,
    setup: setup(1, 'argmax', 1),
  },
  {
    op: 'topk', variant: 'ours-k8', shape: { rows: 4, vocab: VOCAB }, bytes: 4 * VOCAB * 4, bytesNote: note,
    setup: setup(4, 'topk', 8),
  },
  {
    op: 'beam-topk', variant: 'ours-k8', shape: { rows: 4, vocab: VOCAB }, bytes: 4 * VOCAB * 4, bytesNote: note,
    setup: setup(4, 'beam', 8),
  },
];
