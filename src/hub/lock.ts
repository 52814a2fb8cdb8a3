/**
 * A simple cross-process lock file (Node only): created with O_EXCL, holding `{pid, host, time}`,
 * its mtime refreshed while held. A lock is stale (and taken over) when its mtime is older than
 * `staleMs`, or when it belongs to a process on this host that no longer exists.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface LockHandle {
  readonly path: string;
  release(): Promise<void>;
}

export interface LockOptions {
  /** A lock whose mtime is older than this is stale (default 10 minutes). */
  staleMs?: number;
  /** Poll interval while waiting (default 100 ms). */
  pollMs?: number;
  signal?: AbortSignal;
  /** Called while waiting; resolving `true` gives up waiting and makes `acquireLock` return `null`. */
  giveUp?: () => Promise<boolean>;
}

export const DEFAULT_LOCK_STALE_MS = 10 * 60_000;

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function isStale(lockPath: string, staleMs: number): Promise<boolean> {
  let st;
  try {
    st = await fsp.stat(lockPath);
  } catch {
    return false; // gone already: just retry the create
  }
  if (Date.now() - st.mtimeMs > staleMs) return true;
  try {
    const info = JSON.parse(await fsp.readFile(lockPath, 'utf8')) as { pid?: unknown; host?: unknown };
    if (info.host === os.hostname() && typeof info.pid === 'number' && !processAlive(info.pid)) return true;
  } catch {
    // being written right now, or not ours: rely on the mtime
  }
  return false;
}

/** Acquire `lockPath`, waiting while another live holder has it; `null` when `giveUp` said so. */
export async function acquireLock(lockPath: string, opts: LockOptions = {}): Promise<LockHandle | null> {
  const staleMs = opts.staleMs ?? DEFAULT_LOCK_STALE_MS;
  const pollMs = opts.pollMs ?? 100;
  await fsp.mkdir(path.dirname(lockPath), { recursive: true });
  for (;;) {
    opts.signal?.throwIfAborted();
    try {
      const fh = await fsp.open(lockPath, 'wx');
      try {
        await fh.writeFile(JSON.stringify({ pid: process.pid, host: os.hostname(), time: new Date().toISOString() }));
      } finally {
        await fh.close();
      }
      return holdLock(lockPath, staleMs);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (await isStale(lockPath, staleMs)) {
      await fsp.rm(lockPath, { force: true });
      continue;
    }
    if (opts.giveUp && (await opts.giveUp())) return null;
    await sleep(pollMs, opts.signal);
  }
}

function holdLock(lockPath: string, staleMs: number): LockHandle {
  // Refresh the mtime well within the stale window so long downloads keep their lock.
  const beat = setInterval(
    () => {
      const now = new Date();
      fsp.utimes(lockPath, now, now).catch(() => {});
    },
    Math.max(250, Math.floor(staleMs / 4)),
  );
  beat.unref();
  let released = false;
  return {
    path: lockPath,
    async release() {
      if (released) return;
      released = true;
      clearInterval(beat);
      await fsp.rm(lockPath, { force: true });
    },
  };
}
