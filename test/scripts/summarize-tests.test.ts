/**
 * scripts/summarize-tests.mjs, the end of the test command: its counts for a clean run, a run whose worker died
 * (rerun passed, rerun died again), an error outside any test and a file that failed to load.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SCRIPT = join(__dirname, '..', '..', 'scripts', 'summarize-tests.mjs');
const WORKER_DIED = 'Error: [vitest-pool]: Worker forks emitted error. (Worker exited unexpectedly)';

type Status = 'passed' | 'failed' | 'skipped';
interface Run {
  /** Each file's test results, or 'load-error' for a file that failed before any test ran. */
  files: Record<string, Status[] | 'load-error'>;
  skipped?: string[];
  unfinished?: string[];
  errors?: string[];
}

function summarize(runs: { first: Run; rerun?: Run }, args: string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), 'summary-'));
  mkdirSync(join(dir, 'test-output'));
  for (const [name, run] of Object.entries(runs)) {
    const testResults = Object.entries(run.files).map(([file, statuses]) => ({
      name: join(dir, file),
      status: statuses === 'load-error' || statuses.includes('failed') ? 'failed' : 'passed',
      assertionResults: statuses === 'load-error' ? [] : statuses.map((status) => ({ status })),
    }));
    writeFileSync(join(dir, `test-output/vitest-${name}.json`), JSON.stringify({ testResults }));
    const entry = (file: string) => ({ project: 'node', file, test: 't' });
    writeFileSync(join(dir, `test-output/run-report-${name}.json`), JSON.stringify({
      skipped: (run.skipped ?? []).map((f) => ({ ...entry(f), reason: 'why' })),
      unfinished: (run.unfinished ?? []).map(entry),
      errors: run.errors ?? [],
    }));
  }
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { cwd: dir, encoding: 'utf8' });
  return { last: r.stdout.trim().split('\n').at(-1), out: r.stdout, status: r.status };
}

describe('summarize-tests', () => {
  it('a clean run: passed and skipped counted, exit 0', () => {
    const r = summarize({ first: { files: { 'a.test.ts': ['passed', 'passed', 'skipped'] }, skipped: ['a.test.ts'] } });
    expect(r.last).toBe('2 passed, 0 failed, 1 skipped');
    expect(r.out).toContain('why');
    expect(r.status).toBe(0);
  });

  it('a worker died and its file passed when run again: the rerun stands in for it and is named', () => {
    const first: Run = {
      files: { 'a.test.ts': ['passed'], 'b.test.ts': ['passed', 'passed'] },
      unfinished: ['b.test.ts'], errors: [WORKER_DIED],
    };
    expect(summarize({ first }, ['--died-in']).out.trim()).toBe('b.test.ts');
    const r = summarize({ first, rerun: { files: { 'b.test.ts': ['passed', 'passed', 'passed'] } } });
    expect(r.last).toBe('4 passed, 0 failed, 1 file rerun after a worker died');
    expect(r.status).toBe(0);
  });

  it('a worker that dies again fails the run; so does a death with no rerun report', () => {
    const first: Run = { files: { 'b.test.ts': ['passed'] }, unfinished: ['b.test.ts'], errors: [WORKER_DIED] };
    const again = summarize({ first, rerun: { ...first } });
    expect(again.last).toBe('1 passed, 2 failed, 1 file rerun after a worker died');
    expect(again.status).toBe(1);
    const noRerun = summarize({ first });
    expect(noRerun.last).toBe('1 passed, 3 failed, 1 file rerun after a worker died');
    expect(noRerun.status).toBe(1);
  });

  it('an error outside any test, a failed test and a file that failed to load each count as failed', () => {
    const r = summarize({ first: {
      files: { 'a.test.ts': ['passed', 'failed'], 'broken.test.ts': 'load-error' },
      errors: ['Unhandled Rejection: boom'],
    } });
    expect(r.last).toBe('1 passed, 3 failed');
    expect(r.out).toContain('Unhandled Rejection: boom');
    expect(r.status).toBe(1);
  });
});
