/** How the model bench measures: round-robin timing, memory peaks, depth fits, test inputs. */
import type { Gpu } from '../../src/gpu';
import { seededUniform } from '../lib';
import { LoadMeter, median, type LoadReport } from '../peers/meter';
import { log } from './options';
import { r3 } from './records';

/** Peak RSS between start() and stop() (sampled every 20 ms) and the GPU pool's peak bytes over the same span. */
export class StagePeaks {
  private rss = 0;
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly gpu: Gpu) {}
  start(): void {
    this.gpu.pool.stats.peakBytes = this.gpu.pool.stats.liveBytes;
    this.rss = process.memoryUsage().rss;
    this.timer = setInterval(() => {
      this.rss = Math.max(this.rss, process.memoryUsage().rss);
    }, 20);
  }
  stop(): { peakGpuBytes: number; peakRssBytes: number } {
    clearInterval(this.timer);
    this.rss = Math.max(this.rss, process.memoryUsage().rss);
    return { peakGpuBytes: this.gpu.pool.stats.peakBytes, peakRssBytes: this.rss };
  }
}

export interface Timing {
  medianMs: number;
  minMs: number;
  /** Median CPU time of this process per run (worker threads included). */
  cpuMs: number;
  iters: number;
  /** Per-round wall and CPU times (for the paired depth fit). */
  times: number[];
  cpuTimes: number[];
  load: LoadReport;
}

export interface TimingOptions {
  warmup: number;
  iters: number;
  /** Seconds that cheap measurements fill with more timed rounds (at most 30). */
  minTime: number;
}

/**
 * Times variants round-robin (so that a change in machine load hits every variant alike): `warmup` untimed
 * rounds, then max(iters, enough rounds to fill minTime seconds, at most 30) timed rounds. Medians per variant.
 */
export async function timeInterleaved(o: TimingOptions, variants: { name: string; run: () => Promise<void> }[]):
  Promise<Timing[]> {
  let round = 0;
  for (let i = 0; i < o.warmup; i++) {
    const r0 = performance.now();
    for (const v of variants) {
      const t0 = performance.now();
      await v.run();
      log(`  ${v.name} warm-up ${i + 1}/${o.warmup}: ${(performance.now() - t0).toFixed(1)} ms`);
    }
    round = performance.now() - r0;
  }
  const times = variants.map(() => [] as number[]);
  const cpu = variants.map(() => [] as number[]);
  const meter = LoadMeter.start();
  let n = o.iters;
  for (let i = 0; i < n; i++) {
    const r0 = performance.now();
    for (const [k, v] of variants.entries()) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await v.run();
      times[k].push(performance.now() - t0);
      const dc = process.cpuUsage(c0);
      cpu[k].push((dc.user + dc.system) / 1000);
    }
    if (i === 0) {
      round = Math.min(round || Infinity, performance.now() - r0);
      n = Math.max(o.iters, Math.min(30, Math.ceil((o.minTime * 1000) / round)));
    }
    log(`  round ${i + 1}/${n}: ${variants.map((v, k) => `${v.name} ${times[k][i].toFixed(1)} ms`).join(', ')}`);
  }
  const load = meter.stop();
  return times.map((ts, k) => ({
    medianMs: r3(median(ts)), minMs: r3(Math.min(...ts)), cpuMs: r3(median(cpu[k])), iters: ts.length,
    times: ts.map(r3), cpuTimes: cpu[k].map(r3), load,
  }));
}

export interface DepthFit {
  perLayerMs: number;
  fixedMs: number;
  fullMs: number;
  method: string;
}

/**
 * Full-depth estimate from runs at depths lo < hi that were timed round-robin: per round i,
 * t_lo,i + (full − lo) · (t_hi,i − t_lo,i) / (hi − lo), and the median over rounds (a paired estimate: a load
 * change during one round hits both of its runs, so it cancels better than a fit through the two medians).
 * Falls back to t(L) = fixed + L · perLayer through the two medians when per-round times are missing.
 */
export function pairedFit(lo: number, hi: number, full: number, tLo: number[] | undefined, tHi: number[] | undefined,
  mLo: number, mHi: number): DepthFit {
  if (tLo && tHi && tLo.length === tHi.length && tLo.length > 0) {
    const per = tLo.map((t, i) => (tHi[i] - t) / (hi - lo));
    const perLayerMs = r3(median(per));
    const fullMs = r3(median(tLo.map((t, i) => t + (full - lo) * per[i])));
    return {
      perLayerMs, fixedMs: r3(fullMs - full * perLayerMs), fullMs,
      method: `median over ${tLo.length} interleaved rounds of t(${lo}) + (${full} − ${lo}) × `
        + `(t(${hi}) − t(${lo})) / ${hi - lo} (linear in depth)`,
    };
  }
  const perLayer = (mHi - mLo) / (hi - lo);
  const perLayerMs = r3(perLayer);
  const fixedMs = r3(mLo - lo * perLayer);
  return {
    perLayerMs, fixedMs, fullMs: r3(fixedMs + full * perLayerMs),
    method: `t(L) = fixed + L × perLayer through the medians at ${lo} and ${hi} layers`,
  };
}

/** Speech-like test audio: a few drifting tones under noise, 16 kHz. */
export function syntheticAudio(seconds: number): Float32Array {
  const n = Math.round(seconds * 16000);
  const x = seededUniform(n, 5, 0.02);
  for (let i = 0; i < n; i++) {
    const t = i / 16000;
    const hz = 180 + 40 * Math.sin(2 * Math.PI * 0.7 * t);
    x[i] += 0.2 * Math.sin(2 * Math.PI * hz * t) * (0.6 + 0.4 * Math.sin(2 * Math.PI * 3 * t));
  }
  return x;
}

/** ‖got − want‖ / ‖want‖. */
export function relL2(got: Float32Array, want: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.length; i++) {
    num += (got[i] - want[i]) ** 2;
    den += want[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}
