/** gpu-check's markdown report: adapter, driver, limits, features, the parts, the targets, every bench figure. */
import type { ModelRecord } from '../model/records';
import type { AdapterFacts } from './adapter';
import type { PartResult } from './parts';
import type { TargetRow } from './targets';

export interface ReportInput {
  date: string;
  commit: string;
  command: string;
  host: string;
  seconds: number;
  facts: AdapterFacts;
  parts: PartResult[];
  /** Parts not asked for (--parts). */
  notRun: string[];
  targets: TargetRow[];
  log: string;
}

export const CPU_NOTICE = 'This is a CPU (software) adapter: only the small parts ran';

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const table = (header: string[], rows: string[][]) => [
  `| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`,
  ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
];

function adapterSection(f: AdapterFacts): string[] {
  const a = f.summary;
  const c = f.caps;
  const yes = (b: boolean) => (b ? 'yes' : 'no');
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
  const lines = [
    '## Adapter', '',
    ...table(['', ''], [
      ['adapter', `vendor "${a.vendor}", architecture "${a.architecture}", description "${a.description}"`],
      ['kind', c.cpuAdapter ? 'CPU (software) adapter' : 'hardware adapter'],
      ['backend', f.backend],
      ['driver', f.diagnosis.driver + (f.system ? `; ${f.system}` : '')],
      ['features', `shader-f16 ${yes(c.f16)}, subgroups ${yes(c.subgroups)} (sizes ${c.subgroupMinSize}–`
        + `${c.subgroupMaxSize}), timestamp-query ${yes(c.timestampQuery)}, packed_4x8_integer_dot_product `
        + yes(c.packedDot4)],
      ['limits', `max storage binding ${mib(c.maxStorageBindingBytes)}, max buffer ${mib(c.maxBufferBytes)}, `
        + `workgroup memory ${c.maxWorkgroupStorageBytes / 1024} KiB, ${c.maxInvocationsPerWorkgroup} invocations `
        + `per workgroup (x ≤ ${c.maxWorkgroupSizeX}), ${c.maxStorageBuffersPerStage} storage buffers per stage, `
        + `${c.maxWorkgroupsPerDimension} workgroups per dimension, storage offset alignment `
        + `${c.storageOffsetAlignment} B`],
      ['missing', f.diagnosis.missing.length ? f.diagnosis.missing.join('; ') : 'nothing'],
    ]),
  ];
  if (c.cpuAdapter) {
    lines.push('', `> **${CPU_NOTICE}** (a kernel test subset, the goldens, the demo model and a short bench on the `
      + 'tiny golden checkpoint unless --model names another). The GPU targets are for hardware adapters; the figures '
      + 'below are measured on that small model and decide nothing.');
  }
  return lines;
}

function partsSection(parts: PartResult[], notRun: string[]): string[] {
  const lines = ['', '## Parts', '', ...table(['part', 'status', 'seconds', 'result', 'what ran'],
    parts.map((p) => [p.name, p.status, p.seconds.toFixed(0), p.summary, `\`${p.what}\``]))];
  if (notRun.length) lines.push('', `Not asked for (--parts): ${notRun.join(', ')}.`);
  for (const p of parts.filter((x) => x.details.length)) {
    lines.push('', `**${p.name}** (${p.status}):`, '', ...p.details.map((d) => `- ${d}`));
  }
  return lines;
}

function recordsSection(records: ModelRecord[]): string[] {
  const shape = (s: Record<string, unknown>) => Object.entries(s).filter(([k]) => k !== 'search')
    .map(([k, v]) => `${k}=${v}`).join(' ');
  const opt = (v: unknown) => (v === undefined ? '' : String(v));
  const rows = records.map((r) => [
    r.stage, r.engine, r.precision, `${r.layers.encoder}/${r.layers.decoder}${r.extrapolated ? ' extrap.' : ''}`,
    shape(r.shape), String(r.medianMs), opt(r.minMs), String(r.iters), String(r.warmup),
    r.gflops !== undefined ? `${r.gflops} (${r.pctPeakFlops}%)` : '',
    r.gbps !== undefined ? `${r.gbps}${r.pctCopy !== undefined ? ` (${r.pctCopy}%)` : ''}` : '',
    r.peakGpuBytes !== undefined ? (r.peakGpuBytes / 2 ** 20).toFixed(1) : '',
    r.check === undefined ? '' : (r.check as { ok: boolean }).ok ? 'ok' : 'WRONG', opt(r.vsOrtWebgpu),
  ]);
  const y = records[0]?.yardsticks as { peakGemmGflops: number; copyGbps: number; gemvGbps: number } | undefined;
  return [
    '', '## Model benchmark figures', '',
    `Adapters: ${[...new Set(records.map((r) => `${r.engine}: ${r.adapter}`))].join('; ')}.`, '',
    ...table(['stage', 'engine', 'precision', 'depth enc/dec', 'shape', 'median ms', 'min ms', 'runs', 'warm-up',
      'GFLOP/s (% peak GEMM)', 'GB/s (% copy)', 'peak GPU MiB', 'check', 'ours/ORT-webgpu'], rows),
    ...(y ? ['', `Yardsticks (same run, bench/cases): peak GEMM ${y.peakGemmGflops} GFLOP/s, shader copy `
      + `${y.copyGbps} GB/s read + written, decode GEMV ${y.gemvGbps} GB/s of weights.`] : []),
  ];
}

export function formatReport(x: ReportInput): string {
  const bench = x.parts.find((p) => p.name === 'bench')?.records;
  const failed = x.parts.filter((p) => p.status === 'failed' || p.status === 'timed out');
  return [
    '# gpu-check report', '',
    `${x.date}, commit ${x.commit}, ${x.seconds.toFixed(0)} s in all. Command: \`${x.command}\`. Host: ${x.host}. `
      + `Full output: ${x.log}.`, '',
    `**Result: ${failed.length ? `FAILED (${failed.map((p) => `${p.name} ${p.status}`).join(', ')})` : 'all parts '
      + 'that ran passed'}.**`, '',
    ...adapterSection(x.facts),
    ...partsSection(x.parts, x.notRun),
    '', '## Targets', '',
    ...table(['target', 'measured', 'verdict'], x.targets.map((t) => [t.target, t.measured || '—', t.verdict])),
    ...(bench ? recordsSection(bench) : []),
    '',
  ].join('\n');
}
