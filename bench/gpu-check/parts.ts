/**
 * gpu-check's parts: what each runs on a hardware adapter and on a CPU adapter, its time limit, and its result.
 * Each part is a child process: vitest on test files (its JSON report read back), or the model bench (its JSON
 * records read back).
 */
import { cpSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModelRecord } from '../model/records';
import { ROOT, TSX } from '../model/child';
import { DEFAULT_MODEL } from '../model/options';
import { readVitestJson, runPart, VITEST, type ChildResult, type TestCounts } from './run';

export const PARTS = ['kernels', 'goldens', 'demo', 'bench'] as const;
export type PartName = (typeof PARTS)[number];

export interface PartResult {
  name: PartName;
  /** What ran: files, checkpoint, options. */
  what: string;
  status: 'passed' | 'failed' | 'timed out' | 'skipped';
  seconds: number;
  /** One line: counts, or why it was skipped or failed. */
  summary: string;
  /** Failed and skipped tests, or the failing command's last output lines. */
  details: string[];
  records?: ModelRecord[];
}

/** Where and how the parts run. */
export interface Setting {
  cpuAdapter: boolean;
  /** The bench's checkpoint (--model); undefined: the default for the adapter. */
  model: string | undefined;
  log: string;
  /** Scratch folder for the JSON reports and the tiny checkpoint's copy. */
  scratch: string;
}

/** Tests whose names match are left out on a CPU adapter: the demo part runs the demo model once, at f32. */
const CPU_EXCLUDE = { pattern: 'demo model', why: 'the demo model at INT8 and 4-bit: about 45 s a file on lavapipe' };

/** Every kernel test on a GPU (all force the 'gpu' variants somewhere); four quick files on a CPU adapter. */
const kernelFiles = (cpu: boolean): string[] => (cpu
  ? ['matmul', 'norm', 'rope', 'softmax'].map((f) => `test/ops/${f}.test.ts`)
  : ['test/ops']);
/** One vitest run each: f32 and f16, INT8, 4-bit. */
const GOLDEN_GROUPS = ['glm-asr-goldens', 'int8', 'int4'].map((f) => [`test/models/${f}.test.ts`]);

const FULL_SIZE_HELP = 'set GLM_ASR_MODEL_DIR or pass --model DIR (the official checkpoint), or make the '
  + `full-size random one: /usr/bin/python3 weights-tools/make_checkpoint.py --preset glm-asr-nano-2512 --out `
  + `${DEFAULT_MODEL} --no-check`;

function testCountsSummary(c: TestCounts): string {
  return `${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`;
}

function status(r: ChildResult, ok: boolean): PartResult['status'] {
  return r.timedOut ? 'timed out' : ok ? 'passed' : 'failed';
}

/**
 * vitest on each group of files in turn (one child each, so that a group that runs out of time keeps the others'
 * counts); `exclude`: leave out the tests CPU_EXCLUDE names (listed as such).
 */
async function vitestPart(name: PartName, groups: string[][], s: Setting, limitS: number, exclude = false):
  Promise<PartResult> {
  const t0 = performance.now();
  const all: TestCounts = { passed: 0, failed: 0, skipped: 0, failures: [], skips: [] };
  const problems: string[] = [];
  let timedOut = false;
  let failed = false;
  for (const [i, files] of groups.entries()) {
    const left = limitS - (performance.now() - t0) / 1000;
    if (left < 5) {
      timedOut = true;
      problems.push(`not started, the part's ${limitS.toFixed(0)} s were spent: ${files.join(' ')}`);
      continue;
    }
    const json = join(s.scratch, `${name}-${i}.json`);
    const args = ['run', '--project', 'node', '--reporter=dot', '--reporter=json', `--outputFile.json=${json}`];
    if (exclude) args.push('-t', `^(?!.*${CPU_EXCLUDE.pattern})`);
    const r = await runPart(VITEST, [...args, ...files], left, s.log);
    const c = readVitestJson(json);
    if (c) {
      all.passed += c.passed;
      all.failed += c.failed;
      all.skipped += c.skipped;
      all.failures.push(...c.failures);
      all.skips.push(...c.skips);
    }
    if (r.timedOut) {
      timedOut = true;
      problems.push(`timed out after ${r.seconds.toFixed(0)} s in ${files.join(' ')} (its tests are not counted)`);
    } else if (!c) {
      failed = true;
      problems.push(`no test report from ${files.join(' ')} (exit ${r.code}):`, ...r.tail.map((l) => `  ${l}`));
    } else if (r.code !== 0 || c.failed) failed = true;
  }
  const excluded = (line: string) => exclude && line.includes(CPU_EXCLUDE.pattern);
  const skips = all.skips.map((l) => (excluded(l) ? `${l.replace(/: no reason given$/, '')}: excluded on a CPU `
    + `adapter (${CPU_EXCLUDE.why})` : l));
  return {
    name, what: `vitest ${groups.flat().join(' ')}${exclude ? ` (without "${CPU_EXCLUDE.pattern}" tests)` : ''}`,
    status: timedOut ? 'timed out' : failed ? 'failed' : 'passed', seconds: (performance.now() - t0) / 1000,
    summary: testCountsSummary(all),
    details: [...problems, ...all.failures.map((f) => `FAILED ${f}`), ...skips.map((k) => `skipped ${k}`)],
  };
}

