/**
 * Running the demo model's Python tools (weights-tools/train) from the tests: the interpreter, a check for the
 * tools a test needs (the reason it skips when one is missing), and a runner for a snippet that prints one JSON
 * value; the snippet runs after a prelude that imports `sys` and makes `train` and `make_data` importable.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const REPO = join(__dirname, '..', '..');
export const PY = '/usr/bin/python3';

/**
 * Why a test that needs the tools behind `checks` (shell commands that succeed when a tool is there) cannot run
 * on this machine, for `skipWhen` (test/helpers/skip.ts); null when every check passes.
 */
export function missingTools(checks: string[]): string | null {
  const failed = checks.filter((c) => spawnSync('sh', ['-c', c], { stdio: 'ignore' }).status !== 0);
  return failed.length ? `tool checks fail (bash scripts/setup.sh installs the tools): ${failed.join('; ')}` : null;
}

export const TORCH = `${PY} -c "import torch, numpy"`;

const PRELUDE = 'import sys\nsys.argv = ["train.py"]\nsys.path.insert(0, "weights-tools/train"); ' +
  'sys.path.insert(0, "weights-tools")\n';

/** Runs `script` in the repository root with `input` on stdin and returns what it printed, parsed as JSON. */
export function runPython<T>(script: string, input: string, timeoutMs = 120_000): T {
  const r = spawnSync(PY, ['-c', PRELUDE + script], { cwd: REPO, input, encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`python failed (input ${input}):\n${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
