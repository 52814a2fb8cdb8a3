/**
 * The npm package as a user gets it: built (`npm run build`) in a copy of the working tree, packed (`npm pack`)
 * and installed from the tarball into an empty folder (`npm install --prefer-offline`), where
 * `npx glm-asr transcribe --model demo` must transcribe the demo clips shipped in the package and
 * `npx glm-asr doctor` must find the adapter. The copy keeps this build out of the repository's dist/, which
 * other tests build into.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../audio/helpers';

const TIMEOUT = 600_000;

function run(cmd: string, args: string[], cwd: string) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: TIMEOUT, env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, out: `${r.stdout}\n${r.stderr}`.trim() };
}

describe('the packed npm package', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'glm-asr-package-'));
  const app = join(tmp, 'app');
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  beforeAll(() => {
    const src = join(tmp, 'src');
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { files: string[] };
    // What the build reads, and what `files` ships (dist is what the build makes).
    const inputs = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsup.config.ts', 'src', 'scripts'];
    for (const p of new Set([...inputs, ...pkg.files.filter((f) => f !== 'dist')])) {
      cpSync(join(REPO, p), join(src, p), { recursive: true });
    }
    symlinkSync(join(REPO, 'node_modules'), join(src, 'node_modules'));
    const build = run('npm', ['run', 'build'], src);
    expect(build.code, build.out).toBe(0);
    const pack = run('npm', ['pack', '--pack-destination', tmp], src);
    expect(pack.code, pack.out).toBe(0);
    const tarball = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
    expect(tarball).toBeDefined();
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'glm-asr-package-test', private: true }));
    const install = run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(tmp, tarball!)], app);
    expect(install.code, install.out).toBe(0);
  }, TIMEOUT);

  it('npx glm-asr transcribe --model demo transcribes the demo clips shipped in the package', () => {
    const samples = join(app, 'node_modules/glm-asr-webgpu/models/demo/samples');
    const expected: Record<string, string> = JSON.parse(readFileSync(join(samples, 'expected.json'), 'utf8'));
    const args = ['--no-install', 'glm-asr', 'transcribe', `${samples}/*.wav`, '--model', 'demo', '--format', 'json'];
    const r = run('npx', args, app);
    expect(r.code, r.out).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { file: string; text: string });
    const got = Object.fromEntries(lines.map((j) => [j.file.split('/').pop(), j.text]));
    expect(Object.keys(got).sort()).toEqual(Object.keys(expected).sort());
    // The demo model gets every shipped sample right (models/demo/samples/reference-ids.json).
    for (const [name, text] of Object.entries(expected)) expect(got[name], name).toBe(text);
  }, TIMEOUT);

  it('npx glm-asr doctor finds the adapter', () => {
    const r = run('npx', ['--no-install', 'glm-asr', 'doctor'], app);
    expect(r.stdout).toMatch(/^adapter +\S/m);
    expect(r.stdout).not.toMatch(/^adapter +none$/m);
    expect(r.code, r.out).toBe(0);
  }, TIMEOUT);
});
