/**
 * The GPU runtime itself: adapter errors, the WGSL preprocessor, the pipeline cache, the buffer pool (no
 * allocation in steady state), row-blocked matrices, the recorder's parameter packing and the profiler.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Gpu, grid, Profiler, preprocess, Recorder, ShaderError } from '../../src/gpu';
import { add } from '../../src/ops/elementwise';
import { randomF32, relL2, testGpu } from '../helpers/gpu';

const REPO = join(__dirname, '..', '..');

describe('adapter', () => {
  it('without any adapter, Gpu.create fails with a message that says what to install or set', () => {
    const dir = mkdtempSync(join(tmpdir(), 'no-icd-'));
    const icd = join(dir, 'none.json');
    writeFileSync(icd,
      '{"file_format_version":"1.0.0","ICD":{"library_path":"/nonexistent/libvulkan_none.so","api_version":"1.3.0"}}');
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e',
      "import('./src/gpu/index.ts').then(m => m.Gpu.create()).then(() => console.log('GOT ADAPTER'), e => " +
        "console.log('ERROR: ' + e.message))"],
    { cwd: REPO, encoding: 'utf8', env: { ...process.env, VK_ICD_FILENAMES: icd,
      VK_DRIVER_FILES: icd }, timeout: 60_000 });
    expect(r.stdout).toContain('ERROR: No WebGPU adapter is available');
    expect(r.stdout).toContain('npx glm-asr setup');
    expect(r.stdout).toContain('npx glm-asr doctor');
    expect(r.stdout).toContain('VK_ICD_FILENAMES');
  });

  it('reports caps from the real device limits and features', async () => {
    const gpu = await testGpu();
    expect(gpu.caps.maxStorageBindingBytes).toBe(gpu.device.limits.maxStorageBufferBindingSize);
    expect(gpu.caps.maxStorageBindingBytes).toBeGreaterThan(128 * 2 ** 20 - 1); // not the 128 MiB default cap below it
    expect(gpu.caps.f16).toBe(gpu.device.features.has('shader-f16'));
    expect(gpu.describe()).toMatch(/\[.*\]/);
  });
});

describe('preprocessor', () => {
  const sources = {
    'main.wgsl': '#include "a.wgsl"\n#if X\nx_on\n#if !Y\nnot_y\n#else\ny\n#endif\n#else\nx_off\n#endif\n#include ' +
      '"a.wgsl"\nend',
    'a.wgsl': 'from_a',
    'bad.wgsl': '#if X\nno end',
    'bad2.wgsl': '#bogus',
    'bad3.wgsl': '#include "missing.wgsl"',
  };
  it('includes each file once and honours nested #if / #else', () => {
    expect(preprocess('main.wgsl', { X: true }, sources).split('\n')).toEqual(['from_a', 'x_on', 'not_y', 'end']);
    expect(preprocess('main.wgsl', { X: true, Y: true }, sources).split('\n')).toEqual(['from_a', 'x_on', 'y', 'end']);
    expect(preprocess('main.wgsl', {}, sources).split('\n')).toEqual(['from_a', 'x_off', 'end']);
  });
  it('names the file and line of a bad directive', () => {
    expect(() => preprocess('bad.wgsl', {}, sources)).toThrow(/bad\.wgsl:1: #if without #endif/);
    expect(() => preprocess('bad2.wgsl', {}, sources)).toThrow(/bad2\.wgsl:1: unknown directive #bogus/);
    expect(() => preprocess('bad3.wgsl', {}, sources)).toThrow(ShaderError);
  });
});

describe('pipelines, buffers, recorder', () => {
  it('caches pipelines by shader, defines and constants', async () => {
    const gpu = await testGpu();
    const a = gpu.pipelines.get({ shader: 'elementwise.wgsl', entryPoint: 'add', constants: { WG: 64 } });
    expect(gpu.pipelines.get({ shader: 'elementwise.wgsl', entryPoint: 'add', constants: { WG: 64 } })).toBe(a);
    expect(gpu.pipelines.get({ shader: 'elementwise.wgsl', entryPoint: 'add', constants: { WG: 128 } })).not.toBe(a);
    await expect(gpu.pipelines.check({ shader: 'elementwise.wgsl', entryPoint: 'gelu',
      defines: { UNARY: true } })).resolves.toBeUndefined();
  });

  it('a steady-state loop allocates no new buffers', async () => {
    const gpu = await testGpu();
    const n = 4097;
    const a = gpu.upload('a', randomF32(n, 1), [n], 'f32');
    const step = () => {
      const out = gpu.tensor('loop.out', [n], 'f32');
      const rec = new Recorder(gpu, 'loop');
      add(rec, a, a, out);
      rec.submit();
      gpu.release(out);
    };
    step();
    step();
    await gpu.sync();
    const before = gpu.pool.stats.buffersCreated;
    for (let i = 0; i < 20; i++) step();
    await gpu.sync();
    expect(gpu.pool.stats.buffersCreated).toBe(before);
    gpu.release(a);
  });

  it('row-blocked matrices split at the block limit and write rows across blocks', async () => {
    const gpu = await testGpu();
    const rows = 37;
    const cols = 11;
    const m = gpu.matrix('m', rows, cols, 'f32', 10 * cols * 4);
    expect(m.blocks.map((b) => [b.row0, b.rows])).toEqual([[0, 10], [10, 10], [20, 10], [30, 7]]);
    const data = randomF32(rows * cols, 2);
    gpu.writeRows(m, 0, data.subarray(0, 15 * cols));
    gpu.writeRows(m, 15, data.subarray(15 * cols));
    const got = new Float32Array(rows * cols);
    for (const b of m.blocks) got.set(await gpu.readF32(b.tensor), b.row0 * cols);
    expect(relL2(got, data)).toBe(0);
    expect(() => gpu.writeRows(m, 30, data.subarray(0, 8 * cols))).toThrow(/exceed 37/);
  });

  it('folds large 1-D dispatches into two dimensions', () => {
    expect(grid(10)).toEqual([10, 1]);
    const [x, y] = grid(200_000);
    expect(x).toBeLessThanOrEqual(65535);
    expect(x * y).toBeGreaterThanOrEqual(200_000);
  });

  it('destroy with a read-back in flight: the read finishes with the right values; devices come and go', () => {
    // Dawn crashed when a device went with work on its queue, or when a collected instance got a callback.
    const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', 'test/gpu/destroy-in-flight.mts'],
      { cwd: REPO, encoding: 'utf8', timeout: 90_000 });
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.stdout.trim().split('\n').filter((l) => !l.startsWith('Warning'))).toEqual([
      'round 0: 0 wrong', 'round 1: 0 wrong', 'round 2: 0 wrong', 'round 3: 0 wrong', 'DONE',
    ]);
    expect(r.status).toBe(0);
  });

  it('the profiler refuses a device without timestamp-query', async () => {
    const gpu = await Gpu.create({ disableFeatures: ['timestamp-query'] });
    try {
      expect(() => new Profiler(gpu)).toThrow(/timestamp-query/);
    } finally {
      gpu.destroy();
    }
  });

  it('the profiler times each dispatch with timestamp queries', async (ctx) => {
    const gpu = await testGpu();
    if (!gpu.caps.timestampQuery) ctx.skip('no timestamp-query on this adapter');
    const n = 100_000;
    const a = gpu.upload('a', randomF32(n, 3), [n], 'f32');
    const out = gpu.tensor('out', [n], 'f32');
    const profiler = new Profiler(gpu);
    const rec = new Recorder(gpu, 'profiled', profiler);
    add(rec, a, a, out, { label: 'first' });
    add(rec, out, a, gpu.tensor('out2', [n], 'f32'), { label: 'second' });
    rec.submit();
    const times = await profiler.read();
    expect(times.map((t) => t.label)).toEqual(['#1 first', '#2 second']);
    for (const t of times) expect(t.ms).toBeGreaterThanOrEqual(0);
    profiler.destroy();
  });
});
