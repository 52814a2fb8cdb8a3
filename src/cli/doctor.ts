/**
 * `glm-asr doctor` and `glm-asr setup`: a package user's first run on a machine that may have no GPU driver.
 *
 * doctor reports the WebGPU adapter Dawn finds (through the driver the environment, `glm-asr setup` or the
 * system provides), its optional features and limits, and what is missing with what it costs.
 *
 * setup makes a CPU adapter available on Linux: when no adapter works it installs Mesa's lavapipe (Vulkan on the
 * CPU; Mesa 24+ is needed, Debian 12's own Mesa 22 lavapipe is rejected by Dawn) from a `mesa-vulkan-drivers`
 * package into the user cache folder and records it (gpu/node-driver.ts), so later runs use it by themselves.
 * The package comes from bookworm-backports through apt-get with a private state folder (no root needed), or
 * from `--deb FILE`.
 */
import { spawnSync } from 'node:child_process';
import {
  copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gpu } from '../gpu';
import {
  driverCacheDir, driverChosenByEnv, driverRecordPath, readRecordedDriver, type RecordedDriver,
} from '../gpu/node-driver';

export interface Diagnosis {
  node: string;
  platform: string;
  /** Which Vulkan drivers Dawn was given: the environment's choice, the recorded one, or the system's. */
  driver: string;
  adapter: null | {
    name: string;
    cpu: boolean;
    features: { 'shader-f16': boolean; subgroups: boolean; 'timestamp-query': boolean; packedDot4: boolean };
    limits: Record<string, number>;
  };
  /** What is missing, each with what it costs or how to get it. Empty when nothing is. */
  missing: string[];
}

const SETUP_HINT = 'run `npx glm-asr setup` (installs a CPU driver, Mesa lavapipe, into the user cache folder) ' +
  "or install the GPU's Vulkan driver";

export async function diagnose(): Promise<Diagnosis> {
  const missing: string[] = [];
  const recorded = readRecordedDriver();
  let driver: string;
  if (driverChosenByEnv()) {
    driver = `chosen by the environment: ${process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES}`;
  } else if (recorded && existsSync(recorded.icd)) {
    driver = `recorded by glm-asr setup in ${driverRecordPath()}: ${recorded.source}`;
  } else {
    driver = "the system's Vulkan drivers";
    if (recorded) {
      missing.push(`the driver recorded in ${driverRecordPath()} is gone (${recorded.icd}): run glm-asr setup again`);
    }
  }
  const base = { node: process.version, platform: `${process.platform} ${process.arch}`, driver };
  let gpu: Gpu;
  try {
    gpu = await Gpu.create();
  } catch (e) {
    missing.push(`a WebGPU adapter: ${SETUP_HINT} (${(e as Error).message.split('. ')[0]})`);
    return { ...base, adapter: null, missing };
  }
  const c = gpu.caps;
  if (!c.f16) missing.push('shader-f16: no f16 weights on the GPU (precision f16); f32 takes twice the memory');
  if (!c.subgroups) missing.push('subgroups: reductions use the slower workgroup-memory variants');
  if (!c.timestampQuery) missing.push('timestamp-query: the benchmarks cannot time kernels on the GPU');
  if (!c.packedDot4) missing.push('packed_4x8_integer_dot_product: INT8 matmuls unpack bytes by hand (slower)');
  if (c.cpuAdapter) missing.push('a hardware GPU: this is a CPU adapter, which works but is many times slower');
  const adapter: Diagnosis['adapter'] = {
    name: gpu.describe().replace(/ \[.*\]$/, ''),
    cpu: c.cpuAdapter,
    features: {
      'shader-f16': c.f16, subgroups: c.subgroups, 'timestamp-query': c.timestampQuery, packedDot4: c.packedDot4,
    },
    limits: {
      maxStorageBindingBytes: c.maxStorageBindingBytes,
      maxBufferBytes: c.maxBufferBytes,
      maxWorkgroupStorageBytes: c.maxWorkgroupStorageBytes,
      maxInvocationsPerWorkgroup: c.maxInvocationsPerWorkgroup,
      maxStorageBuffersPerStage: c.maxStorageBuffersPerStage,
      subgroupMinSize: c.subgroupMinSize,
      subgroupMaxSize: c.subgroupMaxSize,
    },
  };
  gpu.destroy();
  return { ...base, adapter, missing };
}

