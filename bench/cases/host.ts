/**
 * Host overhead per dispatch: one submit of 400 tiny dependent matrix-vector products (M=1, K=N=64, the
 * dispatch count of a decoder step of the real model: 28 layers × ~14), so the time is mostly recording,
 * validation and launch rather than arithmetic. Variants: bind groups from the cache (src/gpu/bind-groups.ts;
 * after the warm-up every one is a hit, as in steady-state decoding) vs a fresh createBindGroup per dispatch.
 */
import { Recorder, type Gpu } from '../../src/gpu';
import { matmul } from '../../src/ops/matmul';
import type { BenchCase, BenchInstance } from '../lib';

const DISPATCHES = 400;
const D = 64;

function chain(cache: boolean) {
  return (gpu: Gpu): BenchInstance => {
    const w = gpu.upload('bench.w', new Float32Array(D * D).fill(1 / D), [D, D], 'f32');
    const a = gpu.upload('bench.a', new Float32Array(D).fill(1), [1, D], 'f32');
    const b = gpu.tensor('bench.b', [1, D], 'f32');
    return {
      run: () => {
        gpu.bindGroups.enabled = cache;
        const rec = new Recorder(gpu, 'bench host');
        for (let i = 0; i < DISPATCHES; i++) matmul(rec, i % 2 ? b : a, w, undefined, i % 2 ? a : b, { label: 'p' });
        rec.submit();
        gpu.bindGroups.enabled = true;
      },
      dispose: () => gpu.release(w, a, b),
    };
  };
}

export const cases: BenchCase[] = [
  {
    op: 'host-dispatch', variant: 'bind-group-cache', shape: { dispatches: DISPATCHES, M: 1, K: D, N: D },
    setup: chain(true),
  },
  {
    op: 'host-dispatch', variant: 'create-per-dispatch', shape: { dispatches: DISPATCHES, M: 1, K: D, N: D },
    setup: chain(false),
  },
];
