/**
 * GPU timing. `Profiler` puts each dispatch of a Recorder in its own compute pass with timestamp writes
 * (when the adapter has timestamp-query) and reports per-dispatch GPU milliseconds. `measure` times a whole
 * submitted workload by wall clock (submit → onSubmittedWorkDone), which is what benchmarks report.
 */
import type { Gpu } from './device';

export class Profiler {
  private readonly querySet: GPUQuerySet;
  private readonly resolveBuf: GPUBuffer;
  private readonly readBuf: GPUBuffer;
  private readonly labels: string[] = [];

  constructor(gpu: Gpu, private readonly capacity = 2048) {
    if (!gpu.caps.timestampQuery) throw new Error('Profiler needs the timestamp-query feature, ' +
      'which this adapter lacks');
    this.querySet = gpu.device.createQuerySet({ label: 'profiler.timestamps', type: 'timestamp', count: capacity * 2 });
    this.resolveBuf = gpu.device.createBuffer({ label: 'profiler.resolve', size: capacity * 16,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    this.readBuf = gpu.device.createBuffer({ label: 'profiler.read', size: capacity * 16,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  /** Timestamp slots for the next pass. */
  next(label: string): GPUComputePassTimestampWrites {
    const i = this.labels.length;
    if (i >= this.capacity) throw new RangeError(`profiler: more than ${this.capacity} timed passes`);
    this.labels.push(label);
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Called by the Recorder before it finishes its encoder. */
  resolve(encoder: GPUCommandEncoder): void {
    const n = this.labels.length;
    if (!n) return;
    encoder.resolveQuerySet(this.querySet, 0, 2 * n, this.resolveBuf, 0);
    encoder.copyBufferToBuffer(this.resolveBuf, 0, this.readBuf, 0, 16 * n);
  }

  /** Per-pass GPU time in ms, in dispatch order; clears the profiler for reuse. */
  async read(): Promise<{ label: string; ms: number }[]> {
    const n = this.labels.length;
    await this.readBuf.mapAsync(GPUMapMode.READ, 0, 16 * n);
    const t = new BigUint64Array(this.readBuf.getMappedRange(0, 16 * n).slice(0));
    this.readBuf.unmap();
    const out = this.labels.map((label, i) => ({ label, ms: Number(t[2 * i + 1] - t[2 * i]) / 1e6 }));
    this.labels.length = 0;
    return out;
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolveBuf.destroy();
    this.readBuf.destroy();
  }
}

export interface Measurement {
  medianMs: number;
  minMs: number;
  samples: number[];
}

/**
 * Runs `work` (which records and submits GPU work) `warmup` times, then `iters` times, each timed from before
 * `work` to GPU completion. Returns the median.
 */
export async function measure(gpu: Gpu, work: () => void | Promise<void>,
  { warmup = 2, iters = 5 } = {}): Promise<Measurement> {
  for (let i = 0; i < warmup; i++) {
    await work();
    await gpu.sync();
  }
  const samples: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    await work();
    await gpu.sync();
    samples.push(performance.now() - t0);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  return { medianMs: sorted[Math.floor(sorted.length / 2)], minMs: sorted[0], samples };
}