export async function doctorCommand(json: boolean): Promise<number> {
  const d = await diagnose();
  if (json) {
    console.log(JSON.stringify(d));
    return d.adapter ? 0 : 1;
  }
  const row = (k: string, v: string) => console.log(`${k.padEnd(10)}${v}`);
  row('node', `${d.node} (${d.platform})`);
  row('driver', d.driver);
  if (d.adapter) {
    const a = d.adapter;
    row('adapter', `${a.name}${a.cpu ? ' (CPU adapter)' : ''}`);
    row('features', Object.entries(a.features).map(([k, v]) => `${k} ${v ? 'yes' : 'no'}`).join(', '));
    const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
    const l = a.limits;
    row('limits', `storage binding ${mib(l.maxStorageBindingBytes)}, buffer ${mib(l.maxBufferBytes)}, ` +
      `workgroup memory ${l.maxWorkgroupStorageBytes / 1024} KiB, ${l.maxInvocationsPerWorkgroup} invocations, ` +
      `${l.maxStorageBuffersPerStage} storage buffers, subgroups ${l.subgroupMinSize}-${l.subgroupMaxSize}`);
  } else {
    row('adapter', 'none');
  }
  row('missing', d.missing.length ? d.missing[0] : 'nothing');
  for (const m of d.missing.slice(1)) row('', m);
  console.log(d.adapter ? '\nglm-asr can run here.' : `\nglm-asr cannot run here yet: ${SETUP_HINT}.`);
  return d.adapter ? 0 : 1;
}

