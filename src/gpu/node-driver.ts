/**
 * The CPU Vulkan driver that `glm-asr setup` installs for Node on a Linux machine without a GPU driver: Mesa's
 * lavapipe, copied into the user's cache folder and recorded there in `driver.json`, so that later runs (the CLI
 * and `Gpu.create`) find it without any environment variable. Dawn's Vulkan loader reads VK_ICD_FILENAMES once,
 * when Dawn starts, so `useRecordedDriver` runs just before Dawn is loaded (gpu/device.ts).
 *
 * Node only; `fs` and `path` are reached through `process.getBuiltinModule`, so browser bundles import nothing
 * from Node.
 */

/** What `glm-asr setup` wrote to `driver.json`. */
export interface RecordedDriver {
  /** The Vulkan ICD json that names the driver library. */
  icd: string;
  /** Where the driver came from, e.g. `mesa-vulkan-drivers 25.0.7-2~bpo12+1 (bookworm-backports)`. */
  source: string;
}

type Env = Record<string, string | undefined>;

/** The folder `glm-asr setup` installs into: `$XDG_CACHE_HOME/glm-asr`, by default `~/.cache/glm-asr`. */
export function driverCacheDir(env: Env = process.env): string {
  const path = process.getBuiltinModule('node:path');
  const base = env.XDG_CACHE_HOME || path.join(process.getBuiltinModule('node:os').homedir(), '.cache');
  return path.join(base, 'glm-asr');
}

export function driverRecordPath(env: Env = process.env): string {
  return process.getBuiltinModule('node:path').join(driverCacheDir(env), 'driver.json');
}

/** The recorded driver, or null when none was recorded (or the record is unreadable). */
export function readRecordedDriver(env: Env = process.env): RecordedDriver | null {
  try {
    const text = process.getBuiltinModule('node:fs').readFileSync(driverRecordPath(env), 'utf8');
    const r = JSON.parse(text) as RecordedDriver;
    return typeof r.icd === 'string' && typeof r.source === 'string' ? r : null;
  } catch {
    return null;
  }
}

/** True when the user already chose Vulkan drivers through the loader's own variables. */
export function driverChosenByEnv(env: Env = process.env): boolean {
  return !!(env.VK_ICD_FILENAMES || env.VK_DRIVER_FILES);
}

/**
 * Points the Vulkan loader at the recorded driver (sets VK_ICD_FILENAMES) unless the user chose drivers in the
 * environment or nothing usable was recorded. Returns the ICD json it chose, or null.
 */
export function useRecordedDriver(env: Env = process.env): string | null {
  if (driverChosenByEnv(env)) return null;
  const r = readRecordedDriver(env);
  const fs = process.getBuiltinModule('node:fs');
  if (!r || !fs.existsSync(r.icd)) return null;
  env.VK_ICD_FILENAMES = r.icd;
  if (!env.XDG_RUNTIME_DIR) {
    // Without it lavapipe prints "XDG_RUNTIME_DIR is invalid" on every start; a private folder silences it.
    const dir = process.getBuiltinModule('node:path').join(driverCacheDir(env), 'runtime');
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    env.XDG_RUNTIME_DIR = dir;
  }
  return r.icd;
}
