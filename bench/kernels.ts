/**
 * Kernel benchmark: every registered case, side by side in one run on one device.
 *
 *   npm run bench:kernels -- [--json] [--filter TEXT] [--iters N] [--warmup N]
 *
 *   --json        print only a JSON array of records (use `npm run -s` or `npx tsx bench/kernels.ts` so that npm's
 *                 own banner stays off stdout) {op, variant, shape, adapter, features, medianMs, gflops?, gbps?,
 *                 minMs, cpuMs, iters, warmup, bytesNote?, skipped?} on stdout (progress goes to stderr)
 *   --filter T    only cases whose "op/variant" contains T (e.g. "matmul", "copy", "ours")
 *   --iters N     timed runs per case (default 7); the median is reported
 *   --warmup N    untimed runs per case first (default 2; the first also compiles the pipeline)
 *
 * Cases with the same op and shape are timed round-robin (see bench/lib.ts). Kernel families register rows by
 * adding a module with `export const cases: BenchCase[]` to CASE_MODULES below.
 */
import { loadavg } from 'node:os';
import { Gpu } from '../src/gpu';
import { formatTable, groupCases, runGroup, type BenchCase, type BenchRecord } from './lib';
import * as attentionCases from './cases/attention';
import * as conv1dCases from './cases/conv1d';
import * as copyCases from './cases/copy';
import * as fusionCases from './cases/fusion';
import * as hostCases from './cases/host';
import * as matmulCases from './cases/matmul';
import * as matmulInt4Cases from './cases/matmul-int4';
import * as matmulInt8Cases from './cases/matmul-int8';
import * as normCases from './cases/norm';
import * as ropeCases from './cases/rope';
import * as sampleCases from './cases/sample';

/** Every kernel family's rows, in output order. Add a module here to register its cases. */
const CASE_MODULES: { cases: BenchCase[] }[] = [
  copyCases, hostCases, matmulCases, matmulInt8Cases, matmulInt4Cases, fusionCases, attentionCases, normCases,
  ropeCases, conv1dCases, sampleCases,
];

function parseArgs(argv: string[]) {
  const opts = { json: false, filter: '', iters: 7, warmup: 2 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--json') opts.json = true;
    else if (a === '--filter') opts.filter = value();
    else if (a === '--iters') opts.iters = Math.max(1, Number(value()));
    else if (a === '--warmup') opts.warmup = Math.max(0, Number(value()));
    else if (a === '--help' || a === '-h') {
      console.log('usage: tsx bench/kernels.ts [--json] [--filter TEXT] [--iters N] [--warmup N]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(opts.iters) || !Number.isInteger(opts.warmup)) {
    throw new Error('--iters/--warmup need integers');
  }
  return opts;
}

const find = (rs: BenchRecord[], variant: string, shape: Record<string, number>) =>
  rs.find((r) => r.op === 'matmul' && r.variant === variant &&
    JSON.stringify(r.shape) === JSON.stringify(shape) && !r.skipped);

/** The targets of the matmul work item, computed from this run's records. */
function targetChecks(rs: BenchRecord[]): string[] {
  const lines: string[] = [];
  const g = matmulCases.GEMM;
  const ours = find(rs, 'ours-f32', g);
  for (const base of ['baseline-regblock', 'baseline-appendix']) {
    const b = find(rs, base, g);
    if (ours && b) {
      const s = b.medianMs / ours.medianMs;
      lines.push(`GEMM ${g.M}x${g.N}x${g.K}: ours-f32 is ${s.toFixed(2)}x ${base} ` +
        `(${ours.gflops} vs ${b.gflops} GFLOP/s; ` +
        `cpu-time ratio ${(b.cpuMs / ours.cpuMs).toFixed(2)}x) — target >= 2x: ${s >= 2 ? 'MET' : 'NOT MET'}`);
    }
  }
  const copy = rs.find((r) => r.op === 'copy' && r.variant === 'copy' && !r.skipped);
  for (const v of ['ours-f32', 'ours-f16']) {
    const d = find(rs, v, matmulCases.DECODE);
    if (d && copy && d.gbps && copy.gbps) {
      const pct = (100 * d.gbps) / copy.gbps;
      const cpuPct = (100 * d.gbps * d.medianMs / d.cpuMs) / (copy.gbps * copy.medianMs / copy.cpuMs);
      lines.push(`decode M=1 K=${matmulCases.DECODE.K} N=${matmulCases.DECODE.N} ${v}: ` +
        `${d.gbps.toFixed(2)} GB/s of weights read ` +
        `(${d.medianMs.toFixed(1)} ms) = ${pct.toFixed(0)}% of the shader copy's ${copy.gbps.toFixed(2)} GB/s ` +
        `read + written (${(2 * pct).toFixed(0)}% of its read rate; cpu-time ratio ${cpuPct.toFixed(0)}%) ` +
        `— target >= 50%: ${pct >= 50 ? 'MET' : 'NOT MET'}`);
    }
  }
  return lines;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const all = CASE_MODULES.flatMap((m) => m.cases);
  const selected = all.filter((c) => `${c.op}/${c.variant}`.includes(opts.filter));
  if (!selected.length) throw new Error(`no case matches --filter "${opts.filter}"`);
  const gpu = await Gpu.create();
  log(`adapter: ${gpu.describe()}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ` +
    `warm-up ${opts.warmup}, ${opts.iters} timed runs per case`);
  const records: BenchRecord[] = [];
  for (const group of groupCases(selected)) records.push(...(await runGroup(gpu, group, { ...opts, log })));
  const errors = [...gpu.errors];
  gpu.destroy();
  if (errors.length) throw new Error(`GPU errors during the benchmark: ${errors.join('; ')}`);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(records, null, 1)}\n`);
    return;
  }
  console.log(formatTable(records));
  console.log(`\nload average after the run: ${loadavg().map((l) => l.toFixed(2)).join(' ')} ` +
    '(2 cores shared with other jobs: ' +
    'wall-clock medians are noisy; cpu ms is this process\'s CPU time per run)');
  const checks = targetChecks(records);
  if (checks.length) console.log(`\nTargets:\n  ${checks.join('\n  ')}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
