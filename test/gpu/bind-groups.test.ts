/**
 * The bind-group cache (src/gpu/bind-groups.ts): a repeated dispatch over the same buffers reuses its bind
 * group, results follow the buffers' current contents and parameters, and new buffers never hit old entries.
 */
import { describe, expect, it } from 'vitest';
import { BindGroupCache } from '../../src/gpu/bind-groups';
import { Recorder } from '../../src/gpu';
import { matmul } from '../../src/ops/matmul';
import * as ref from '../../src/ops/reference/matmul';
import { randomF32, relL2, testGpu } from '../helpers/gpu';

describe('bind group cache', () => {
  it('hits on a repeated step, recomputes with new data and parameters, misses on a new buffer', async () => {
    const gpu = await testGpu();
    const [M, N, K] = [1, 9, 24];
    const w = randomF32(N * K, 1, 0.5);
    const tw = gpu.upload('w', w, [N, K], 'f32');
    const tx = gpu.tensor('x', [M, K], 'f32');
    const y = gpu.tensor('y', [M, N], 'f32');
    const step = (alpha: number) => {
      const rec = new Recorder(gpu, 'step');
      matmul(rec, tx, tw, undefined, y, { label: 'p', alpha });
      rec.submit();
    };
    for (const [i, alpha] of [1, 1, 0.5].entries()) {
      const x = randomF32(M * K, 10 + i);
      gpu.write(tx, x);
      const { hits, misses } = gpu.bindGroups;
      step(alpha);
      const want = ref.matmul(x, w, M, N, K).map((v) => v * alpha);
      expect(relL2(await gpu.readF32(y), want)).toBeLessThan(1e-6);
      if (i > 0) expect([gpu.bindGroups.hits - hits, gpu.bindGroups.misses - misses]).toEqual([1, 0]);
    }
    // A new output buffer: a new bind group (never an entry made for another buffer).
    const y2 = gpu.tensor('y2', [M, N + 64], 'f32');
    const misses = gpu.bindGroups.misses;
    const rec = new Recorder(gpu, 'other');
    matmul(rec, tx, tw, undefined, y2.view([M, N + 64]).rows(0, 1), { label: 'p', yRowStride: N + 64 });
    rec.submit();
    expect(gpu.bindGroups.misses).toBe(misses + 1);
    gpu.release(tw, tx, y, y2);
  });

  it('evicts the least recently used entry beyond its capacity', async () => {
    const gpu = await testGpu();
    const cache = new BindGroupCache(gpu.device, 2);
    const pipeline = gpu.pipelines.get({ shader: 'copy.wgsl' });
    const bufs = [0, 1, 2].map((i) => gpu.tensor(`b${i}`, [64], 'f32'));
    const entries = (i: number) => [{ binding: 1, resource: { buffer: bufs[i].buffer, offset: 0, size: 256 } },
      { binding: 2, resource: { buffer: bufs[(i + 1) % 3].buffer, offset: 0, size: 256 } }];
    const uniform = gpu.pool.acquire('params', 256, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    const params = { binding: 0, resource: { buffer: uniform, offset: 0, size: 16 } };
    const get = (i: number) => cache.get(pipeline, [params, ...entries(i)], 't');
    const g0 = get(0);
    get(1);
    expect(get(0)).toBe(g0); // refreshes 0: 1 is now the oldest
    get(2); // evicts 1
    expect(get(0)).toBe(g0);
    const misses = cache.misses;
    get(1);
    expect(cache.misses).toBe(misses + 1);
    expect(gpu.errors).toEqual([]);
    gpu.release(...bufs);
    gpu.pool.release(uniform);
  });
});
