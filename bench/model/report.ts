/** The model bench's printed report: the table of records and the targets' verdicts. */
import { loadavg } from 'node:os';
import type { ModelRecord, Yardsticks } from './records';

/** One line per target the records can decide: ours vs ORT WebGPU, INT8 vs f32 decode. */
function targets(rs: ModelRecord[]): string[] {
  const out: string[] = [];
  for (const r of rs.filter((x) => x.engine === 'ours' && x.vsOrtWebgpu !== undefined)) {
    const encoder = r.stage === 'encoder-window';
    const beams = `${r.shape.beams} beam${r.shape.beams === 1 ? '' : 's'}`;
    const what = encoder ? 'encoder window' : `decode step (${r.shape.search}, ${beams})`;
    const depth = encoder ? `${r.layers.encoder} encoder layers` : `${r.layers.decoder} decoder layers`;
    const cpu = r.vsOrtWebgpuCpuTime !== undefined ? ` (CPU-time ratio ${r.vsOrtWebgpuCpuTime})` : '';
    out.push(`ours (${r.precision}) faster than ORT WebGPU (f32) on the ${what}, ${depth}`
      + `${r.extrapolated ? ' (EXTRAPOLATED)' : ''}: ours/theirs = ${r.vsOrtWebgpu}${cpu} — `
      + `${r.vsOrtWebgpu! < 1 ? 'MET' : 'NOT MET'}`);
  }
  for (const r of rs.filter((x) => x.speedupVsF32 !== undefined)) {
    const cpu = r.speedupVsF32CpuTime !== undefined ? ` (CPU-time ${r.speedupVsF32CpuTime}x)` : '';
    out.push(`INT8 decode ≥ 1.5× f32 decode (${r.shape.search}, ${r.shape.beams} beam(s), `
      + `${r.layers.decoder} decoder layers${r.extrapolated ? ', EXTRAPOLATED' : ''}): ${r.speedupVsF32}x${cpu} — `
      + `${(r.speedupVsF32 as number) >= 1.5 ? 'MET' : 'NOT MET'}`);
  }
  return out;
}

function formatTable(rs: ModelRecord[]): string {
  const mib = (b?: number) => (b === undefined ? '' : (b / 2 ** 20).toFixed(0));
  const shape = (s: Record<string, unknown>) => Object.entries(s).filter(([k]) => k !== 'search')
    .map(([k, v]) => `${k}=${v}`).join(' ');
  const text = (v: unknown) => (v !== undefined ? String(v) : '');
  const header = ['stage', 'engine', 'prec', 'depth enc/dec', 'shape', 'median ms', 'cpu ms', 'ms/token',
    'GFLOP/s (%peak)', 'GB/s (%copy)', 'RTF', 'GPU MiB', 'RSS MiB', 'other cores', 'check', 'ours/ORT-webgpu',
    '(cpu time)', 'ours/ORT-cpu'];
  const rows = rs.map((r) => [
    r.stage, r.engine, r.precision, `${r.layers.encoder}/${r.layers.decoder}${r.extrapolated ? ' EXTRAP' : ''}`,
    shape(r.shape),
    `${r.medianMs.toFixed(r.medianMs < 100 ? 1 : 0)}${r.extrapolated ? '' : ` (N=${r.iters})`}`,
    text(r.cpuMs),
    text(r.msPerToken),
    r.gflops !== undefined ? `${r.gflops} (${r.pctPeakFlops}%)` : '',
    r.gbps !== undefined ? `${r.gbps}${r.pctCopy !== undefined ? ` (${r.pctCopy}%)` : ' file'}` : '',
    text(r.rtf),
    mib(r.peakGpuBytes), mib(r.peakRssBytes),
    text(r.load?.otherCores),
    r.check === undefined ? '' : (r.check as { ok: boolean }).ok ? 'ok' : 'WRONG',
    text(r.vsOrtWebgpu),
    text(r.vsOrtWebgpuCpuTime),
    text(r.vsOrtCpu),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 5 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
    .join('  ');
  const adapters = [...new Set(rs.map((r) => `${r.engine}: ${r.adapter}`))];
  return [`adapters: ${adapters.join('; ')}`, line(header), line(widths.map((x) => '-'.repeat(x))), ...rows.map(line)]
    .join('\n');
}

/** The human-readable report on stdout: the table, the yardsticks, the machine's load, the targets. */
export function printReport(records: ModelRecord[], y: Yardsticks): void {
  console.log(formatTable(records));
  console.log(`\nyardsticks (same run, bench/cases): peak GEMM ${y.peakGemmGflops} GFLOP/s, shader copy ${y.copyGbps}`
    + ` GB/s read + written, decode GEMV ${y.gemvGbps} GB/s of weights`);
  console.log(`load average after the run: ${loadavg().map((l) => l.toFixed(2)).join(' ')}; "other cores" = CPU used `
    + 'by other processes at nice 0 during the timed loop');
  const lines = targets(records);
  if (lines.length) console.log(`\nTargets:\n  ${lines.join('\n  ')}`);
}
