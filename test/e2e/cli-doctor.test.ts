/**
 * A package user's first run without a GPU driver: `glm-asr doctor` says what it finds and what is missing, and
 * `glm-asr setup --deb` installs lavapipe from a mesa-vulkan-drivers package into the user cache folder and
 * records it, after which the CLI transcribes with no Vulkan variable set. The package is built here from the
 * lavapipe the test run uses (VK_ICD_FILENAMES, set by scripts/with-gpu-env.sh), so no download is needed.
 * Every run gets its own XDG_CACHE_HOME.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO } from '../audio/helpers';
import { skipWhen } from '../helpers/skip';

const CLIP = join(REPO, 'models/demo/samples/digits-oh.wav');
const expected: Record<string, string> =
  JSON.parse(readFileSync(join(REPO, 'models/demo/samples/expected.json'), 'utf8'));
const ICD = process.env.VK_ICD_FILENAMES;
const NO_ICD = ICD ? null : 'the tests run on the system Vulkan drivers (no VK_ICD_FILENAMES): no lavapipe to package';

/** The CLI with the Vulkan variables removed and its own cache folder. */
function cli(args: string[], cache: string) {
  // Mesa keeps its compiled shaders under XDG_CACHE_HOME too: point it at the usual folder, or every run here
  // would compile the engine's shaders from scratch (about a minute on lavapipe).
  const mesaCache = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'mesa_shader_cache');
  const env: Record<string, string | undefined> = {
    ...process.env, XDG_CACHE_HOME: cache, MESA_SHADER_CACHE_DIR: mesaCache, NO_COLOR: '1',
  };
  delete env.VK_ICD_FILENAMES;
  delete env.VK_DRIVER_FILES;
  delete env.XDG_RUNTIME_DIR;
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), ...args], {
    cwd: REPO, encoding: 'utf8', timeout: 120_000, env,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('glm-asr doctor and setup', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'glm-asr-doctor-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('without a driver: doctor and the no-adapter error point to glm-asr setup', (ctx) => {
    const cache = join(tmp, 'bare');
    const doctor = cli(['doctor'], cache);
    if (doctor.code === 0) ctx.skip('this machine has a WebGPU adapter without any set-up');
    expect(doctor.stdout).toMatch(/^adapter +none$/m);
    expect(doctor.stdout).toMatch(/^missing +a WebGPU adapter: run `npx glm-asr setup`/m);
    expect(doctor.code).toBe(1);
    const t = cli(['transcribe', CLIP, '--model', 'demo'], cache);
    expect(t.stderr).toMatch(/`npx glm-asr doctor` shows what is missing.*`npx glm-asr setup` installs a CPU driver/);
    expect(t.stderr).not.toMatch(/scripts\/setup\.sh/);
    expect(t.code).toBe(3);
  });

  it('setup --deb installs and records lavapipe; later runs need no environment variable', skipWhen(NO_ICD), () => {
    const so = (JSON.parse(readFileSync(ICD!, 'utf8')) as { ICD: { library_path: string } }).ICD.library_path;
    const pkg = join(tmp, 'pkg');
    mkdirSync(join(pkg, 'DEBIAN'), { recursive: true });
    mkdirSync(join(pkg, 'usr/lib/x86_64-linux-gnu'), { recursive: true });
    writeFileSync(join(pkg, 'DEBIAN/control'), 'Package: mesa-vulkan-drivers\nVersion: 99.0-test\n' +
      'Architecture: amd64\nMaintainer: test <test@example.org>\nDescription: lavapipe for the glm-asr setup test\n');
    copyFileSync(so, join(pkg, 'usr/lib/x86_64-linux-gnu/libvulkan_lvp.so'));
    const deb = join(tmp, 'mesa-vulkan-drivers_99.0-test_amd64.deb');
    const built = spawnSync('dpkg-deb', ['-Znone', '--root-owner-group', '-b', pkg, deb], { encoding: 'utf8' });
    expect(built.status, built.stderr).toBe(0);

    const cache = join(tmp, 'cache');
    const setup = cli(['setup', '--deb', deb], cache);
    expect(setup.stdout).toContain(`installed mesa-vulkan-drivers 99.0-test into ${cache}/glm-asr`);
    expect(setup.code, setup.stdout + setup.stderr).toBe(0);
    const record = JSON.parse(readFileSync(join(cache, 'glm-asr/driver.json'), 'utf8'));
    expect(record).toEqual({
      icd: join(cache, 'glm-asr/lavapipe/99.0-test/lvp_icd.json'), source: 'mesa-vulkan-drivers 99.0-test',
    });

    const doctor = cli(['doctor'], cache);
    expect(doctor.stdout).toMatch(/^driver +recorded by glm-asr setup in .*: mesa-vulkan-drivers 99\.0-test$/m);
    expect(doctor.stdout).toMatch(/^adapter +.*llvmpipe.*\(CPU adapter\)$/m);
    expect(doctor.stdout).toMatch(/^features +shader-f16 (yes|no), subgroups (yes|no)/m);
    expect(doctor.stdout).toMatch(/^limits +storage binding \d+ MiB/m);
    expect(doctor.code).toBe(0);

    const t = cli(['transcribe', CLIP, '--model', 'demo', '--quiet'], cache);
    expect(t.stdout.trim()).toBe(expected['digits-oh.wav']);
    expect(t.stderr).not.toMatch(/XDG_RUNTIME_DIR/);
    expect(t.code).toBe(0);
  });

  it('setup refuses to run when the Vulkan driver is chosen in the environment', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), 'setup'], {
      cwd: REPO, encoding: 'utf8', timeout: 60_000,
      env: { ...process.env, VK_ICD_FILENAMES: '/x.json', XDG_CACHE_HOME: tmp },
    });
    expect(r.stdout).toMatch(/VK_ICD_FILENAMES or VK_DRIVER_FILES is set/);
    expect(r.status).toBe(1);
  });
});
