/** Child processes of the model bench: the ONNX exporter, the quantiser and the ORT peers. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { log } from './options';

export const ROOT = resolve(new URL('../..', import.meta.url).pathname);
export const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
export const PYTHON = process.env.PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');

/** Runs `cmd` in the repository root; resolves to its stdout when `capture`, else forwards it to stderr. */
export function runChild(cmd: string, args: string[], capture: boolean): Promise<string> {
  return new Promise((res, rej) => {
    // stdout is captured or forwarded to stderr: with --json only the records may reach our stdout.
    const p = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout!.on('data', (d: Buffer) => {
      if (capture) out += d;
      else for (const line of d.toString().split('\n')) if (line.trim()) log(`    ${line}`);
    });
    p.stderr!.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) {
        if (line.trim() && !/artificially reduced/.test(line)) log(`    ${line}`);
      }
    });
    p.on('error', rej);
    p.on('close', (code) => (code === 0 ? res(out) : rej(new Error(`${cmd} ${args.join(' ')} exited with ${code}`))));
  });
}
