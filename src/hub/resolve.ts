/**
 * Turn a `--model` argument into a local folder (Node only): an existing folder as-is, or a hub
 * repo id `org/name[@revision]` resolved through the hub cache (downloading what is missing).
 */
import { existsSync, promises as fsp, realpathSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { isValidRepoId } from './cache';
import { downloadModel, type DownloadOptions } from './download';
import { HubError } from './errors';

export interface RepoSpec {
  repoId: string;
  /** Present when the spec had `@revision`. */
  revision?: string;
}

/**
 * `org/name` or `org/name@revision` (a branch, tag such as `v1.0` or `refs/pr/3`, or a commit hash),
 * else `undefined`. A legacy single-segment repo id is not accepted here: it would be ambiguous
 * with a folder name.
 */
export function parseRepoSpec(spec: string): RepoSpec | undefined {
  const at = spec.indexOf('@');
  const repoId = at < 0 ? spec : spec.slice(0, at);
  const revision = at < 0 ? undefined : spec.slice(at + 1);
  if (!repoId.includes('/') || !isValidRepoId(repoId)) return undefined;
  if (revision !== undefined && revision === '') return undefined;
  return revision === undefined ? { repoId } : { repoId, revision };
}

export type ResolveOptions = Omit<DownloadOptions, 'revision'>;

/** `--model demo`: the small trained model shipped in the package (closed vocabulary; docs/demo-model.md). */
export const DEMO_MODEL = 'demo';

/** What every surface says when the demo model is selected (CLI, server log, `GlmAsr.notice`). */
export const DEMO_NOTICE = 'this is the demo model: a small GLM-ASR-architecture model trained on synthetic English ' +
  'speech for a closed vocabulary (digit strings, numbers, 20 spoken commands); it is not a general-purpose ' +
  'recogniser (docs/demo-model.md)';

/** True when `dir` is the package's demo model folder. */
export function isDemoModelFolder(dir: string): boolean {
  try {
    return realpathSync(dir) === realpathSync(demoModelFolder());
  } catch {
    return false;
  }
}

/** The package's models/demo folder, found upwards from this module (src/hub in a checkout, dist/ when built). */
export function demoModelFolder(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++, dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'models', 'demo');
    if (existsSync(path.join(candidate, 'config.json'))) return candidate;
  }
  throw new HubError('invalid-argument', 'the demo model (models/demo) is not part of this installation');
}

/**
 * A local folder holding the model:
 * - `spec` names an existing folder → that folder (absolute);
 * - `spec` is `org/name[@revision]` → the hub cache snapshot, downloading what it lacks (the cache
 *   alone when offline; see `downloadModel`).
 * - `spec` is `demo` → the demo model shipped in the package.
 * A folder wins over a repo id (or `demo`) of the same spelling.
 */
export async function resolveModelSource(spec: string, options: ResolveOptions = {}): Promise<string> {
  const s = spec.trim();
  if (!s) throw new HubError('invalid-argument', 'empty model source: give a folder or a Hugging ' +
    'Face repo id (org/name)');
  try {
    const st = await fsp.stat(s);
    if (st.isDirectory()) return path.resolve(s);
    throw new HubError('invalid-argument', `model source ${s} is a file; give the folder that holds the model files`);
  } catch (e) {
    if (e instanceof HubError) throw e;
    // not on disk: maybe a repo id
  }
  if (s === DEMO_MODEL) return demoModelFolder();
  const looksLikePath = /^(\.{1,2}|~)?[\\/]/.test(s) || /^[a-zA-Z]:[\\/]/.test(s) || s.startsWith('.');
  const repo = looksLikePath ? undefined : parseRepoSpec(s);
  if (!repo) {
    throw new HubError(
      'invalid-argument',
      `model source "${s}" is neither an existing folder nor a Hugging Face repo id (org/name or org/name@revision)`,
    );
  }
  return downloadModel(repo.repoId, { ...options, revision: repo.revision });
}
