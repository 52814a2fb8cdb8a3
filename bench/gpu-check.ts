/**
 * Validates and measures a WebGPU adapter in one command and writes a markdown report (issue 18 §2).
 *
 *   npm run -s gpu-check -- [--out FILE] [--model DIR] [--parts LIST] [--budget S]
 *
 * On a hardware adapter, in at most --budget seconds (default 600):
 *   kernels  every kernel test (test/ops: each forces the 'gpu' variants as well as the adapter's own choice)
 *   goldens  the golden checkpoints at f32 and f16, INT8 and 4-bit (test/models/{glm-asr-goldens,int8,int4})
 *   demo     the demo model against its PyTorch reference (test/demo/demo-model.test.ts)
 *   bench    the model bench (bench/model.ts) at full depth, no truncation, f32, f16, INT8 and 4-bit, with ONNX
 *            Runtime's WebGPU EP beside it: load, encoder window, decode step (greedy, beam 4), 5 s transcribe
 * On a CPU (software) adapter it says so and runs the small parts: four kernel test files, the goldens without
 * their demo-model tests, the demo model, and the bench on a copy of the tiny golden checkpoint (f32, INT8,
 * 4-bit; no peers), about 3 minutes on lavapipe.
 *
 *   --out FILE     the report (default gpu-check-report.md); every child's output goes to FILE with .log
 *   --model DIR    the bench's checkpoint (default: $GLM_ASR_MODEL_DIR, else .cache/models/glm-asr-nano-2512-random
 *                  on a hardware adapter; the tiny golden one on a CPU adapter). Without one on a GPU the bench is
 *                  reported as skipped, with how to get one. Its INT8 copy is written next to it on first use
 *                  (npm run quantize), and the first ORT run exports the ONNX models (weights-tools/export_onnx.py):
 *                  both take minutes, so give a first run a larger --budget
 *   --parts LIST   comma list of kernels, goldens, demo, bench (default all); the adapter is always recorded
 *   --budget S     seconds for all parts together (default 600); each part also has a limit of its own
 *
 * The report holds the adapter (vendor, architecture, description), backend, driver, limits and features, each
 * part's status and counts (failed and skipped tests by name), the four GPU targets with the measured figure and
 * pass / FAIL ("not applicable on a software adapter" on a CPU adapter), and every bench record. The exit code is
 * 1 when a part failed or ran out of time, else 0 (a missed target is a finding in the report, not an error).
 */
import { execSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { adapterFacts } from './gpu-check/adapter';
import { LIMITS, PARTS, runOne, scratchDir, type PartName, type PartResult } from './gpu-check/parts';
import { formatReport } from './gpu-check/report';
import { evaluateTargets } from './gpu-check/targets';
import { ROOT } from './model/child';
import type { ModelRecord } from './model/records';

interface Options {
  out: string;
  model: string | undefined;
  parts: PartName[];
  budget: number;
}

function parseOptions(args: string[]): Options | undefined {
  const { values: v } = parseArgs({
    args,
    options: {
      out: { type: 'string', default: 'gpu-check-report.md' },
      model: { type: 'string' },
      parts: { type: 'string', default: PARTS.join(',') },
      budget: { type: 'string', default: '600' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (v.help) return undefined;
  const parts = v.parts!.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = parts.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (unknown.length) throw new Error(`--parts takes ${PARTS.join(', ')}, got ${unknown.join(', ')}`);
  const budget = Number(v.budget);
  if (!(budget > 0)) throw new Error(`--budget needs a number of seconds > 0, got ${v.budget}`);
  return { out: resolve(v.out!), model: v.model && resolve(v.model), parts: parts as PartName[], budget };
}

/** GLM-ASR-Nano-2512's depths: the targets are for the real model, untruncated. */
const REAL_DEPTHS = { encoder: 32, decoder: 28 };

/** Why the records cannot decide the targets: not every row of ours is at the real model's depths. */
function fullDepth(records: ModelRecord[]): string | undefined {
  const off = records.find((r) => r.engine === 'ours'
    && (r.layers.encoder !== REAL_DEPTHS.encoder || r.layers.decoder !== REAL_DEPTHS.decoder));
  return off && `the bench ran ${off.layers.encoder} encoder and ${off.layers.decoder} decoder layers, not the `
    + `real model's ${REAL_DEPTHS.encoder} and ${REAL_DEPTHS.decoder}`;
}

const say = (s: string) => process.stderr.write(`gpu-check: ${s}\n`);

function commit(): string {
  try {
    const git = (args: string) =>
      execSync(`git ${args}`, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const head = git('rev-parse --short HEAD');
    const dirty = git('status --porcelain --untracked-files=no');
    return dirty ? `${head} (with uncommitted changes)` : head;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  if (!opts) {
    const doc = readFileSync(new URL(import.meta.url), 'utf8').split('*/')[0];
    process.stdout.write(doc.replace(/^\/\*\*\n/, '').replace(/^ \* ?/gm, ''));
    return 0;
  }
  const t0 = performance.now();
  const facts = await adapterFacts();
  const cpuAdapter = facts.caps.cpuAdapter;
  const kind = cpuAdapter ? ' — a CPU (software) adapter: small parts only' : '';
  say(`adapter: ${facts.diagnosis.adapter?.name}${kind}`);
  const log = opts.out.replace(/(\.md)?$/, '.log');
  writeFileSync(log, '');
  const setting = { cpuAdapter, model: opts.model, log, scratch: scratchDir() };
  const limits = LIMITS[cpuAdapter ? 'cpu' : 'gpu'];
  const parts: PartResult[] = [];
  for (const name of PARTS.filter((p) => opts.parts.includes(p))) {
    const left = opts.budget - (performance.now() - t0) / 1000;
    if (left < 5) {
      parts.push({ name, what: '', status: 'timed out', seconds: 0, summary: `the --budget of ${opts.budget} s was `
        + 'spent before it could start', details: [] });
      continue;
    }
    say(`${name} (at most ${Math.min(limits[name], left).toFixed(0)} s) …`);
    const r = await runOne(name, setting, Math.min(limits[name], left));
    say(`${name}: ${r.status}, ${r.summary} (${r.seconds.toFixed(0)} s)`);
    parts.push(r);
  }
  const bench = parts.find((p) => p.name === 'bench');
  const targets = evaluateTargets(bench?.records ?? [], {
    cpuAdapter,
    noRecords: bench?.records ? undefined : bench ? `the bench ${bench.status}: ${bench.summary}`
      : 'the bench was not asked for (--parts)',
    notDecisive: fullDepth(bench?.records ?? []),
  });
  const report = formatReport({
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), commit: commit(),
    command: `npm run -s gpu-check -- ${process.argv.slice(2).join(' ')}`.trim(),
    host: `${process.platform} ${process.arch}, ${cpus().length} × ${cpus()[0]?.model.trim() ?? '?'}, `
      + `${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, load average `
      + `${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end (other processes slow every figure)`,
    seconds: (performance.now() - t0) / 1000, facts, parts,
    notRun: PARTS.filter((p) => !opts.parts.includes(p)), targets, log,
  });
  writeFileSync(opts.out, report);
  rmSync(setting.scratch, { recursive: true, force: true }); // JSON reports, the tiny checkpoint's copy
  const failed = parts.filter((p) => p.status === 'failed' || p.status === 'timed out');
  say(`report: ${opts.out}${failed.length ? ` — FAILED: ${failed.map((p) => p.name).join(', ')}` : ''}`);
  return failed.length ? 1 : 0;
}

main().then((code) => process.exit(code), (e) => {
  console.error(`gpu-check: ${e instanceof Error ? e.message : e}`);
  process.exit(2);
});
