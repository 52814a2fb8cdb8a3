/**
 * The kernel benchmark's registration API and runner (used by bench/kernels.ts).
 *
 * A kernel family adds rows by exporting `cases: BenchCase[]` from a module in bench/cases/ and listing that
 * module in bench/kernels.ts (CASE_MODULES). A case sets its buffers up once and then records + submits one
 * run per call of `run()`; the runner times submit → queue.onSubmittedWorkDone (wall clock, like
 * src/gpu/timing.ts `measure`) plus this process's CPU time (user + system, which includes the WebGPU
 * implementation's worker threads on CPU adapters, and is less disturbed by other jobs on a shared machine).
 *
 * @example
 * // bench/cases/norm.ts
 * export const cases: BenchCase[] = [{
 *   op: 'rmsnorm', variant: 'ours', shape: { rows: 1500, cols: 1280 }, bytes: 2 * 1500 * 1280 * 4,
 *   setup(gpu) {
 *     const x = gpu.tensor('x', [1500, 1280], 'f32'); const y = gpu.tensor('y', [1500, 1280], 'f32');
 *     return { run: () => { const rec = new Recorder(gpu, 'bench'); rmsNorm(rec, x, w, y); rec.submit(); },
 *              dispose: () => gpu.release(x, y) };
 *   },
 * }];
 */
import type { Gpu } from '../src/gpu';

export interface BenchInstance {
  /** Records and submits one run (no awaiting; the runner waits for the queue). */
  run(): void;
  dispose(): void;
}

export interface BenchCase {
  /** Kernel family, e.g. "matmul", "copy". `--filter` matches "op/variant". */
  op: string;
  /** Implementation, e.g. "ours-f32", "baseline-naive". */
  variant: string;
  shape: Record<string, number>;
  /** Floating-point operations per run: enables the GFLOP/s column. */
  flops?: number;
  /** Bytes per run for the GB/s column (say in `bytesNote` what is counted). */
  bytes?: number;
  bytesNote?: string;
  /** Why this case cannot run on this device (e.g. a missing feature), or undefined. */
  skip?(gpu: Gpu): string | undefined;
  setup(gpu: Gpu): BenchInstance | Promise<BenchInstance>;
}

export interface BenchRecord {
  op: string;
  variant: string;
  shape: Record<string, number>;
  adapter: string;
  features: string[];
  medianMs: number;
  gflops?: number;
  gbps?: number;
  /** Extras: fastest run, median CPU time of this process per run, iterations and warm-up runs. */
  minMs: number;
  cpuMs: number;
  iters: number;
  warmup: number;
  bytesNote?: string;
  skipped?: string;
}

export interface RunOptions {
  warmup: number;
  iters: number;
  /** Progress lines (stderr), e.g. "matmul/ours-f32 ...". */
  log?: (line: string) => void;
}

export function adapterName(gpu: Gpu): string {
  const a = gpu.adapter;
  return [a.vendor, a.architecture, a.description].filter(Boolean).join(' ');
}

export function featureList(gpu: Gpu): string[] {
  const c = gpu.caps;
  const subgroups = c.subgroups && `subgroups(${c.subgroupMinSize}..${c.subgroupMaxSize})`;
  return [c.f16 && 'f16', subgroups, c.timestampQuery && 'timestamps'].filter((f): f is string => !!f);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * Runs cases that belong together (same op and shape) side by side: all are set up, each is warmed up, then the
 * timed iterations are interleaved round-robin so that a change in machine load hits every case alike.
 */
export async function runGroup(gpu: Gpu, group: BenchCase[], opts: RunOptions): Promise<BenchRecord[]> {
  const adapter = adapterName(gpu);
  const features = featureList(gpu);
  const base = (c: BenchCase) => ({ op: c.op, variant: c.variant, shape: c.shape, adapter, features });
  const live: { c: BenchCase; inst: BenchInstance; wall: number[]; cpu: number[] }[] = [];
  const records = new Map<BenchCase, BenchRecord>();
  for (const c of group) {
    const why = c.skip?.(gpu);
    if (why) {
      records.set(c, { ...base(c), medianMs: NaN, minMs: NaN, cpuMs: NaN, iters: 0, warmup: 0, skipped: why });
      continue;
    }
    opts.log?.(`setting up ${c.op}/${c.variant} ${JSON.stringify(c.shape)}`);
    const inst = await c.setup(gpu);
    for (let i = 0; i < opts.warmup; i++) {
      inst.run();
      await gpu.sync();
    }
    live.push({ c, inst, wall: [], cpu: [] });
  }
  for (let i = 0; i < opts.iters; i++) {
    for (const l of live) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      l.inst.run();
      await gpu.sync();
      l.wall.push(performance.now() - t0);
      const dc = process.cpuUsage(c0);
      l.cpu.push((dc.user + dc.system) / 1000);
    }
  }
  for (const l of live) {
    const med = median(l.wall);
    const rec: BenchRecord = {
      ...base(l.c), medianMs: round(med, 3), minMs: round(Math.min(...l.wall), 3), cpuMs: round(median(l.cpu), 3),
      iters: opts.iters, warmup: opts.warmup,
    };
    if (l.c.flops) rec.gflops = round(l.c.flops / med / 1e6, 3);
    if (l.c.bytes) {
      rec.gbps = round(l.c.bytes / med / 1e6, 3);
      if (l.c.bytesNote) rec.bytesNote = l.c.bytesNote;
    }
    records.set(l.c, rec);
    l.inst.dispose();
    opts.log?.(`  ${l.c.op}/${l.c.variant}: median ${med.toFixed(2)} ms`);
  }
  // Keep the registration order in the output.
  return group.map((c) => records.get(c)!);
}

/** Groups cases by op + shape, in first-appearance order. */
export function groupCases(cases: BenchCase[]): BenchCase[][] {
  const groups = new Map<string, BenchCase[]>();
  for (const c of cases) {
    const key = `${c.op}|${JSON.stringify(c.shape)}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(c);
  }
  return [...groups.values()];
}

const round = (v: number, digits: number) => Number(v.toFixed(digits));

export function formatShape(shape: Record<string, number>): string {
  return Object.entries(shape).map(([k, v]) => `${k}=${v}`).join(' ');
}

/** A plain-text table of the records (one line per case). */
export function formatTable(records: BenchRecord[]): string {
  const header = ['op', 'variant', 'shape', 'adapter', 'features', 'median ms', 'min ms', 'cpu ms', 'GFLOP/s', 'GB/s'];
  const rows = records.map((r) => [
    r.op, r.variant, formatShape(r.shape), r.adapter, r.features.join(' '),
    r.skipped ? `skipped: ${r.skipped}` : `${r.medianMs.toFixed(2)} (N=${r.iters})`,
    r.skipped ? '' : r.minMs.toFixed(2),
    r.skipped ? '' : r.cpuMs.toFixed(1),
    r.gflops !== undefined ? r.gflops.toFixed(2) : '',
    r.gbps !== undefined ? r.gbps.toFixed(2) : '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 5 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
    .join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** Deterministic uniform values in [−scale, scale) (an LCG), identical in every bench process and run. */
export function seededUniform(n: number, seed: number, scale = 1): Float32Array<ArrayBuffer> {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 4294967296 * 2 - 1) * scale;
  }
  return out;
}