/** The bench's options for each adapter kind: full depth on a GPU; the tiny checkpoint, briefly, on a CPU. */
function benchArgs(cpu: boolean): string[] {
  const common = ['--stages', 'load,encoder-window,decode-step,transcribe', '--audio', '5', '--tokens', '20'];
  return cpu
    ? [...common, '--precision', 'f32,int8,int4', '--peers', 'none', '--beams', '1', '--iters', '2', '--warmup', '1',
      '--min-time', '0']
    : [...common, '--precision', 'f32,f16,int8,int4', '--peers', 'ort-webgpu', '--beams', '1,4', '--iters', '5',
      '--warmup', '2', '--min-time', '2'];
}

/**
 * The model bench (bench/model.ts) with ONNX Runtime's WebGPU EP beside it, at full depth, on the full-size
 * checkpoint; on a CPU adapter our engine alone on a copy of the tiny golden checkpoint (its INT8 copy is written
 * next to it).
 */
async function benchPart(s: Setting, limitS: number): Promise<PartResult> {
  let model = s.model ?? (s.cpuAdapter ? undefined : process.env.GLM_ASR_MODEL_DIR ?? DEFAULT_MODEL);
  if (model === undefined) {
    model = join(s.scratch, 'tiny');
    cpSync(join(ROOT, 'test', 'goldens', 'tiny'), model, { recursive: true });
  }
  const args = [...benchArgs(s.cpuAdapter), '--model', model];
  const what = `npm run -s bench -- ${args.join(' ')}`;
  if (!s.model && !s.cpuAdapter && !existsSync(join(model, 'config.json'))) {
    return { name: 'bench', what, status: 'skipped', seconds: 0, summary: `no checkpoint at ${model}`,
      details: [FULL_SIZE_HELP] };
  }
  const out = join(s.scratch, 'bench.json');
  const r = await runPart(TSX, ['bench/model.ts', ...args, '--json', '--out', out], limitS, s.log);
  const records = r.code === 0 && existsSync(out) ? JSON.parse(readFileSync(out, 'utf8')) as ModelRecord[] : undefined;
  return {
    name: 'bench', what, status: status(r, records !== undefined), seconds: r.seconds,
    summary: records ? `${records.length} records` : `exit ${r.code ?? 'killed'}`,
    details: records ? [] : r.tail, records,
  };
}

/** Runs `part` within `limitS` seconds. */
export function runOne(part: PartName, s: Setting, limitS: number): Promise<PartResult> {
  switch (part) {
    case 'kernels': return vitestPart(part, [kernelFiles(s.cpuAdapter)], s, limitS);
    case 'goldens': return vitestPart(part, GOLDEN_GROUPS, s, limitS, s.cpuAdapter);
    case 'demo': return vitestPart(part, [['test/demo/demo-model.test.ts']], s, limitS);
    case 'bench': return benchPart(s, limitS);
  }
}

/** Each part's share of the time (seconds) on each adapter kind; the bench gets what the others leave. */
export const LIMITS: Record<'gpu' | 'cpu', Record<PartName, number>> = {
  gpu: { kernels: 120, goldens: 90, demo: 45, bench: 600 },
  cpu: { kernels: 90, goldens: 240, demo: 90, bench: 150 },
};

export const scratchDir = (): string => mkdtempSync(join(tmpdir(), 'glm-asr-gpu-check-'));