/** The doctor of a fresh process with `env` (the Vulkan loader reads its variables once per process). */
function probe(env: Record<string, string | undefined>): Diagnosis {
  const r = spawnSync(process.execPath, [...process.execArgv, process.argv[1], 'doctor', '--json'], {
    encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000,
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as Diagnosis;
  } catch {
    throw new Error(`the adapter probe failed (exit ${r.status}): ${r.stderr.trim().split('\n').pop() ?? ''}`);
  }
}

export async function setupCommand(deb: string | undefined): Promise<number> {
  const say = (s: string) => console.log(`glm-asr setup: ${s}`);
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    say(`installs a CPU driver on Linux x64 only; on ${process.platform} ${process.arch} Dawn uses the system's ` +
      'GPU API (Metal, D3D12): run `npx glm-asr doctor` to see what it finds');
    return 1;
  }
  if (driverChosenByEnv()) {
    say('VK_ICD_FILENAMES or VK_DRIVER_FILES is set, so a recorded driver would not be used: unset it and run again');
    return 1;
  }
  // Without the record (an empty cache folder), does the system already give an adapter?
  const empty = mkdtempSync(join(tmpdir(), 'glm-asr-setup-'));
  try {
    const system = probe({ XDG_CACHE_HOME: empty });
    if (system.adapter && !deb) {
      rmSync(driverRecordPath(), { force: true }); // a recorded CPU driver would hide this adapter
      say(`an adapter works without set-up: ${system.adapter.name}; nothing to install`);
      return 0;
    }
    const pkg = deb ?? downloadLavapipe(empty);
    const installed = installLavapipe(pkg, empty);
    const check = probe({ VK_ICD_FILENAMES: installed.icd });
    if (!check.adapter) {
      say(`Dawn found no adapter with lavapipe from ${pkg}. ${missingLibraries(installed.icd)}`);
      return 1;
    }
    writeFileSync(driverRecordPath(), JSON.stringify(installed, null, 2) + '\n');
    say(`installed ${installed.source} into ${driverCacheDir()} and recorded it in ${driverRecordPath()}`);
    say(`adapter: ${check.adapter.name}; later runs use it without any environment variable`);
    return 0;
  } catch (e) {
    say((e as Error).message);
    return 1;
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
}

function run(cmd: string, args: string[], cwd?: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (r.error) {
    throw new Error(`${cmd} is not available (${r.error.message}): pass a mesa-vulkan-drivers .deb with --deb FILE`);
  }
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.filter((a) => !a.includes('::')).join(' ')} failed: ${r.stderr.trim()}`);
  }
  return r.stdout;
}

/**
 * Downloads mesa-vulkan-drivers from Debian 12's backports (Mesa 25) into `dir` with apt-get and a private state
 * folder, so that neither root nor a change to the system's sources is needed. Returns the .deb's path.
 */
function downloadLavapipe(dir: string): string {
  const osRelease = existsSync('/etc/os-release') ? readFileSync('/etc/os-release', 'utf8') : '';
  const codename = /^VERSION_CODENAME=(.*)$/m.exec(osRelease)?.[1];
  // Debian 13 and later ship Mesa 24+ themselves; Debian 12's own Mesa 22 lavapipe is too old for Dawn.
  const suite = codename === 'bookworm' ? 'bookworm-backports' : codename;
  if (!suite) throw new Error('unknown Debian release (/etc/os-release): pass a mesa-vulkan-drivers .deb with --deb');
  const sources = ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list']
    .map((f) => (existsSync(f) ? readFileSync(f, 'utf8') : '')).join('\n');
  const mirror = /^URIs:\s*(\S+)/m.exec(sources)?.[1] ?? /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)/m.exec(sources)?.[1] ??
    'http://deb.debian.org/debian';
  const apt = join(dir, 'apt');
  mkdirSync(join(apt, 'lists', 'partial'), { recursive: true });
  mkdirSync(join(apt, 'cache', 'archives', 'partial'), { recursive: true });
  writeFileSync(join(apt, 'sources.list'),
    `deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${mirror} ${suite} main\n`);
  const opts = [
    '-q', '-o', `Dir::Etc::SourceList=${join(apt, 'sources.list')}`, '-o', `Dir::Etc::SourceParts=${join(apt, 'none')}`,
    '-o', `Dir::State::Lists=${join(apt, 'lists')}`, '-o', `Dir::Cache=${join(apt, 'cache')}`,
    '-o', 'Debug::NoLocking=1',
    // As root apt downloads as the user _apt, which cannot write into this private folder.
    ...(process.getuid?.() === 0 ? ['-o', 'APT::Sandbox::User=root'] : []),
  ];
  console.log(`glm-asr setup: downloading mesa-vulkan-drivers from ${mirror} ${suite}`);
  run('apt-get', [...opts, 'update']);
  run('apt-get', [...opts, 'download', `mesa-vulkan-drivers/${suite}`], dir);
  const file = readdirSync(dir).find((f) => /^mesa-vulkan-drivers_.*\.deb$/.test(f));
  if (!file) throw new Error('apt-get download gave no mesa-vulkan-drivers .deb');
  return join(dir, file);
}

/** Copies lavapipe out of the .deb into the cache folder and writes its ICD json. */
function installLavapipe(deb: string, scratch: string): RecordedDriver {
  if (!existsSync(deb)) throw new Error(`${deb} does not exist`);
  const version = run('dpkg-deb', ['-f', deb, 'Version']).trim();
  const x = join(scratch, 'x');
  run('dpkg-deb', ['-x', deb, x]);
  const libDir = join(x, 'usr', 'lib');
  const arch = existsSync(libDir)
    ? readdirSync(libDir).find((d) => existsSync(join(libDir, d, 'libvulkan_lvp.so')))
    : undefined;
  if (!arch) throw new Error(`${deb} holds no usr/lib/*/libvulkan_lvp.so: not a mesa-vulkan-drivers package`);
  const target = join(driverCacheDir(), 'lavapipe', version);
  mkdirSync(target, { recursive: true });
  const so = join(target, 'libvulkan_lvp.so');
  copyFileSync(join(libDir, arch, 'libvulkan_lvp.so'), so);
  const icd = join(target, 'lvp_icd.json');
  const json = { file_format_version: '1.0.0', ICD: { library_path: so, api_version: '1.4.305' } };
  writeFileSync(icd, JSON.stringify(json) + '\n');
  return { icd, source: `mesa-vulkan-drivers ${version}` };
}

/** The shared libraries lavapipe needs that this machine lacks (ldd), said as what to install. */
function missingLibraries(icd: string): string {
  const so = (JSON.parse(readFileSync(icd, 'utf8')) as { ICD: { library_path: string } }).ICD.library_path;
  const r = spawnSync('ldd', [so], { encoding: 'utf8' });
  const absent = (r.stdout ?? '').split('\n').filter((l) => l.includes('not found')).map((l) => l.trim().split(' ')[0]);
  return absent.length
    ? `lavapipe needs ${absent.join(', ')}, which this machine lacks (Debian: libLLVM-15.so.1 is in libllvm15)`
    : 'Run `npx glm-asr doctor` for details.';
}
