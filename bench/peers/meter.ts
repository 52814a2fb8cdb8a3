/**
 * How busy the machine was while a benchmark loop ran: CPU time of OTHER processes (from /proc/stat minus this
 * process's own user + system time), split into normal-priority and niced work, plus the load average. On a
 * CPU adapter (lavapipe) and for ONNX Runtime, this process's own CPU time includes its worker threads.
 * Where /proc/stat is missing (not Linux) only the load average is reported.
 *
 * @example
 * const m = LoadMeter.start(); ...timed loop...; const load = m.stop(); // { otherCores: 0.04, niceCores: 0.9, ... }
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';

export interface LoadReport {
  /** Average cores used by other processes at normal priority during the interval. */
  otherCores: number;
  /** Average cores used by niced processes (any process; ours run at nice 0, so these are others'). */
  niceCores: number;
  /** Average cores used by this process (its threads included). */
  ownCores: number;
  cores: number;
  loadavg1: number;
}

interface ProcTimes { busyNoNice: number; nice: number }

function procStat(): ProcTimes | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (USER_HZ = 100 on Linux: 10 ms per tick)
    const [user, nice, system, , , irq = 0, softirq = 0, steal = 0] = f;
    return { busyNoNice: (user + system + irq + softirq + steal) * 10, nice: nice * 10 };
  } catch {
    return undefined;
  }
}

export class LoadMeter {
  private constructor(private readonly t0: number, private readonly p0: ProcTimes | undefined,
    private readonly c0: NodeJS.CpuUsage) {}

  static start(): LoadMeter {
    return new LoadMeter(performance.now(), procStat(), process.cpuUsage());
  }

  stop(): LoadReport {
    const wall = Math.max(1, performance.now() - this.t0);
    const c = process.cpuUsage(this.c0);
    const own = (c.user + c.system) / 1000;
    const p1 = procStat();
    const round = (v: number) => Number(Math.max(0, v).toFixed(2));
    const base = { ownCores: round(own / wall), cores: cpus().length, loadavg1: Number(loadavg()[0].toFixed(2)) };
    if (!this.p0 || !p1) return { otherCores: NaN, niceCores: NaN, ...base };
    return {
      otherCores: round((p1.busyNoNice - this.p0.busyNoNice - own) / wall),
      niceCores: round((p1.nice - this.p0.nice) / wall),
      ...base,
    };
  }
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Peak resident set of this process so far, bytes (getrusage ru_maxrss). */
export const peakRssBytes = (): number => process.resourceUsage().maxRSS * 1024;
