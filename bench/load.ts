/**
 * Model load benchmark: streams a checkpoint to the GPU and reports time, throughput, GPU buffer bytes and
 * host memory. Host memory is sampled every 10 ms (RSS and the JS heap + array buffers).
 *
 *   npm run bench:load -- --model .cache/models/glm-asr-nano-2512-random [--precision f16|f32] [--json]
 *
 * Make the full-size random checkpoint first (4.5 GB, about 70 s):
 *   python3 weights-tools/make_checkpoint.py --preset glm-asr-nano-2512 \
 *     --out .cache/models/glm-asr-nano-2512-random --no-check
 *
 * The bound we hold to: peak host memory while loading ≤ largest tensor × 2 + 300 MB. On a CPU adapter
 * (lavapipe) GPU buffers live in host memory and so count in RSS; there the bound applies to
 * RSS − GPU buffer bytes, which is what the loader itself holds.
 */
import { parseArgs } from 'node:util';
import { GlmAsr } from '../src/models/glm-asr/node';
import { Gpu } from '../src/gpu';
import { openCheckpointFolder } from '../src/weights/node-file-source';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'test/goldens/tiny' },
    precision: { type: 'string', default: 'f16' },
    json: { type: 'boolean', default: false },
  },
});
const MiB = 2 ** 20;

const ckpt = await openCheckpointFolder(values.model!);
let largest = 0;
let totalBytes = 0;
for (const t of ckpt.tensors.values()) {
  largest = Math.max(largest, t.byteLength);
  totalBytes += t.byteLength;
}
await ckpt.close();

const gpu = await Gpu.create();
const baseline = process.memoryUsage();
const peak = { rss: baseline.rss, js: baseline.heapUsed + baseline.arrayBuffers };
const sampler = setInterval(() => {
  const m = process.memoryUsage();
  peak.rss = Math.max(peak.rss, m.rss);
  peak.js = Math.max(peak.js, m.heapUsed + m.arrayBuffers);
}, 10);
const t0 = performance.now();
const asr = await GlmAsr.load(values.model!, { gpu, precision: values.precision as 'f16' | 'f32' });
const ms = performance.now() - t0;
clearInterval(sampler);
const gpuBytes = gpu.pool.stats.peakBytes;
const overhead = peak.rss - baseline.rss - (gpu.adapter.isFallback ? gpuBytes : 0);
const bound = 2 * largest + 300 * MiB;
const record = {
  stage: 'load', engine: 'ours', precision: values.precision, shape: { model: values.model, tensors: totalBytes },
  adapter: gpu.describe(), medianMs: ms, gbps: totalBytes / ms / 1e6,
  peakRssBytes: peak.rss, baselineRssBytes: baseline.rss, peakJsHeapAndBuffersBytes: peak.js, gpuBufferBytes: gpuBytes,
  largestTensorBytes: largest, hostOverheadBytes: overhead, boundBytes: bound, withinBound: overhead <= bound,
};
if (values.json) console.log(JSON.stringify([record]));
else {
  const f = (b: number) => `${(b / MiB).toFixed(0)} MiB`;
  console.log(`load ${values.model} (${f(totalBytes)} in files, largest tensor ${f(largest)}) as ` +
    `${values.precision} on ${gpu.describe()}`);
  console.log(`  time ${(ms / 1000).toFixed(2)} s (${record.gbps.toFixed(2)} GB/s of file data), GPU ` +
    `buffers ${f(gpuBytes)}`);
  console.log(`  peak RSS ${f(peak.rss)} (baseline ${f(baseline.rss)}), peak JS heap + array buffers ${f(peak.js)}`);
  const why = gpu.adapter.isFallback ? ' (RSS growth minus GPU buffers: CPU adapter)' : '';
  console.log(`  host overhead ${f(overhead)}${why} vs bound 2×largest+300 MiB = ${f(bound)}: ` +
    `${record.withinBound ? 'within' : 'OVER'}`);
}
asr.dispose();
