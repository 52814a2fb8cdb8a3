/** gpu-check's child processes: each part runs as one, with a time limit, its output appended to the log. */
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../model/child';

export interface ChildResult {
  /** Exit code; null when killed. */
  code: number | null;
  timedOut: boolean;
  seconds: number;
  /** The last lines of its stdout and stderr together, for the report when it failed. */
  tail: string[];
}

/**
 * Runs `cmd args` in the repository root for at most `limitS` seconds (then its whole process group is killed),
 * appending its output to `log`. Variables of an enclosing vitest run are dropped, so that a vitest child behaves
 * as it does from a shell.
 */
export function runPart(cmd: string, args: string[], limitS: number, log: string): Promise<ChildResult> {
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env)
    .filter(([k]) => !k.startsWith('VITEST')));
  env.NO_COLOR = '1'; // plain text in the log and the report
  appendFileSync(log, `\n$ ${cmd} ${args.join(' ')}\n`);
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const lines: string[] = [];
    const take = (d: Buffer) => {
      appendFileSync(log, d);
      // Not the dot reporter's progress, nor Dawn's limit warnings.
      const keep = (l: string) => /[^\s·\-*]/.test(l) && !/artificially reduced/.test(l);
      lines.push(...d.toString().split('\n').filter(keep));
      lines.splice(0, Math.max(0, lines.length - 20));
    };
    p.stdout!.on('data', take);
    p.stderr!.on('data', take);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      process.kill(-p.pid!, 'SIGKILL');
    }, limitS * 1000);
    p.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, timedOut, seconds: (performance.now() - t0) / 1000, tail: lines.slice(-12) });
    });
  });
}

export interface TestCounts {
  passed: number;
  failed: number;
  skipped: number;
  /** "file › test" of each failed test. */
  failures: string[];
  /** "file › test: reason" of each skipped test (the reason from skipWhen / ctx.skip, test/helpers/skip.ts). */
  skips: string[];
}

interface VitestJson {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  testResults: {
    name: string;
    status: string;
    message: string;
    assertionResults: { fullName: string; status: string; meta?: { skipReason?: string } }[];
  }[];
}

/** The counts of vitest's JSON report (`--reporter=json --outputFile FILE`); undefined when it wrote none. */
export function readVitestJson(file: string): TestCounts | undefined {
  if (!existsSync(file)) return undefined;
  const j = JSON.parse(readFileSync(file, 'utf8')) as VitestJson;
  const rel = (f: string) => f.replace(`${ROOT}/`, '');
  const failures: string[] = [];
  const skips: string[] = [];
  for (const f of j.testResults) {
    // A file that failed to load has no assertion results, only its message.
    if (f.status === 'failed' && f.assertionResults.length === 0) failures.push(`${rel(f.name)}: ${f.message}`);
    for (const a of f.assertionResults) {
      if (a.status === 'failed') failures.push(`${rel(f.name)} › ${a.fullName}`);
      if (a.status === 'skipped' || a.status === 'pending' || a.status === 'todo') {
        skips.push(`${rel(f.name)} › ${a.fullName}: ${a.meta?.skipReason ?? 'no reason given'}`);
      }
    }
  }
  return {
    passed: j.numPassedTests, failed: Math.max(j.numFailedTests, failures.length),
    skipped: j.numPendingTests + j.numTodoTests, failures, skips,
  };
}

export const VITEST = join(ROOT, 'node_modules', '.bin', 'vitest');
